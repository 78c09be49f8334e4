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
   the jobs go out; ``refresh.account_capture.run`` reads one batch outside any
   transaction and writes, while the states still carry its claim, one account snapshot per
   account (capture key from the claim: a repeated job writes nothing twice), the states,
   and the rate window.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from openpost.accounts.models import AccountReadState
from openpost.core.db import insert_ignoring_conflicts
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.platforms.base import (
    AccountReader,
)
from openpost.platforms.registry import Clients
from openpost.refresh import budgets, ratestate
from openpost.refresh.models import Outcome
from openpost.refresh.policy import UNSUPPORTED_RECHECK

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
    try:
        with clients.open(platform, synthetic) as client:
            if client is None or not isinstance(client, AccountReader):
                return None
            return max(int(client.account_batch_size), 1)
    except Exception:  # a client that cannot be built must not stop the whole pass
        log.exception("cannot build the client for account reads", extra={"platform": platform})
        return None


def collectable() -> Any:
    return and_(
        Integration.status == IntegrationStatus.active.value,
        Integration.analytics_enabled.is_(True),
    )


def adopt(session: Session, now: datetime, workspace_id: uuid.UUID | None = None) -> int:
    """Give every collectable integration without an account-read state one, due now."""
    query = (
        select(Integration.id, Integration.workspace_id)
        .outerjoin(AccountReadState, AccountReadState.integration_id == Integration.id)
        .where(AccountReadState.integration_id.is_(None), collectable())
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
        .where(collectable(), AccountReadState.next_due_at <= now)
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
