"""What a collecting process holds (``Runtime``), one scheduler pass (``tick``) and the
synchronous sweep behind ``openpost refresh --once`` (``sweep``).

A pass plans and claims in a committed transaction and only then hands the jobs out, so a
job never refers to rows its worker cannot see (SPEC: jobs are enqueued after their rows
commit).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openpost.config import Settings
from openpost.consent.tokens import OwnerTokens
from openpost.core import clock
from openpost.core.db import make_engine, make_sessionmaker, transaction
from openpost.platforms.registry import Clients
from openpost.refresh import account_capture, account_reads, discovery, planner
from openpost.refresh.account_reads import AccountJob
from openpost.refresh.capture import capture_batch
from openpost.refresh.discovery import DiscoveryJob
from openpost.refresh.planner import Batch, Plan
from openpost.refresh.policy import CollectionPolicy


@dataclass
class Runtime:
    settings: Settings
    factory: sessionmaker[Session]
    clients: Clients
    policy: CollectionPolicy
    engine: Engine | None = None  # owned (disposed by ``close``) when built here

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        factory: sessionmaker[Session] | None = None,
        transports: Mapping[str, httpx.BaseTransport] | None = None,
    ) -> Runtime:
        engine = None
        if factory is None:
            engine = make_engine(settings.effective_database_url)
            factory = make_sessionmaker(engine)
        return cls(
            settings=settings,
            factory=factory,
            clients=Clients(
                settings,
                transports=transports,
                user_tokens=OwnerTokens(factory, settings, transports=transports),
            ),
            policy=CollectionPolicy.from_settings(settings),
            engine=engine,
        )

    def close(self) -> None:
        self.clients.close()
        if self.engine is not None:
            self.engine.dispose()


@dataclass
class Jobs:
    discoveries: list[DiscoveryJob] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    accounts: list[AccountJob] = field(default_factory=list)


def plan_discoveries(
    rt: Runtime, now: datetime, workspace_id: uuid.UUID | None = None
) -> list[DiscoveryJob]:
    with transaction(rt.factory) as session:
        discovery.adopt(session, now, workspace_id)
        candidates = discovery.due(session, rt.clients, now, workspace_id=workspace_id)
        return discovery.claim(session, candidates, now=now, lease_until=now + rt.policy.lease)


def plan_captures(
    rt: Runtime, now: datetime, workspace_id: uuid.UUID | None = None
) -> tuple[Plan, list[Batch]]:
    with transaction(rt.factory) as session:
        result = planner.plan(
            session, rt.settings, rt.policy, rt.clients, now, workspace_id=workspace_id
        )
        batches = planner.claim(session, result, lease_until=now + rt.policy.lease)
    return result, batches


def plan_account_reads(
    rt: Runtime, now: datetime, workspace_id: uuid.UUID | None = None
) -> list[AccountJob]:
    """Due account reads (SPEC §9.4), planned after the posts' so that the daily budgets
    they see include what the post batches spend."""
    with transaction(rt.factory) as session:
        account_reads.adopt(session, now, workspace_id)
        result = account_reads.plan(session, rt.clients, now, workspace_id=workspace_id)
        return account_reads.claim(session, result, lease_until=now + rt.policy.lease)


def tick(rt: Runtime, now: datetime) -> Jobs:
    """One scheduler pass: claim due discoveries, due targets and due account reads; the
    jobs to queue."""
    discoveries = plan_discoveries(rt, now)
    _, batches = plan_captures(rt, now)
    accounts = plan_account_reads(rt, now)
    return Jobs(discoveries=discoveries, batches=batches, accounts=accounts)


@dataclass
class SweepSummary:
    now: datetime
    dry_run: bool
    discoveries: int = 0
    discovered: int = 0
    batches: int = 0
    requests: int = 0  # metric reads' requests (every one: a fallback's per-post reads too)
    discovery_requests: int = 0
    discovery_held: int = 0  # discoveries a pause recorded during the sweep held back
    account_reads: int = 0  # account-read jobs (SPEC §9.4)
    account_requests: int = 0
    account_snapshots: int = 0
    targets: int = 0
    written: int = 0
    spend: dict[str, int] = field(default_factory=dict)  # platform -> budget units spent
    units: dict[str, str] = field(default_factory=dict)  # platform -> the budget's unit
    frozen: int = 0
    paused: dict[str, int] = field(default_factory=dict)
    over_budget: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    batches_by_platform: Counter[str] = field(default_factory=Counter)


def _describe(summary: SweepSummary, result: Plan, batches: list[Batch]) -> None:
    summary.batches = len(batches)
    summary.targets = sum(len(b.targets) for b in batches)
    summary.spend = result.spend
    summary.units = {p: b.unit for p, b in result.budgets.items()}
    summary.frozen = len(result.frozen)
    summary.paused = dict(result.paused)
    summary.over_budget = dict(result.over_budget)
    for batch in batches:
        summary.batches_by_platform[batch.key] += 1


def sweep(
    rt: Runtime,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    dry_run: bool = False,
    clock_now: Callable[[], datetime] = clock.now,
) -> SweepSummary:
    """Discovery for integrations due for it, then every due target: plan, fetch, write.

    With ``dry_run`` nothing is written and no platform is called: the summary is the plan
    and its request and read estimate. ``clock_now`` tells the time of each read and write
    (``openpost refresh --once --now T`` passes one that always says T: no process-wide
    clock is set).
    """
    summary = SweepSummary(now=now, dry_run=dry_run)
    if dry_run:
        session = rt.factory()
        try:
            discovery.adopt(session, now, workspace_id)
            candidates = discovery.due(session, rt.clients, now, workspace_id=workspace_id)
            result = planner.plan(
                session, rt.settings, rt.policy, rt.clients, now, workspace_id=workspace_id
            )
        finally:
            session.rollback()
            session.close()
        summary.discoveries = len(candidates)
        batches = result.batches(now)
        _describe(summary, result, batches)
        summary.requests = len(batches)
        return summary

    for job in plan_discoveries(rt, now, workspace_id):
        found = discovery.run(rt.factory, rt.clients, rt.policy, job, clock_now=clock_now)
        summary.discoveries += 1
        summary.discovered += found.discovered
        summary.written += found.snapshots
        summary.discovery_requests += found.requests
        summary.discovery_held += int(found.held)
    result, batches = plan_captures(rt, now, workspace_id)
    _describe(summary, result, batches)
    for batch in batches:
        captured = capture_batch(rt.factory, rt.clients, rt.policy, batch, clock_now=clock_now)
        summary.requests += captured.requests
        summary.written += captured.written
        summary.outcomes.update(captured.outcomes)
    for reads in plan_account_reads(rt, now, workspace_id):
        read = account_capture.run(rt.factory, rt.clients, rt.policy, reads, clock_now=clock_now)
        summary.account_reads += 1
        summary.account_requests += read.requests
        summary.account_snapshots += read.written
    return summary
