"""Lookups per due post on the open platforms: Bluesky, Mastodon and YouTube.

    .venv/bin/python -m bench.open_platforms --engine sqlite --accounts 10 --posts 50
    .venv/bin/python -m bench.open_platforms --engine postgresql --append

For each platform, ``--accounts`` live integrations (in two workspaces, one Mastodon
instance) are connected to accounts of that platform's fake, each with ``--posts`` posts
published in the last 24 hours. A sweep (``refresh.runner.sweep``: the real discovery path)
imports them and writes their first readings. Then, 31 minutes later, every one of them is
due: the planner's batches are captured (``capture_batch``) through each fake in-process,
and the metrics requests each fake logged are counted (``app.bsky.feed.getPosts``,
``GET /api/v1/statuses?id[]=``, ``videos.list``). The expected figure is 1 / batch size
(25, 20, 50): batches span integrations and workspaces that share a credential.

Nothing about speed is measured or asserted. ``--append`` adds the "Open platforms"
section to ``bench/RESULTS.md`` (only that section; the rest is other benchmarks').
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, locate
from bench.machine import code_measured
from bench.sections import write_section
from bench.stats import table
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import runner
from openpost.refresh.capture import capture_batch
from openpost.refresh.models import PlatformState
from openpost.refresh.runner import Runtime
from openpost.workspaces.service import create_workspace

HEADING = "## Open platforms"
START, END = "<!-- open-platforms:start -->", "<!-- open-platforms:end -->"
NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
# The fakes are reached in-process; these hosts are never resolved.
MASTODON_DOMAIN = "mastodon.example"


@dataclass
class Figure:
    platform: str
    endpoint: str
    batch_size: int
    due: int
    captured: int
    requests: int
    units_counted: int | None = None  # YouTube: quota units the service counted today
    units_charged: int | None = None  # ... and what the API charged (the fake's meter)

    @property
    def per_post(self) -> float:
        return self.requests / self.captured if self.captured else 0.0


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def _settings(url: str) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        bluesky_api_base_url="http://127.0.0.1:9",
        mastodon_api_base_url="http://127.0.0.1:9",
        mastodon_allow_private_addresses=True,
        youtube_api_base_url="http://127.0.0.1:9/youtube/v3",
        youtube_api_key=DEFAULT_API_KEY,
    )


def _integration(workspace_id: uuid.UUID, platform: str, external: str, username: str) -> Any:
    return Integration(
        workspace_id=workspace_id,
        platform=platform,
        external_account_id=external,
        username=username,
        display_name=username,
        status="active",
        synthetic=False,
        analytics_enabled=True,
        created_at=NOW,
    )


def run(
    engine_name: str, accounts: int, posts: int, *, work_dir: Path, pg_url: str
) -> list[Figure]:
    if not 1 <= posts <= 50:
        raise SystemExit("--posts must be 1 to 50 (YouTube's discovery cap)")
    db = locate(
        engine_name,
        0,
        work_dir=work_dir,
        pg_server_url=pg_url,
        name="open-platforms" if engine_name == "sqlite" else "openpost_bench_open_platforms",
    )
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    source = _Clock()
    clock.set_clock(source)
    try:
        bluesky = FakeBluesky()
        mastodon = FakeMastodon(domain=MASTODON_DOMAIN, version="4.5.0")
        youtube = FakeYouTube(daily_quota=1_000_000)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            workspaces = [create_workspace(session, f"Open {n}").id for n in range(2)]
            for n in range(accounts):
                wid = workspaces[n % 2]
                actor = bluesky.add_account(f"acct{n}.bsky.social")
                account = mastodon.add_account(f"acct{n}")
                channel = youtube.add_channel(f"acct{n}")
                for k in range(posts):
                    at = NOW - timedelta(minutes=20 * k + 5)
                    bluesky.add_post(actor, created_at=at, likes=k, reposts=1)
                    mastodon.add_status(account, created_at=at, favourites=k, reblogs=1)
                    youtube.add_video(channel, published_at=at, views=100 + k, likes=k)
                session.add_all(
                    [
                        _integration(wid, "bluesky", actor.did, actor.handle),
                        _integration(
                            wid, "mastodon", account.id, f"{account.username}@{MASTODON_DOMAIN}"
                        ),
                        _integration(wid, "youtube", channel.id, f"acct{n}"),
                    ]
                )
        # each platform's metrics endpoint, as its fake's request log names it
        endpoints = {
            "bluesky": "app.bsky.feed.getPosts",
            "mastodon": "statuses",
            "youtube": "videos.list",
        }
        counters: dict[str, Callable[[], int]] = {
            "bluesky": lambda: len(bluesky.calls(endpoints["bluesky"])),
            "mastodon": lambda: len(mastodon.calls("statuses")),
            "youtube": lambda: len(youtube.calls("videos.list")),
        }
        rt = Runtime.from_settings(
            _settings(db.url),
            factory=factory,
            transports={
                "bluesky": bluesky.transport(),
                "mastodon": mastodon.transport(),
                "youtube": youtube.transport(),
            },
        )
        try:
            discovered = runner.sweep(rt, NOW)  # imports every post with its first reading
            if discovered.discovered != 3 * accounts * posts:
                raise SystemExit(f"discovery imported {discovered.discovered} posts")
            before = {name: count() for name, count in counters.items()}
            source.at = NOW + timedelta(minutes=31)  # every post is under 24 h: all due
            _, batches = runner.plan_captures(rt, source.at)
            captured: dict[str, int] = {}
            for batch in batches:
                capture_batch(rt.factory, rt.clients, rt.policy, batch)
                captured[batch.platform] = captured.get(batch.platform, 0) + len(batch.targets)
            figures = []
            for name, count in counters.items():
                figures.append(
                    Figure(
                        platform=name,
                        endpoint=endpoints[name],
                        batch_size=rt.clients.batch_size(name, synthetic=False),
                        due=accounts * posts,
                        captured=captured.get(name, 0),
                        requests=count() - before[name],
                    )
                )
            with transaction(factory) as session:
                row = session.get(PlatformState, "youtube")
                counted = row.reads_today if row is not None else 0
            spent = next(f for f in figures if f.platform == "youtube")
            spent.units_counted, spent.units_charged = counted, youtube.quota_used
        finally:
            rt.close()
    finally:
        clock.set_clock(None)
        engine.dispose()
        db.drop()
    return figures


def render(engine_name: str, accounts: int, posts: int, figures: list[Figure]) -> str:
    rows = [
        [
            f.platform,
            f"`{f.endpoint}`",
            f"{f.captured:,} / {f.due:,}",
            f"{f.requests:,}",
            f"{f.per_post:.4f}",
            f"{1 / f.batch_size:.4f} (1/{f.batch_size}; ⌈N/{f.batch_size}⌉ = "
            f"{math.ceil(f.captured / f.batch_size)})",
        ]
        for f in figures
    ]
    quota = [
        f"YouTube quota units spent in this run (discovery and reads; the integrations were "
        f"inserted directly, so no connect lookups): counted by the service against the "
        f"day's budget {f.units_counted:,}, charged by the API {f.units_charged:,}."
        for f in figures
        if f.units_counted is not None and f.units_charged is not None
    ]
    exact = all(
        f.captured == f.due and f.requests == math.ceil(f.captured / f.batch_size) for f in figures
    )
    verdict = (
        "Every due post was read, each platform in exactly ⌈N/batch⌉ requests: batches span "
        "the integrations of both workspaces (one credential key per platform; one Mastodon "
        "instance)."
        if exact
        else "Not every platform met ⌈N/batch⌉ requests for all due posts: see the table."
    )
    quota.append(verdict)
    return (
        f"### {engine_name}: {accounts} accounts x {posts} due posts per platform\n\n"
        + table(
            ["platform", "metrics request", "captured / due", "requests", "per post", "expected"],
            rows,
        )
        + "".join(f"\n\n{line}" for line in quota)
        + f"\n\ncode {code_measured()}."
    )


def append(records: list[str], command: str) -> None:
    """Write our section of RESULTS.md (``bench.sections``)."""
    write_section(
        HEADING,
        START,
        END,
        "Metrics requests per due post on Bluesky, Mastodon and YouTube, counted in each "
        "fake's request log (`bench/open_platforms.py`, whose docstring describes the case); "
        "no timing.\n\n"
        f"```sh\n{command}\n```\n\n" + "\n\n".join(records),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.open_platforms", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--append", action="store_true", help="write the Open platforms section")
    args = parser.parse_args(argv)
    records = []
    for engine_name in args.engine or ["sqlite"]:
        figures = run(
            engine_name, args.accounts, args.posts, work_dir=args.work_dir, pg_url=args.pg_url
        )
        record = render(engine_name, args.accounts, args.posts, figures)
        print(record)
        records.append(record)
    if args.append:
        command = ".venv/bin/python -m bench.open_platforms " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        append(records, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
