"""Account reads per connected account per day (SPEC §9.4), counted on the fakes.

    .venv/bin/python -m bench.accounts --engine sqlite --accounts 120 --days 3
    .venv/bin/python -m bench.accounts --engine postgresql --append

For X, Bluesky, YouTube and Mastodon, ``--accounts`` live integrations (split over two
workspaces; one Mastodon instance) are connected to accounts of that platform's fake. Then
``--days`` daily passes run (``refresh.runner.sweep``: the real collection path, discovery
held back so only account reads are counted), each a day after the one before, and the
account-endpoint requests each fake logged are counted: X ``GET /2/users?ids=``, Bluesky
``app.bsky.actor.getProfiles``, YouTube ``channels.list``, Mastodon
``GET /api/v1/accounts/:id``. The expected figure is ⌈N/batch⌉ requests a day (batch 100,
25, 50, 1): batches span the integrations of both workspaces that share a credential.

Nothing about speed is measured. ``--append`` writes the "Account reads" section of
``bench/RESULTS.md`` (only that section).
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

from sqlalchemy import func, select

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, locate
from bench.machine import code_measured
from bench.sections import write_section
from bench.stats import table
from openpost.accounts.models import AccountSnapshot
from openpost.config import Settings
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.platforms.bluesky.fake import FakeBluesky
from openpost.platforms.mastodon.fake import FakeMastodon
from openpost.platforms.x.fake import DEFAULT_APP_TOKEN, FakeX
from openpost.platforms.youtube.fake import DEFAULT_API_KEY, FakeYouTube
from openpost.refresh import runner
from openpost.refresh.account_reads import account_batch_size
from openpost.refresh.models import DiscoveryState
from openpost.refresh.runner import Runtime
from openpost.workspaces.service import create_workspace

HEADING = "## Account reads"
START, END = "<!-- account-reads:start -->", "<!-- account-reads:end -->"
NOW = datetime(2026, 4, 16, 6, 0, 0, tzinfo=UTC)
MASTODON_DOMAIN = "mastodon.example"
PLATFORMS = ("twitter", "bluesky", "youtube", "mastodon")


@dataclass
class Figure:
    platform: str
    endpoint: str
    batch_size: int
    accounts: int
    days: int
    requests: int
    snapshots: int

    @property
    def expected(self) -> int:
        return self.days * math.ceil(self.accounts / self.batch_size)

    @property
    def per_account_day(self) -> float:
        return self.requests / (self.accounts * self.days) if self.accounts else 0.0


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def _settings(url: str) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        x_bearer_token=DEFAULT_APP_TOKEN,
        x_api_base_url="http://127.0.0.1:9",
        bluesky_api_base_url="http://127.0.0.1:9",
        mastodon_api_base_url="http://127.0.0.1:9",
        mastodon_allow_private_addresses=True,
        youtube_api_base_url="http://127.0.0.1:9/youtube/v3",
        youtube_api_key=DEFAULT_API_KEY,
    )


def _integration(workspace_id: uuid.UUID, platform: str, external: str, username: str) -> Any:
    return Integration(
        id=uuid.uuid4(),
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


def run(engine_name: str, accounts: int, days: int, *, work_dir: Path, pg_url: str) -> list[Figure]:
    db = locate(
        engine_name,
        0,
        work_dir=work_dir,
        pg_server_url=pg_url,
        name="account-reads" if engine_name == "sqlite" else "openpost_bench_account_reads",
    )
    db.create_empty()
    engine = make_engine(db.url)
    upgrade(engine)
    source = _Clock()
    clock.set_clock(source)
    try:
        x = FakeX(app_token=DEFAULT_APP_TOKEN)
        bluesky = FakeBluesky()
        mastodon = FakeMastodon(domain=MASTODON_DOMAIN, version="4.5.0")
        youtube = FakeYouTube(daily_quota=1_000_000)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            workspaces = [create_workspace(session, f"Accounts {n}").id for n in range(2)]
            made = []
            for n in range(accounts):
                wid = workspaces[n % 2]
                user = x.add_account(f"acct{n}")
                x.set_account_counts(user, followers_count=1000 + n)
                actor = bluesky.add_account(f"acct{n}.bsky.social")
                account = mastodon.add_account(f"acct{n}")
                channel = youtube.add_channel(f"acct{n}")
                made += [
                    _integration(wid, "twitter", user.id, user.username),
                    _integration(wid, "bluesky", actor.did, actor.handle),
                    _integration(
                        wid, "mastodon", account.id, f"{account.username}@{MASTODON_DOMAIN}"
                    ),
                    _integration(wid, "youtube", channel.id, f"acct{n}"),
                ]
            session.add_all(made)
            session.flush()
            # Discovery held back for the whole run: only account reads are counted.
            session.add_all(
                DiscoveryState(
                    integration_id=i.id,
                    workspace_id=i.workspace_id,
                    next_due_at=NOW + timedelta(days=days + 30),
                    outcome="ok",
                    consecutive_failures=0,
                    discovered=0,
                )
                for i in made
            )
        endpoints = {
            "twitter": ("GET /2/users?ids=", lambda: len(x.calls("users_lookup"))),
            "bluesky": (
                "app.bsky.actor.getProfiles",
                lambda: len(bluesky.calls("app.bsky.actor.getProfiles")),
            ),
            "youtube": ("channels.list", lambda: len(youtube.calls("channels.list"))),
            "mastodon": ("GET /api/v1/accounts/:id", lambda: len(mastodon.calls("account"))),
        }
        counters: dict[str, Callable[[], int]] = {p: e[1] for p, e in endpoints.items()}
        rt = Runtime.from_settings(
            _settings(db.url),
            factory=factory,
            transports={
                "twitter": x.transport(),
                "bluesky": bluesky.transport(),
                "mastodon": mastodon.transport(),
                "youtube": youtube.transport(),
            },
        )
        try:
            for day in range(days):
                source.at = NOW + timedelta(days=day, minutes=1)
                runner.sweep(rt, source.at)
            with transaction(factory) as session:
                written = dict(
                    session.execute(
                        select(Integration.platform, func.count())
                        .join(AccountSnapshot, AccountSnapshot.integration_id == Integration.id)
                        .group_by(Integration.platform)
                    ).all()
                )
            figures = [
                Figure(
                    platform=p,
                    endpoint=endpoints[p][0],
                    batch_size=account_batch_size(rt.clients, p, False) or 1,
                    accounts=accounts,
                    days=days,
                    requests=counters[p](),
                    snapshots=written.get(p, 0),
                )
                for p in PLATFORMS
            ]
        finally:
            rt.close()
    finally:
        clock.set_clock(None)
        engine.dispose()
        db.drop()
    return figures


def render(engine_name: str, accounts: int, days: int, figures: list[Figure]) -> str:
    rows = [
        [
            f.platform,
            f"`{f.endpoint}`",
            f"{f.snapshots:,} / {f.accounts * f.days:,}",
            f"{f.requests:,}",
            f"{f.per_account_day:.4f}",
            f"{f.expected / (f.accounts * f.days):.4f} ({f.days} x ⌈{f.accounts}/{f.batch_size}⌉"
            f" = {f.expected:,})",
        ]
        for f in figures
    ]
    exact = all(f.requests == f.expected and f.snapshots == f.accounts * f.days for f in figures)
    verdict = (
        "Every account was read once a day, each platform in exactly ⌈N/batch⌉ requests a day."
        if exact
        else "Not every platform met ⌈N/batch⌉ requests a day for all accounts: see the table."
    )
    return (
        f"### {engine_name}: {accounts} accounts per platform x {days} days\n\n"
        + table(
            [
                "platform",
                "account request",
                "snapshots / account-days",
                "requests",
                "per account per day",
                "expected",
            ],
            rows,
        )
        + f"\n\n{verdict}\n\ncode {code_measured()}."
    )


def append(records: list[str], command: str) -> None:
    write_section(
        HEADING,
        START,
        END,
        "Account reads per connected account per day, counted in each fake's request log "
        "(`bench/accounts.py`, whose docstring describes the case); no timing.\n\n"
        f"```sh\n{command}\n```\n\n" + "\n\n".join(records),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accounts", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--accounts", type=int, default=120)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--append", action="store_true", help="write the Account reads section")
    args = parser.parse_args(argv)
    records = []
    for engine_name in args.engine or ["sqlite"]:
        figures = run(
            engine_name, args.accounts, args.days, work_dir=args.work_dir, pg_url=args.pg_url
        )
        record = render(engine_name, args.accounts, args.days, figures)
        print(record)
        records.append(record)
    if args.append:
        command = ".venv/bin/python -m bench.accounts " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        append(records, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
