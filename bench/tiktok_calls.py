"""Requests per due post on TikTok: measured against the fake, beside ⌈N/20⌉.

    .venv/bin/python -m bench.tiktok_calls
    .venv/bin/python -m bench.tiktok_calls --engine postgresql --n 1 20 21 250 --append

TikTok's ``POST /v2/video/query/`` reads at most 20 videos per request, with the account
owner's token (so batches never span accounts). For each N of ``--n``:

- **client**: N videos on the fake; ``TikTokClient.fetch_metrics`` over the N ids in chunks
  of its batch size; the ``video_query`` requests in the fake's log are counted.
- **service**: one live integration connected with the owner's (sealed) tokens, N videos
  published in the last 24 hours; a sweep (``refresh.runner.sweep``) discovers them and
  writes their first readings; 31 minutes later every one is due, the planner's batches
  are captured (``capture_batch``) through the fake in-process, and the ``video_query``
  requests it logged are counted.

The expected figure is ⌈N/20⌉ requests per N due posts. Nothing about speed is measured.
``--append`` writes the "TikTok" section of ``bench/RESULTS.md`` (only that section).
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.database import DEFAULT_PG_SERVER, DEFAULT_WORK_DIR, locate
from bench.machine import code_measured
from bench.sections import write_section
from bench.stats import table
from openpost.config import Settings
from openpost.consent.tokens import owner_credentials
from openpost.core import clock
from openpost.core.crypto import Sealer
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.core.migrate import upgrade
from openpost.integrations.models import Integration
from openpost.platforms.consent import token_set
from openpost.platforms.tiktok.client import TikTokClient
from openpost.platforms.tiktok.fake import FakeTikTok, FakeUser
from openpost.platforms.tiktok.oauth import CONSENT, SCOPES
from openpost.refresh import runner
from openpost.refresh.capture import capture_batch
from openpost.refresh.runner import Runtime
from openpost.workspaces.service import create_workspace

HEADING = "## TikTok"
START, END = "<!-- tiktok-calls:start -->", "<!-- tiktok-calls:end -->"
NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
KEY, SECRET = "bench-tiktok-key", "bench-tiktok-secret"
BASE = "http://127.0.0.1:9"  # the fake is reached in-process; never resolved
DEFAULT_NS = (1, 19, 20, 21, 40, 45, 100, 250)


@dataclass
class Figure:
    n: int
    client_calls: int
    service_due: int
    service_captured: int
    service_calls: int

    @property
    def expected(self) -> int:
        return math.ceil(self.n / TikTokClient.batch_size)

    @property
    def exact(self) -> bool:
        return (
            self.client_calls == self.expected
            and self.service_captured == self.n
            and self.service_calls == self.expected
        )


class _Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def _videos(fake: FakeTikTok, user: FakeUser, n: int) -> list[str]:
    # one every 4 minutes: 300 videos still fit in the last 24 hours (all due together)
    return [
        fake.add_video(user, created_at=NOW - timedelta(minutes=4 * k + 2), views=100 + k).id
        for k in range(n)
    ]


def client_calls(n: int) -> int:
    """Read N ids through the client in batch-size chunks; the fake's request count."""
    fake = FakeTikTok(now=lambda: NOW)
    user = fake.add_user("bench")
    ids = _videos(fake, user, n)
    issued = fake.issue_tokens(user, client_key=KEY, scope=",".join(SCOPES))
    credentials = {"access_token": issued["access_token"]}
    with TikTokClient(base_url=BASE, transport=fake.transport()) as client:
        read = 0
        for start in range(0, n, client.batch_size):
            result = client.fetch_metrics(
                ids[start : start + client.batch_size], credentials=credentials
            )
            read += len(result.readings)
    if read != n:
        raise SystemExit(f"the client read {read} of {n} videos")
    return len(fake.calls("video_query"))


def service_calls(n: int, url: str) -> tuple[int, int, int]:
    """(due, captured, video_query requests) for N due posts of one owner-connected account."""
    engine = make_engine(url)
    upgrade(engine)
    source = _Clock()
    clock.set_clock(source)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="bench-secret-key-0123456789",  # noqa: S106 - a throwaway bench key
        tiktok_client_id=KEY,
        tiktok_client_secret=SECRET,
        tiktok_api_base_url=BASE,
        tiktok_max_posts_per_discovery=max(n, 1),
    )
    try:
        fake = FakeTikTok()
        user = fake.add_user("bench")
        fake.add_oauth_client(KEY, SECRET, "https://bench.example/integrations/tiktok/callback")
        _videos(fake, user, n)
        issued = fake.issue_tokens(user, client_key=KEY, scope=",".join(SCOPES))
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            workspace = create_workspace(session, "TikTok bench")
            integration = Integration(
                workspace_id=workspace.id,
                platform=CONSENT.platform,
                external_account_id=user.open_id,
                username=user.username,
                display_name=user.display_name,
                status="active",
                synthetic=False,
                analytics_enabled=True,
                created_at=NOW,
            )
            session.add(integration)
            session.flush()
            credentials = {
                **owner_credentials(CONSENT, token_set(issued, NOW)),
                "integration_id": str(integration.id),
            }
            integration.credentials_encrypted = Sealer.from_settings(settings).seal(credentials)
        rt = Runtime.from_settings(
            settings, factory=factory, transports={"tiktok": fake.transport()}
        )
        try:
            discovered = runner.sweep(rt, NOW)
            if discovered.discovered != n:
                raise SystemExit(f"discovery imported {discovered.discovered} of {n} videos")
            before = len(fake.calls("video_query"))
            source.at = NOW + timedelta(minutes=31)  # every video is under 24 h: all due
            _, batches = runner.plan_captures(rt, source.at)
            captured = 0
            for batch in batches:
                capture_batch(rt.factory, rt.clients, rt.policy, batch)
                captured += len(batch.targets)
            return n, captured, len(fake.calls("video_query")) - before
        finally:
            rt.close()
    finally:
        clock.set_clock(None)
        engine.dispose()


def run(engine_name: str, ns: list[int], *, work_dir: Path, pg_url: str) -> list[Figure]:
    figures = []
    for n in ns:
        db = locate(
            engine_name,
            n,
            work_dir=work_dir,
            pg_server_url=pg_url,
            name=f"tiktok-calls-{n}" if engine_name == "sqlite" else f"openpost_bench_tiktok_{n}",
        )
        db.create_empty()
        try:
            due, captured, calls = service_calls(n, db.url)
        finally:
            db.drop()
        figures.append(Figure(n, client_calls(n), due, captured, calls))
    return figures


def render(engine_name: str, figures: list[Figure]) -> str:
    rows = [
        [
            f"{f.n:,}",
            f"{f.client_calls:,}",
            f"{f.service_captured:,} / {f.service_due:,}",
            f"{f.service_calls:,}",
            f"⌈{f.n}/20⌉ = {f.expected:,}",
            f"{f.service_calls / f.service_captured:.4f}" if f.service_captured else "-",
        ]
        for f in figures
    ]
    verdict = (
        "Every N: the client and the service each sent exactly ⌈N/20⌉ `video/query` requests, "
        "and the service read every due post."
        if all(f.exact for f in figures)
        else "Not every N met ⌈N/20⌉: see the table."
    )
    return (
        f"### {engine_name}: one owner-connected account, N due posts\n\n"
        + table(
            [
                "N",
                "client requests",
                "service captured / due",
                "service requests",
                "formula",
                "per post",
            ],
            rows,
        )
        + f"\n\n{verdict}\n\ncode {code_measured()}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tiktok_calls", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--n", type=int, nargs="+", default=list(DEFAULT_NS))
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--pg-url", default=DEFAULT_PG_SERVER)
    parser.add_argument("--append", action="store_true", help="write the TikTok section")
    args = parser.parse_args(argv)
    if any(not 1 <= n <= 300 for n in args.n):
        raise SystemExit("--n values must be 1 to 300 (all published within the last day)")
    records = []
    for engine_name in args.engine or ["sqlite"]:
        figures = run(engine_name, args.n, work_dir=args.work_dir, pg_url=args.pg_url)
        record = render(engine_name, figures)
        print(record)
        records.append(record)
    if args.append:
        command = ".venv/bin/python -m bench.tiktok_calls " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        write_section(
            HEADING,
            START,
            END,
            "Metrics requests per due post on TikTok (`bench/tiktok_calls.py`, whose docstring "
            "describes the case), counted in the fake's request log; no timing.\n\n"
            f"```sh\n{command}\n```\n\n" + "\n\n".join(records),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
