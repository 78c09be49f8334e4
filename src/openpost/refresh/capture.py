"""Capture: read one batch from its platform, then write snapshots and refresh state in one
transaction (SPEC §5.4, §5.5).

A batch carries the claim its planner wrote into each target's ``next_due_at``. The capture
writes a target only while that claim is still there (under a row lock), and the snapshot's
capture key is derived from it: a repeated or duplicated job, or a job whose worker was
presumed dead and re-planned, writes nothing twice. The platform is called outside any
database transaction.

Outcomes per target:

- a reading → snapshot, ``ok`` (or ``frozen`` when policy allows no further reading);
- reported deleted → ``not_found``, target status ``deleted``, never read again;
- an unknown or invalid id → ``not_found``, never read again;
- a permission failure → ``permission_required``; the integration becomes
  ``needs_refresh`` and is not read until reconnected (a refused *shared* app token pauses
  the platform instead: no integration can fix it);
- a spent window or paid budget → ``rate_limited`` until the pause ends;
- a platform without a client here → ``unsupported`` (looked at again a day later);
- anything else → ``failed``, retried with exponential backoff and jitter.

Failures never touch snapshots: the last good one stays the target's latest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Pointers, Reading, append_snapshots
from openpost.core import clock, faults
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import transaction
from openpost.integrations import status
from openpost.integrations.models import Integration
from openpost.platforms.base import (
    BatchResult,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
    Unsupported,
    windows_of,
)
from openpost.platforms.registry import Clients
from openpost.platforms.spec import CredentialKey
from openpost.posts.models import PostTarget, TargetStatus
from openpost.refresh import ratestate
from openpost.refresh.batches import Batch, BatchItem
from openpost.refresh.metrics import WORK
from openpost.refresh.models import Outcome, RefreshState
from openpost.refresh.policy import PERMISSION_PROBE, UNSUPPORTED_RECHECK, CollectionPolicy
from openpost.refresh.state import outcome_of
from openpost.webhooks import outperforming

log = logging.getLogger("openpost.refresh.capture")

DELETED_MESSAGE = "the platform reports this post deleted"


def capture_key(claim: datetime) -> str:
    """The snapshot's capture key: the target (its own column) plus the claimed slot."""
    return "claim:" + claim.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CaptureResult:
    written: int = 0
    stale: int = 0
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _Fetched:
    result: BatchResult | None
    error: PlatformError | None
    window: tuple[RateWindow, ...] | None
    called: bool
    calls: int = 0  # requests sent: every one, those of a read that failed part-way too


def _still_claimed(session: Session, batch: Batch) -> list[BatchItem]:
    """The batch's targets whose state still carries its claim (one indexed read)."""
    claimed = set(
        session.scalars(
            select(RefreshState.post_target_id).where(
                RefreshState.post_target_id.in_([t.target_id for t in batch.targets]),
                RefreshState.workspace_id.in_({t.workspace_id for t in batch.targets}),
                RefreshState.next_due_at == batch.claim,
            )
        )
    )
    return [t for t in batch.targets if t.target_id in claimed]


def _account(session: Session, batch: Batch, target: BatchItem) -> tuple[str | None, str]:
    """Sealed owner credentials and username, for keys that read with the account's own
    (``<platform>:user:<id>``, ``mastodon:<instance>``): one account per such batch."""
    if batch.synthetic or not CredentialKey.parse(batch.key).scope:
        return None, ""
    row = session.execute(
        select(Integration.credentials_encrypted, Integration.username).where(
            Integration.id == target.integration_id,
            Integration.workspace_id == target.workspace_id,
        )
    ).one()
    return (row.credentials_encrypted if ":user:" in batch.key else None), row.username


def _fetch(
    clients: Clients, batch: Batch, targets: list[BatchItem], credentials: dict[str, Any] | None
) -> _Fetched:
    with clients.open(batch.platform, batch.synthetic) as client:
        if client is None:
            error: PlatformError = Unsupported(
                f"collecting {batch.platform} is not available on this server yet",
                code="unsupported",
            )
            return _Fetched(None, error, None, called=False)
        before = client.requests
        try:
            result = client.fetch_metrics(
                [t.platform_post_id for t in targets], credentials=credentials
            )
            return _Fetched(result, None, windows_of(client), True, result.calls)
        except PlatformError as exc:
            calls = client.requests - before
            return _Fetched(None, exc, windows_of(client), True, calls)
        except Exception:  # a bug in a client must not kill the worker: record and retry
            log.exception("platform client failed", extra={"platform": batch.platform})
            error = TransientError("internal error while reading the platform", code="internal")
            return _Fetched(None, error, None, True, client.requests - before)


def capture_batch(
    factory: sessionmaker[Session],
    clients: Clients,
    policy: CollectionPolicy,
    batch: Batch,
    *,
    clock_now: Callable[[], datetime] = clock.now,
) -> CaptureResult:
    """Read ``batch`` and store what came back; see the module docs. ``clock_now`` tells
    the time of the reading (the sweep's own, under ``openpost refresh --once --now``)."""
    started = time.perf_counter()
    label = "synthetic" if batch.synthetic else batch.platform
    summary = CaptureResult()
    with transaction(factory) as session:
        targets = _still_claimed(session, batch)
        summary.stale = len(batch.targets) - len(targets)
        if not targets:
            WORK.batches.labels(label, "stale").inc()
            return summary
        sealed, username = _account(session, batch, targets[0])
        pause, flagged = None, False
        if not batch.synthetic:
            endpoint = ratestate.endpoint_key(batch.key, ratestate.METRICS)
            rows = ratestate.states(session, [batch.platform, endpoint])
            flagged = ratestate.has_pause(rows.get(batch.platform))
            if not batch.probe:
                now = clock_now()
                pause = ratestate.pause_of(rows.get(batch.platform), now) or ratestate.pause_of(
                    rows.get(endpoint), now
                )
    credentials: dict[str, Any] | None = None
    fetched: _Fetched
    if pause is not None:
        error: PlatformError = RateLimited(
            pause.message or "the platform is paused", code=pause.reason, retry_at=pause.until
        )
        fetched = _Fetched(None, error, None, called=False)
    else:
        try:
            stored = Sealer.from_settings(clients.settings).open(sealed) if sealed else None
            credentials = clients.read_credentials(batch.platform, username, stored)
            faults.reach(clients.settings, "capture.fetch")  # tests only
            fetched = _fetch(clients, batch, targets, credentials)
        except CredentialsUnreadable:
            error = PermissionRequired(
                "the stored credentials cannot be read; reconnect the account",
                code="credentials_unreadable",
            )
            fetched = _Fetched(None, error, None, called=False)
    summary.requests = fetched.calls

    with transaction(factory) as session:
        _write(
            session,
            policy,
            batch,
            targets,
            fetched,
            summary,
            clear_platform_pause=flagged,
            now=clock_now(),
        )
        session.flush()
        faults.reach(clients.settings, "capture.commit")  # tests only: see core/faults.py
    _count(label, summary, fetched, time.perf_counter() - started)
    log.info(
        "capture",
        extra={
            "platform": batch.platform,
            "targets": len(batch.targets),
            "written": summary.written,
            "stale": summary.stale,
            "outcomes": dict(summary.outcomes),
        },
    )
    return summary


def _count(label: str, summary: CaptureResult, fetched: _Fetched, seconds: float) -> None:
    """This process's collection counters (``refresh.metrics``)."""
    if not fetched.called:
        result = "paused" if isinstance(fetched.error, RateLimited) else "failed"
    else:
        result = "ok" if fetched.error is None else "failed"
    WORK.batches.labels(label, result).inc()
    if summary.requests:
        WORK.requests.labels(label, "metrics").inc(summary.requests)
    for outcome, count in summary.outcomes.items():
        WORK.targets.labels(label, outcome).inc(count)
    if summary.written:
        WORK.snapshots.labels(label).inc(summary.written)
    WORK.capture_seconds.labels(label).observe(seconds)


@dataclass(slots=True)
class _State:
    """The refresh-state columns a capture writes (one bulk update per batch)."""

    post_target_id: uuid.UUID
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    next_due_at: datetime | None = None
    outcome: str = Outcome.pending.value
    error_code: str | None = None
    error_message: str | None = None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "post_target_id"}


def _captured_at(pointer: Any) -> Any:
    """The capture time of the snapshot a refresh-state pointer names (a scalar subquery
    that ``RETURNING`` can carry)."""
    return (
        select(Snapshot.captured_at)
        .where(Snapshot.id == pointer)
        .correlate(RefreshState)
        .scalar_subquery()
    )


def _take(
    session: Session, batch: Batch, targets: list[BatchItem]
) -> tuple[dict[uuid.UUID, _State], dict[uuid.UUID, Pointers]]:
    """Lock the targets whose state still carries the batch's claim and read, under those
    locks, their state and current latest pointers (which the snapshot writer needs), in one
    statement: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite, which has no row locks, a
    no-op ``UPDATE … RETURNING`` that takes the database's write lock first."""
    columns = (
        RefreshState.post_target_id,
        RefreshState.last_attempt_at,
        RefreshState.last_success_at,
        RefreshState.consecutive_failures,
        RefreshState.latest_snapshot_id,
        _captured_at(RefreshState.latest_snapshot_id),
        RefreshState.previous_snapshot_id,
        _captured_at(RefreshState.previous_snapshot_id),
    )
    claimed = (
        RefreshState.post_target_id.in_(sorted(t.target_id for t in targets)),
        RefreshState.workspace_id.in_({t.workspace_id for t in targets}),
        RefreshState.next_due_at == batch.claim,
    )
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = (
            select(*columns)
            .where(*claimed)
            .order_by(RefreshState.post_target_id)  # one lock order for every worker
            .with_for_update(of=RefreshState)
        )
    else:
        statement = (
            update(RefreshState)
            .where(*claimed)
            .values(consecutive_failures=RefreshState.consecutive_failures)
            .returning(*columns)
            .execution_options(synchronize_session=False)
        )
    rows = session.execute(statement).all()
    states = {row[0]: _State(*row[:4]) for row in rows}
    pointers = {row[0]: Pointers(*row[4:]) for row in rows}
    return states, pointers


def _write(
    session: Session,
    policy: CollectionPolicy,
    batch: Batch,
    targets: list[BatchItem],
    fetched: _Fetched,
    summary: CaptureResult,
    *,
    clear_platform_pause: bool,
    now: datetime,
) -> None:
    states, pointers = _take(session, batch, targets)
    summary.stale += len(targets) - len(states)
    live = [t for t in targets if t.target_id in states]
    shared = not batch.synthetic and CredentialKey.parse(batch.key).shared
    pause = None
    if not batch.synthetic and fetched.called:
        if fetched.error is None:
            ratestate.record_success(
                session,
                batch.platform,
                batch.key,
                ratestate.METRICS,
                fetched.window,
                now,
                clear_platform_pause=clear_platform_pause,
            )
        else:
            pause = ratestate.record_failure(
                session,
                batch.platform,
                batch.key,
                ratestate.METRICS,
                fetched.error,
                fetched.window,
                now,
                shared_credential=shared,
                probe_pause_until=now + PERMISSION_PROBE,
            )
    if not live:
        return

    readings: list[Reading] = []
    deleted: list[uuid.UUID] = []
    needs_refresh: dict[uuid.UUID, PlatformError] = {}
    failing: dict[uuid.UUID, tuple[BatchItem, _State]] = {}  # integrations whose streak hit
    for target in live:
        state = states[target.target_id]
        error = fetched.error
        if fetched.result is not None:
            result = fetched.result
            reading = result.readings.get(target.platform_post_id)
            if reading is not None:
                readings.append(
                    Reading(
                        workspace_id=target.workspace_id,
                        integration_id=target.integration_id,
                        post_target_id=target.target_id,
                        captured_at=now,
                        capture_key=capture_key(batch.claim),
                        impressions=reading.impressions,
                        likes=reading.likes,
                        comments=reading.comments,
                        shares=reading.shares,
                        platform_data=reading.platform_data,
                    )
                )
                _succeeded(state, policy, batch.platform, target.published_at, now)
                summary.outcomes[state.outcome] += 1
                continue
            if target.platform_post_id in result.deleted:
                _stopped(state, now, Outcome.not_found, "deleted", DELETED_MESSAGE)
                deleted.append(target.target_id)
                summary.outcomes[state.outcome] += 1
                continue
            error = result.errors.get(target.platform_post_id) or TransientError(
                "the platform's answer left this post out", code="missing"
            )
        assert error is not None
        _failed(state, policy, batch, target, error, pause, now, called=fetched.called)
        if isinstance(error, PermissionRequired) and not ratestate.app_credential_refused(
            error, shared_credential=shared
        ):
            needs_refresh.setdefault(target.integration_id, error)
        if state.consecutive_failures == policy.failed_after:
            failing.setdefault(target.integration_id, (target, state))
        summary.outcomes[state.outcome] += 1

    summary.written = append_snapshots(
        session,
        readings,
        state_values={t.target_id: states[t.target_id].values() for t in live},
        pointers=pointers,
    )
    outperforming.check(session, readings, now, policy.outperforming)
    if deleted:
        session.execute(
            update(PostTarget)
            .where(
                PostTarget.id.in_(deleted),
                PostTarget.workspace_id.in_({t.workspace_id for t in live}),
            )
            .values(status=TargetStatus.deleted.value, deleted_at=now)
            .execution_options(synchronize_session=False)
        )
    for integration_id, error in needs_refresh.items():
        status.mark_needs_refresh(
            session,
            [integration_id],
            {t.workspace_id for t in live},
            now,
            code=error.code,
            message=error.message,
        )
    for integration_id, (target, state) in failing.items():
        status.collection_failed(
            session,
            target.workspace_id,
            integration_id,
            now,
            what="posts",
            failures=state.consecutive_failures,
            code=state.error_code,
            message=state.error_message,
            posts=sum(
                1
                for t in live
                if t.integration_id == integration_id
                and states[t.target_id].consecutive_failures == policy.failed_after
            ),
        )


def _succeeded(
    state: _State,
    policy: CollectionPolicy,
    platform: str,
    published_at: datetime,
    now: datetime,
) -> None:
    state.last_attempt_at = state.last_success_at = now
    state.next_due_at = policy.next_due(platform, published_at, now)
    state.outcome = (Outcome.ok if state.next_due_at is not None else Outcome.frozen).value
    state.error_code = state.error_message = None
    state.consecutive_failures = 0


def _stopped(state: _State, now: datetime, outcome: Outcome, code: str, message: str) -> None:
    state.last_attempt_at = now
    state.next_due_at = None
    state.outcome = outcome.value
    state.error_code = code
    state.error_message = message[:500]


def _failed(
    state: _State,
    policy: CollectionPolicy,
    batch: Batch,
    target: BatchItem,
    error: PlatformError,
    pause: ratestate.Pause | None,
    now: datetime,
    *,
    called: bool,
) -> None:
    if called:
        state.last_attempt_at = now
    state.error_code = error.code[:64]
    state.error_message = error.message[:500]
    outcome = outcome_of(error)
    state.outcome = outcome.value
    if outcome is Outcome.rate_limited:
        until = pause.until if pause is not None else error.retry_at
        state.next_due_at = policy.jitter(max(until or now, now) + timedelta(seconds=1))
    elif outcome is Outcome.not_found:  # the post is gone: never read again
        state.next_due_at = None
    elif outcome is Outcome.permission_required:
        if pause is not None:
            state.next_due_at = policy.jitter(pause.until)
        else:  # read again on schedule once the integration is reconnected
            state.next_due_at = policy.next_due(batch.platform, target.published_at, now)
    elif outcome is Outcome.unsupported:
        state.next_due_at = now + UNSUPPORTED_RECHECK
    else:
        state.consecutive_failures += 1
        state.next_due_at = now + policy.backoff(state.consecutive_failures)
