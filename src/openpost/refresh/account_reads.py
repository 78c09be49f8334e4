"""Account reads (SPEC §9.4): each connected account's followers, following and post count,
read on the collection path, daily and at connect.

Every collectable integration (active, analytics on) has an ``AccountReadState``, created due
now by ``adopt`` when missing: a newly connected account is read on the next pass, then once
a day. A pass runs after the post planner has claimed its batches, so the daily budgets it
sees include what the posts spend:

1. ``plan`` takes the due states of integrations whose client is an ``AccountReader``
   (``platforms.base``; a platform whose client is not gets ``unsupported`` and is looked at
   again a day later), groups them by credential key across workspaces and cuts batches of
   the client's ``account_batch_size`` (N accounts on X: ⌈N/100⌉ requests);
2. a key whose platform or ``<key>/accounts`` endpoint is paused is held back (its states
   stay due), and so is a platform whose platform-wide pause awaits its probe (the post
   planner sends the probe);
3. under a daily budget, only as many accounts as the units left pay for are taken
   (``DailyBudget.cost``: one unit per account on X's post budget, one per call on
   YouTube's quota);
4. ``claim`` writes the lease into each state (only where still due), counts the units, and
   the jobs go out; ``run`` reads one batch outside any transaction and writes, while the
   states still carry its claim, one account snapshot per account (capture key from the
   claim: a repeated job writes nothing twice), the states, and the rate window.

Failures follow the post path: a spent window or paid budget pauses (``ratestate``) and the
states are due when the pause ends; a refused owner credential makes the integration
``needs_refresh`` (never read again until reconnected); an account the platform reports gone
is ``not_found`` and read again a day later; anything else backs off.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
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
)
from openpost.platforms.registry import Clients
from openpost.platforms.spec import CredentialKey
from openpost.refresh import budgets, ratestate
from openpost.refresh.metrics import WORK
from openpost.refresh.models import Outcome
from openpost.refresh.policy import PERMISSION_PROBE, UNSUPPORTED_RECHECK, CollectionPolicy
from openpost.refresh.state import outcome_of

log = logging.getLogger("openpost.refresh.accounts")

ACCOUNTS = "accounts"  # the rate-state endpoint (shared with ``refresh.accounts``' lookups)
ACCOUNT_INTERVAL = timedelta(days=1)
NOT_FOUND_RECHECK = timedelta(days=1)
MISSING_MESSAGE = "the platform reports this account gone or not visible"


def capture_key(claim: datetime) -> str:
    return "claim:" + claim.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class AccountItem:
    workspace_id: uuid.UUID
    integration_id: uuid.UUID
    external_account_id: str


@dataclass(frozen=True, slots=True)
class AccountJob:
    """One ``fetch_accounts`` call's worth of accounts, all read with the same credential."""

    key: str
    platform: str
    synthetic: bool
    items: tuple[AccountItem, ...]
    claim: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "platform": self.platform,
            "synthetic": self.synthetic,
            "items": [
                [str(i.workspace_id), str(i.integration_id), i.external_account_id]
                for i in self.items
            ],
            "claim": self.claim.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AccountJob:
        return cls(
            key=payload["key"],
            platform=payload["platform"],
            synthetic=bool(payload["synthetic"]),
            items=tuple(
                AccountItem(uuid.UUID(w), uuid.UUID(i), str(e)) for w, i, e in payload["items"]
            ),
            claim=datetime.fromisoformat(payload["claim"]),
        )


@dataclass
class AccountPlan:
    now: datetime
    chosen: dict[str, list[AccountItem]] = field(default_factory=dict)  # key -> accounts
    platforms: dict[str, tuple[str, bool]] = field(default_factory=dict)  # key -> platform
    sizes: dict[str, int] = field(default_factory=dict)  # key -> account_batch_size
    unsupported: list[uuid.UUID] = field(default_factory=list)
    paused: dict[str, int] = field(default_factory=dict)
    over_budget: dict[str, int] = field(default_factory=dict)
    spend: dict[str, int] = field(default_factory=dict)  # platform -> units
    budgets: dict[str, budgets.DailyBudget] = field(default_factory=dict)

    def jobs(self, claim: datetime) -> list[AccountJob]:
        out = []
        for key, items in self.chosen.items():
            platform, synthetic = self.platforms[key]
            size = self.sizes[key]
            for start in range(0, len(items), size):
                part = tuple(items[start : start + size])
                out.append(AccountJob(key, platform, synthetic, part, claim))
        return out


@dataclass
class AccountResult:
    written: int = 0
    stale: int = 0
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def account_batch_size(clients: Clients, platform: str, synthetic: bool) -> int | None:
    """The most accounts one ``fetch_accounts`` call may carry; ``None``: the platform's
    client reads no accounts (or there is no client)."""
    with clients.open(platform, synthetic) as client:
        if client is None or not isinstance(client, AccountReader):
            return None
        return max(int(client.account_batch_size), 1)


def _collectable() -> Any:
    return and_(
        Integration.status == IntegrationStatus.active.value,
        Integration.analytics_enabled.is_(True),
    )


def adopt(session: Session, now: datetime, workspace_id: uuid.UUID | None = None) -> int:
    """Give every collectable integration without an account-read state one, due now."""
    query = (
        select(Integration.id, Integration.workspace_id)
        .outerjoin(AccountReadState, AccountReadState.integration_id == Integration.id)
        .where(AccountReadState.integration_id.is_(None), _collectable())
    )
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    missing = session.execute(query).all()
    if not missing:
        return 0
    session.execute(
        insert_ignoring_conflicts(session, AccountReadState, ["integration_id"]),
        [
            {
                "integration_id": row.id,
                "workspace_id": row.workspace_id,
                "next_due_at": now,
                "outcome": Outcome.pending.value,
                "consecutive_failures": 0,
            }
            for row in missing
        ],
    )
    return len(missing)


def plan(
    session: Session,
    clients: Clients,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    integration_ids: Sequence[uuid.UUID] | None = None,
    limit: int = 20000,
) -> AccountPlan:
    """What a pass at ``now`` would read (nothing is written)."""
    result = AccountPlan(now=now)
    query = (
        select(
            Integration.workspace_id,
            Integration.id,
            Integration.platform,
            Integration.synthetic,
            Integration.username,
            Integration.external_account_id,
            Integration.credentials_encrypted.is_not(None).label("has_user_token"),
        )
        .join(
            AccountReadState,
            and_(
                AccountReadState.integration_id == Integration.id,
                AccountReadState.workspace_id == Integration.workspace_id,
            ),
        )
        .where(_collectable(), AccountReadState.next_due_at <= now)
        .order_by(AccountReadState.next_due_at, Integration.id)
        .limit(limit)
    )
    if workspace_id is not None:
        query = query.where(Integration.workspace_id == workspace_id)
    if integration_ids is not None:
        query = query.where(Integration.id.in_(list(integration_ids)))
    by_key: dict[str, list[AccountItem]] = defaultdict(list)
    sizes: dict[tuple[str, bool], int | None] = {}
    for r in session.execute(query):
        kind = (r.platform, bool(r.synthetic))
        if kind not in sizes:
            sizes[kind] = account_batch_size(clients, *kind)
        size = sizes[kind]
        if size is None:
            result.unsupported.append(r.id)
            continue
        key = clients.credential_key(r.platform, r.synthetic, r.id, r.has_user_token, r.username)
        by_key[key].append(AccountItem(r.workspace_id, r.id, r.external_account_id))
        result.platforms[key] = kind
        result.sizes[key] = size
    live = {k: p for k, (p, synthetic) in result.platforms.items() if not synthetic}
    rows = ratestate.states(
        session, [*live.values(), *(ratestate.endpoint_key(k, ACCOUNTS) for k in live)]
    )
    left: dict[str, int | None] = {}
    for key, items in by_key.items():
        platform, synthetic = result.platforms[key]
        if synthetic:
            result.chosen[key] = items
            continue
        platform_row = rows.get(platform)
        endpoint_row = rows.get(ratestate.endpoint_key(key, ACCOUNTS))
        if (
            ratestate.pause_of(platform_row, now)
            or ratestate.pause_of(endpoint_row, now)
            or ratestate.needs_probe(platform_row, now)
        ):
            result.paused[key] = len(items)
            continue
        budget = result.budgets.setdefault(platform, budgets.budget_for(clients.settings, platform))
        if platform not in left:
            left[platform] = ratestate.reads_left(platform_row, budget, now)
        units = left[platform]
        size = result.sizes[key]
        if units is not None:
            room = budget.capacity(units, size)
            if len(items) > room:
                result.over_budget[platform] = result.over_budget.get(platform, 0) + (
                    len(items) - room
                )
                items = items[:room]
            if not items:
                continue
            left[platform] = max(units - _cost(budget, len(items), size), 0)
        if budget.limited:  # an unlimited platform's count is of posts read: not these
            result.spend[platform] = result.spend.get(platform, 0) + _cost(budget, len(items), size)
        result.chosen[key] = items
    return result


def _cost(budget: budgets.DailyBudget, accounts: int, size: int) -> int:
    """Units reading ``accounts`` accounts costs: one per call on a quota (YouTube), one per
    account read on a post budget (X bills each resource read)."""
    if budget.per_call:
        return math.ceil(accounts / size) if accounts else 0
    return accounts


def claim(session: Session, result: AccountPlan, *, lease_until: datetime) -> list[AccountJob]:
    """Take the plan's accounts for one lease (in the caller's transaction); the jobs to
    queue once it commits."""
    now = result.now
    wanted = [i.integration_id for items in result.chosen.values() for i in items]
    claimed: set[uuid.UUID] = set()
    for start in range(0, len(wanted), 900):
        claimed.update(
            session.scalars(
                update(AccountReadState)
                .where(
                    AccountReadState.integration_id.in_(wanted[start : start + 900]),
                    AccountReadState.next_due_at <= now,
                )
                .values(next_due_at=lease_until)
                .returning(AccountReadState.integration_id)
                .execution_options(synchronize_session=False)
            )
        )
    for key in list(result.chosen):
        kept = [i for i in result.chosen[key] if i.integration_id in claimed]
        if kept:
            result.chosen[key] = kept
        else:
            del result.chosen[key]
    for start in range(0, len(result.unsupported), 900):
        session.execute(
            update(AccountReadState)
            .where(
                AccountReadState.integration_id.in_(result.unsupported[start : start + 900]),
                AccountReadState.next_due_at <= now,
            )
            .values(
                next_due_at=now + UNSUPPORTED_RECHECK,
                outcome=Outcome.unsupported.value,
                error_code="unsupported",
                error_message="reading this platform's accounts is not available yet",
            )
            .execution_options(synchronize_session=False)
        )
    for platform, units in result.spend.items():
        ratestate.count_reads(session, result.budgets[platform], units, now)
    return result.jobs(lease_until)


# ---- running one job --------------------------------------------------------------------


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
                _collectable(),
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
    """The window of the client's last response (the account read's), as captures take it."""
    window = client.rate_window()
    return (window,) if window is not None else ()


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
