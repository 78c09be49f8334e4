"""Running one account-read job (SPEC §9.4; planned by ``refresh.account_reads``): read the
batch outside any transaction, then write, while the states still carry the job's claim and
the integrations are still collectable, one account snapshot per account (capture key from
the claim), the states and the rate window, as ``refresh.capture`` does for posts."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost.accounts.models import AccountReadState, AccountSnapshot
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import insert_ignoring_conflicts, transaction
from openpost.core.ids import new_id
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.platforms.base import (
    AccountBatch,
    AccountReader,
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
from openpost.refresh import ratestate
from openpost.refresh.account_reads import (
    ACCOUNT_INTERVAL,
    ACCOUNTS,
    MISSING_MESSAGE,
    NOT_FOUND_RECHECK,
    AccountItem,
    AccountJob,
    AccountResult,
    capture_key,
    collectable,
)
from openpost.refresh.metrics import WORK
from openpost.refresh.models import Outcome
from openpost.refresh.policy import PERMISSION_PROBE, UNSUPPORTED_RECHECK, CollectionPolicy
from openpost.refresh.state import outcome_of

log = logging.getLogger("openpost.refresh.accounts")


def _still_claimed(session: Session, job: AccountJob) -> list[AccountItem]:
    """The job's accounts whose state still carries its claim and whose integration is still
    collectable (paused or ``needs_refresh`` since planning: not read)."""
    claimed = set(
        session.scalars(
            select(AccountReadState.integration_id)
            .join(Integration, Integration.id == AccountReadState.integration_id)
            .where(
                AccountReadState.integration_id.in_([i.integration_id for i in job.items]),
                AccountReadState.workspace_id.in_({i.workspace_id for i in job.items}),
                AccountReadState.next_due_at == job.claim,
                collectable(),
            )
        )
    )
    return [i for i in job.items if i.integration_id in claimed]


def _credentials(
    session: Session, clients: Clients, job: AccountJob, item: AccountItem
) -> dict[str, Any] | None:
    """The owner's credentials, for keys that read with the account's own (one account per
    such job), as the post capture passes them."""
    if job.synthetic or not CredentialKey.parse(job.key).scope:
        return None
    row = session.execute(
        select(Integration.credentials_encrypted, Integration.username).where(
            Integration.id == item.integration_id,
            Integration.workspace_id == item.workspace_id,
        )
    ).one()
    sealed = row.credentials_encrypted if ":user:" in job.key else None
    stored = Sealer.from_settings(clients.settings).open(sealed) if sealed else None
    return clients.read_credentials(job.platform, row.username, stored)


@dataclass(frozen=True, slots=True)
class _Fetched:
    batch: AccountBatch | None
    error: PlatformError | None
    windows: tuple[RateWindow, ...]
    called: bool
    calls: int = 0


def _windows(client: Any) -> tuple[RateWindow, ...]:
    """The windows of the client's last response (the account read's), as captures take
    them."""
    return windows_of(client)


def _fetch(
    clients: Clients, job: AccountJob, items: list[AccountItem], credentials: Any
) -> _Fetched:
    with clients.open(job.platform, job.synthetic) as client:
        if client is None or not isinstance(client, AccountReader):
            error: PlatformError = Unsupported(
                "this platform's accounts cannot be read here", code="unsupported"
            )
            return _Fetched(None, error, (), called=False)
        before = client.requests
        try:
            batch = client.fetch_accounts(
                [i.external_account_id for i in items], credentials=credentials
            )
            return _Fetched(batch, None, _windows(client), True, client.requests - before)
        except PlatformError as exc:
            return _Fetched(None, exc, _windows(client), True, client.requests - before)
        except Exception:  # a client bug must not kill the worker: record and retry
            log.exception("account read failed", extra={"platform": job.platform})
            error = TransientError("internal error while reading accounts", code="internal")
            return _Fetched(None, error, (), True, client.requests - before)


def run(
    factory: sessionmaker[Session],
    clients: Clients,
    policy: CollectionPolicy,
    job: AccountJob,
    *,
    clock_now: Callable[[], datetime] = clock.now,
) -> AccountResult:
    """Read ``job``'s accounts and store what came back (see the module docs)."""
    result = AccountResult()
    label = "synthetic" if job.synthetic else job.platform
    with transaction(factory) as session:
        items = _still_claimed(session, job)
        result.stale = len(job.items) - len(items)
        if not items:
            return result
        pause = None
        if not job.synthetic:
            pause = ratestate.active_pause(session, job.platform, job.key, ACCOUNTS, clock_now())
        fetched: _Fetched | None = None
        credentials: dict[str, Any] | None = None
        if pause is not None:
            held = RateLimited(
                pause.message or "the platform is paused", code=pause.reason, retry_at=pause.until
            )
            fetched = _Fetched(None, held, (), called=False)
        else:
            try:
                credentials = _credentials(session, clients, job, items[0])
            except CredentialsUnreadable:
                refused = PermissionRequired(
                    "the stored credentials cannot be read; reconnect the account",
                    code="credentials_unreadable",
                )
                fetched = _Fetched(None, refused, (), called=False)
    if fetched is None:
        fetched = _fetch(clients, job, items, credentials)
    result.requests = fetched.calls
    with transaction(factory) as session:
        _write(session, policy, job, items, fetched, result, clock_now())
    if result.requests:
        WORK.requests.labels(label, ACCOUNTS).inc(result.requests)
    log.info(
        "account read",
        extra={"platform": job.platform, "accounts": len(items), "written": result.written},
    )
    return result


def _write(
    session: Session,
    policy: CollectionPolicy,
    job: AccountJob,
    items: list[AccountItem],
    fetched: _Fetched,
    result: AccountResult,
    now: datetime,
) -> None:
    states = {
        s.integration_id: s
        for s in session.scalars(
            select(AccountReadState)
            .where(
                AccountReadState.integration_id.in_([i.integration_id for i in items]),
                AccountReadState.workspace_id.in_({i.workspace_id for i in items}),
                AccountReadState.next_due_at == job.claim,
            )
            .order_by(AccountReadState.integration_id)
            .with_for_update()
        )
    }
    result.stale += len(items) - len(states)
    shared = not job.synthetic and CredentialKey.parse(job.key).shared
    pause = None
    if not job.synthetic and fetched.called:
        if fetched.error is None:
            ratestate.record_success(session, job.platform, job.key, ACCOUNTS, fetched.windows, now)
        else:
            pause = ratestate.record_failure(
                session,
                job.platform,
                job.key,
                ACCOUNTS,
                fetched.error,
                fetched.windows,
                now,
                shared_credential=shared,
                probe_pause_until=now + PERMISSION_PROBE,
            )
    rows: list[dict[str, Any]] = []
    needs_refresh: list[uuid.UUID] = []
    for item in items:
        state = states.get(item.integration_id)
        if state is None:
            continue
        error = fetched.error
        if fetched.batch is not None:
            reading = fetched.batch.readings.get(item.external_account_id)
            if reading is not None:
                rows.append(
                    {
                        "id": new_id(),
                        "workspace_id": item.workspace_id,
                        "integration_id": item.integration_id,
                        "followers": reading.followers,
                        "following": reading.following,
                        "posts": reading.posts,
                        "platform_data": reading.platform_data,
                        "captured_at": now,
                        "capture_key": capture_key(job.claim),
                    }
                )
                state.last_attempt_at = state.last_success_at = now
                state.next_due_at = now + ACCOUNT_INTERVAL
                state.outcome = Outcome.ok.value
                state.error_code = state.error_message = None
                state.consecutive_failures = 0
                _tally(result, state.outcome)
                continue
            if item.external_account_id in fetched.batch.missing:
                state.last_attempt_at = now
                state.next_due_at = now + NOT_FOUND_RECHECK
                state.outcome = Outcome.not_found.value
                state.error_code, state.error_message = "not_found", MISSING_MESSAGE
                _tally(result, state.outcome)
                continue
            error = fetched.batch.errors.get(item.external_account_id) or TransientError(
                "the platform's answer left this account out", code="missing"
            )
        assert error is not None
        _failed(state, policy, error, pause, now, called=fetched.called)
        if isinstance(error, PermissionRequired) and not ratestate.app_credential_refused(
            error, shared_credential=shared
        ):
            needs_refresh.append(item.integration_id)
        _tally(result, state.outcome)
    if rows:
        written = session.execute(
            insert_ignoring_conflicts(
                session, AccountSnapshot, ["integration_id", "capture_key"]
            ).returning(AccountSnapshot.id),
            rows,
        )
        result.written = len(list(written.scalars()))
    if needs_refresh:
        session.execute(
            update(Integration)
            .where(
                Integration.id.in_(needs_refresh),
                Integration.workspace_id.in_({i.workspace_id for i in items}),
                Integration.status == IntegrationStatus.active.value,
            )
            .values(status=IntegrationStatus.needs_refresh.value)
            .execution_options(synchronize_session=False)
        )
    session.flush()


def _tally(result: AccountResult, outcome: str) -> None:
    result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1


def _failed(
    state: AccountReadState,
    policy: CollectionPolicy,
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
    elif outcome is Outcome.permission_required:
        state.next_due_at = policy.jitter(pause.until) if pause else now + ACCOUNT_INTERVAL
    elif outcome in (Outcome.not_found, Outcome.unsupported):
        state.next_due_at = now + UNSUPPORTED_RECHECK
    else:
        state.consecutive_failures += 1
        state.next_due_at = now + policy.backoff(state.consecutive_failures)
