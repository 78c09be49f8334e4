"""Discovery: import an account's new posts as ``source: "discovered"`` posts (SPEC §3.4).

Every active integration has a ``DiscoveryState`` (created by the planner when missing, so
a newly connected account is looked at on the next pass). When it is due, one job reads
the account's posts newer than the stored ``since_id`` (the first time, the newest
``limit``: X's cap of 50, because every post read may be billed), creates a post, a target
and a refresh state for each one not tracked yet, keeps the counters that came with the
read as that target's first snapshot, and moves the cursor. Claims work as for captures:
the job writes only while the state still carries its claim.

Pauses are checked twice: by ``due`` when the jobs are planned, and again by each job just
before it calls the platform, because an earlier job of the same pass (or another worker)
may have recorded one since (a spent YouTube quota, a 429 on a Bluesky or Mastodon
window). A job held that way calls nothing and is due again when the pause ends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost.analytics.writer import Reading, append_snapshots
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import insert_ignoring_conflicts, transaction
from openpost.core.ids import new_id
from openpost.integrations import status
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.platforms.base import (
    Account,
    DiscoveryPage,
    PermissionRequired,
    PlatformError,
    RateWindow,
    TransientError,
    Unsupported,
    windows_of,
)
from openpost.platforms.registry import Clients
from openpost.platforms.specs import SPECS
from openpost.posts.models import Post, PostSource, PostStatus, PostTarget, TargetStatus
from openpost.refresh import budgets, ratestate
from openpost.refresh.metrics import WORK
from openpost.refresh.models import DiscoveryState, Outcome
from openpost.refresh.policy import PERMISSION_PROBE, UNSUPPORTED_RECHECK, CollectionPolicy
from openpost.refresh.state import new_state, outcome_of

log = logging.getLogger("openpost.refresh.discovery")

FIRST_READING_KEY = "discovery"


@dataclass(frozen=True, slots=True)
class DiscoveryJob:
    workspace_id: uuid.UUID
    integration_id: uuid.UUID
    platform: str
    synthetic: bool
    key: str  # the credential key (``platforms.registry``): the rate window it spends
    claim: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "workspace_id": str(self.workspace_id),
            "integration_id": str(self.integration_id),
            "platform": self.platform,
            "synthetic": self.synthetic,
            "key": self.key,
            "claim": self.claim.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DiscoveryJob:
        return cls(
            workspace_id=uuid.UUID(payload["workspace_id"]),
            integration_id=uuid.UUID(payload["integration_id"]),
            platform=payload["platform"],
            synthetic=bool(payload["synthetic"]),
            key=payload["key"],
            claim=datetime.fromisoformat(payload["claim"]),
        )


@dataclass
class DiscoveryResult:
    discovered: int = 0
    snapshots: int = 0
    outcome: str = Outcome.pending.value
    stale: bool = False
    requests: int = 0  # requests sent to the platform
    held: bool = False  # a pause recorded since planning kept the job from calling


def _collectable() -> Any:
    return and_(
        Integration.status == IntegrationStatus.active.value,
        Integration.analytics_enabled.is_(True),
    )


def adopt(session: Session, now: datetime, workspace_id: uuid.UUID | None = None) -> int:
    """Give every collectable integration without a discovery state one, due now."""
    query = (
        select(Integration.id, Integration.workspace_id)
        .outerjoin(DiscoveryState, DiscoveryState.integration_id == Integration.id)
        .where(DiscoveryState.integration_id.is_(None), _collectable())
    )
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    missing = session.execute(query).all()
    if not missing:
        return 0
    session.execute(
        insert_ignoring_conflicts(session, DiscoveryState, ["integration_id"]),
        [
            {
                "integration_id": row.id,
                "workspace_id": row.workspace_id,
                "next_due_at": now,
                "outcome": Outcome.pending.value,
                "consecutive_failures": 0,
                "discovered": 0,
            }
            for row in missing
        ],
    )
    return len(missing)


def due(
    session: Session,
    clients: Clients,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    integration_ids: Sequence[uuid.UUID] | None = None,
    limit: int = 1000,
) -> list[DiscoveryJob]:
    """Due discoveries that no pause holds back (their ``claim`` is ``now`` until claimed)."""
    query = (
        select(
            Integration.workspace_id,
            Integration.id,
            Integration.platform,
            Integration.synthetic,
            Integration.username,
            Integration.credentials_encrypted.is_not(None).label("has_user_token"),
        )
        .join(
            DiscoveryState,
            and_(
                DiscoveryState.integration_id == Integration.id,
                DiscoveryState.workspace_id == Integration.workspace_id,
            ),
        )
        .where(_collectable(), DiscoveryState.next_due_at <= now)
        .order_by(DiscoveryState.next_due_at, Integration.id)
        .limit(limit)
    )
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    if integration_ids is not None:
        query = query.where(Integration.id.in_(list(integration_ids)))
    jobs = [
        DiscoveryJob(
            r.workspace_id,
            r.id,
            r.platform,
            r.synthetic,
            clients.credential_key(r.platform, r.synthetic, r.id, r.has_user_token, r.username),
            now,
        )
        for r in session.execute(query)
    ]
    live = {j.key: j.platform for j in jobs if not j.synthetic}
    states = ratestate.states(
        session,
        [*live.values(), *(ratestate.endpoint_key(k, ratestate.DISCOVERY) for k in live)],
    )
    paused = {
        key
        for key, platform in live.items()
        if ratestate.pause_of(states.get(platform), now)
        or ratestate.pause_of(states.get(ratestate.endpoint_key(key, ratestate.DISCOVERY)), now)
    }
    left: dict[str, int | None] = {}
    allowed = []
    for job in jobs:
        if job.synthetic:
            allowed.append(job)
            continue
        if job.key in paused:
            continue
        # A spent daily budget holds discovery too: its reads are billed like any other.
        budget = budgets.budget_for(clients.settings, job.platform)
        if job.platform not in left:
            left[job.platform] = ratestate.reads_left(states.get(job.platform), budget, now)
        units = left[job.platform]
        if units is not None:
            reserve = budget.discovery_reserve(clients.discovery_limit(job.platform, 0))
            if units < reserve:
                continue
            left[job.platform] = units - reserve
        allowed.append(job)
    return allowed


def claim(
    session: Session,
    candidates: Sequence[DiscoveryJob],
    *,
    now: datetime,
    lease_until: datetime,
) -> list[DiscoveryJob]:
    if not candidates:
        return []
    claimed = set(
        session.scalars(
            update(DiscoveryState)
            .where(
                DiscoveryState.integration_id.in_([c.integration_id for c in candidates]),
                DiscoveryState.next_due_at <= now,
            )
            .values(next_due_at=lease_until)
            .returning(DiscoveryState.integration_id)
            .execution_options(synchronize_session=False)
        )
    )
    return [replace(c, claim=lease_until) for c in candidates if c.integration_id in claimed]


def _pause_now(session: Session, job: DiscoveryJob, now: datetime) -> ratestate.Pause | None:
    """The pause in force for the job's platform or credential now (live jobs only)."""
    if job.synthetic:
        return None
    return ratestate.active_pause(session, job.platform, job.key, ratestate.DISCOVERY, now)


def _load(session: Session, job: DiscoveryJob) -> tuple[Account, str | None, str | None] | None:
    row = session.execute(
        select(
            Integration.external_account_id,
            Integration.username,
            Integration.display_name,
            Integration.credentials_encrypted,
            DiscoveryState.since_id,
            DiscoveryState.next_due_at,
        )
        .join(DiscoveryState, DiscoveryState.integration_id == Integration.id)
        .where(Integration.id == job.integration_id, Integration.workspace_id == job.workspace_id)
    ).first()
    if row is None or row.next_due_at != job.claim:
        return None
    account = Account(row.external_account_id, row.username, row.display_name)
    return account, row.since_id, row.credentials_encrypted


def run(
    factory: sessionmaker[Session],
    clients: Clients,
    policy: CollectionPolicy,
    job: DiscoveryJob,
    *,
    clock_now: Callable[[], datetime] = clock.now,
) -> DiscoveryResult:
    """Read the account's new posts and track them (see the module docs). ``clock_now``
    tells the time of the read (the sweep's own, under ``openpost refresh --once --now``)."""
    started = time.perf_counter()
    label = "synthetic" if job.synthetic else job.platform
    result = DiscoveryResult()
    with transaction(factory) as session:
        loaded = _load(session, job)
        held = _pause_now(session, job, clock_now()) if loaded is not None else None
    if loaded is None:
        result.stale = True
        return result
    if held is not None:
        return _hold(factory, policy, job, held, result, clock_now())
    account, since_id, sealed = loaded
    page: DiscoveryPage | None = None
    error: PlatformError | None = None
    window: tuple[RateWindow, ...] | None = None
    called = False
    with clients.open(job.platform, job.synthetic) as client:
        if client is None:
            error = Unsupported(
                f"discovering {job.platform} posts is not available on this server yet",
                code="unsupported",
            )
        else:
            before = client.requests
            try:
                stored = Sealer.from_settings(clients.settings).open(sealed) if sealed else None
                called = True
                page = client.discover(
                    account,
                    since_id=since_id,
                    limit=clients.discovery_limit(job.platform, policy.discovery_limit),
                    credentials=clients.read_credentials(job.platform, account.username, stored),
                )
            except CredentialsUnreadable:
                called = False
                error = PermissionRequired(
                    "the stored credentials cannot be read; reconnect the account",
                    code="credentials_unreadable",
                )
            except PlatformError as exc:
                error = exc
            except Exception:  # a client bug must not kill the worker: record and retry
                log.exception("discovery failed", extra={"platform": job.platform})
                error = TransientError("internal error while discovering posts", code="internal")
            if called:
                window = windows_of(client)
                # What the read sent, every request of one that failed part-way too.
                result.requests = page.calls if page is not None else client.requests - before

    with transaction(factory) as session:
        state = session.get(
            DiscoveryState, job.integration_id, with_for_update=True, populate_existing=True
        )
        if state is None or state.next_due_at != job.claim:
            result.stale = True
            return result
        now = clock_now()
        shared = not job.synthetic and sealed is None
        if page is not None:
            _import(session, policy, job, page, now, result)
            state.since_id = page.newest_id or state.since_id
            state.last_attempt_at = state.last_success_at = now
            state.next_due_at = now + policy.discovery_interval
            state.outcome = Outcome.ok.value
            state.error_code = state.error_message = None
            state.consecutive_failures = 0
            state.discovered += result.discovered
            if not job.synthetic:
                ratestate.record_success(
                    session, job.platform, job.key, ratestate.DISCOVERY, window, now
                )
                budget = budgets.budget_for(clients.settings, job.platform)
                cost = budget.discovery_cost(len(page.posts), page.calls)
                ratestate.count_reads(session, budget, cost, now)
        else:
            assert error is not None
            pause = None
            if called and not job.synthetic:
                pause = ratestate.record_failure(
                    session,
                    job.platform,
                    job.key,
                    ratestate.DISCOVERY,
                    error,
                    window,
                    now,
                    shared_credential=shared,
                    probe_pause_until=now + PERMISSION_PROBE,
                )
                budget = budgets.budget_for(clients.settings, job.platform)
                if budget.per_call and pause is None:
                    # A refused call still costs its unit, except a spent quota or a
                    # refused key (those pause the platform instead).
                    ratestate.count_reads(session, budget, 1, now)
            _failed(session, policy, job, state, error, pause, now)
        result.outcome = state.outcome
    if result.requests:
        WORK.requests.labels(label, "discovery").inc(result.requests)
    if result.discovered:
        WORK.discovered.labels(label).inc(result.discovered)
    if result.snapshots:
        WORK.snapshots.labels(label).inc(result.snapshots)
    WORK.discovery_seconds.labels(label).observe(time.perf_counter() - started)
    log.info(
        "discovery",
        extra={
            "platform": job.platform,
            "discovered": result.discovered,
            "outcome": result.outcome,
        },
    )
    return result


def _hold(
    factory: sessionmaker[Session],
    policy: CollectionPolicy,
    job: DiscoveryJob,
    pause: ratestate.Pause,
    result: DiscoveryResult,
    now: datetime,
) -> DiscoveryResult:
    """Put a job a pause holds back off until the pause ends, without calling."""
    with transaction(factory) as session:
        state = session.get(
            DiscoveryState, job.integration_id, with_for_update=True, populate_existing=True
        )
        if state is None or state.next_due_at != job.claim:
            result.stale = True
            return result
        state.outcome = Outcome.rate_limited.value
        state.error_code = pause.reason[:64]
        state.error_message = (pause.message or "the platform is paused")[:500]
        state.next_due_at = policy.jitter(max(pause.until, now))
        result.outcome = state.outcome
    result.held = True
    log.info(
        "discovery held",
        extra={"platform": job.platform, "reason": pause.reason, "until": pause.until},
    )
    return result


def _import(
    session: Session,
    policy: CollectionPolicy,
    job: DiscoveryJob,
    page: DiscoveryPage,
    now: datetime,
    result: DiscoveryResult,
) -> None:
    ids = [p.platform_post_id for p in page.posts]
    known = set(
        session.scalars(
            select(PostTarget.platform_post_id).where(
                PostTarget.integration_id == job.integration_id,
                PostTarget.workspace_id == job.workspace_id,
                PostTarget.platform_post_id.in_(ids),
            )
        )
    )
    readings: list[Reading] = []
    for found in page.posts:
        if found.platform_post_id in known:
            continue
        known.add(found.platform_post_id)
        post = Post(
            id=new_id(),
            workspace_id=job.workspace_id,
            content=found.content,
            tags=[],
            status=PostStatus.published.value,
            source=PostSource.discovered.value,
            published_at=found.published_at,
            created_at=now,
        )
        target = PostTarget(
            id=new_id(),
            workspace_id=job.workspace_id,
            post_id=post.id,
            integration_id=job.integration_id,
            status=TargetStatus.published.value,
            platform_post_id=found.platform_post_id,
            post_url=found.post_url,
            preview_url=preview_of(job.platform, found.preview_url),
            published_at=found.published_at,
        )
        state = new_state(target.id, job.workspace_id, now)
        if found.reading is not None:
            state.last_attempt_at = state.last_success_at = now
            state.next_due_at = policy.next_due(job.platform, found.published_at, now)
            state.outcome = (Outcome.ok if state.next_due_at else Outcome.frozen).value
            reading = found.reading
            readings.append(
                Reading(
                    workspace_id=job.workspace_id,
                    integration_id=job.integration_id,
                    post_target_id=target.id,
                    captured_at=now,
                    capture_key=FIRST_READING_KEY,
                    impressions=reading.impressions,
                    likes=reading.likes,
                    comments=reading.comments,
                    shares=reading.shares,
                    platform_data=reading.platform_data,
                )
            )
        session.add(post)
        session.flush()
        session.add(target)
        session.flush()
        session.add(state)
        result.discovered += 1
    session.flush()
    result.snapshots = append_snapshots(session, readings)


def _failed(
    session: Session,
    policy: CollectionPolicy,
    job: DiscoveryJob,
    state: DiscoveryState,
    error: PlatformError,
    pause: ratestate.Pause | None,
    now: datetime,
) -> None:
    state.error_code = error.code[:64]
    state.error_message = error.message[:500]
    outcome = outcome_of(error)
    state.outcome = outcome.value
    if outcome is Outcome.rate_limited:
        until = pause.until if pause is not None else error.retry_at
        state.next_due_at = policy.jitter(max(until or now, now))
        return
    state.last_attempt_at = now
    if outcome in (Outcome.permission_required, Outcome.not_found):
        # The account's credentials were refused, or the account is gone.
        if pause is not None:
            state.next_due_at = policy.jitter(pause.until)
            return
        state.next_due_at = now + policy.discovery_interval
        status.mark_needs_refresh(
            session,
            [job.integration_id],
            [job.workspace_id],
            now,
            code=error.code,
            message=error.message,
        )
    elif outcome is Outcome.unsupported:
        state.next_due_at = now + UNSUPPORTED_RECHECK
    else:
        state.consecutive_failures += 1
        state.next_due_at = now + policy.backoff(state.consecutive_failures)
        if state.consecutive_failures == policy.failed_after:
            status.collection_failed(
                session,
                job.workspace_id,
                job.integration_id,
                now,
                what="discovery",
                failures=state.consecutive_failures,
                code=state.error_code,
                message=state.error_message,
            )


def preview_of(platform: str, url: str | None) -> str | None:
    """A discovered post's preview image, kept only from the platform's own image hosts."""
    spec = SPECS.get(platform)
    return url if url is not None and spec is not None and spec.keeps_preview(url) else None
