"""The due set, platform policy, budgets and batches (SPEC §5.1-5.3).

``plan`` reads; ``claim`` writes. A planning pass:

1. selects targets whose ``next_due_at`` has come (oldest first, at most ``limit``), on
   active integrations with analytics on, skipping deleted targets;
2. applies the platform cap (X: each integration's 50 newest published posts, 72 h): a
   target outside it that has a reading already is *frozen*, not read;
3. holds back targets whose platform or metrics endpoint is paused (a spent rate window,
   depleted credits, a usage cap); after a platform-wide pause ends, one probe batch goes
   first;
4. under a daily read budget, keeps the targets that cost nothing today (already read this
   UTC day: X bills a post once a day) and then the freshest, most engaged ones;
5. groups targets by credential across integrations and workspaces and cuts batches of the
   platform's maximum, so N due X targets cost ⌈N/100⌉ requests.

``claim`` then writes, in the caller's transaction, the lease deadline into each chosen
target's ``next_due_at`` (only where it is still due, so two planners never both take a
target), marks frozen targets, counts budgeted reads and holds a probing platform. The
claim value travels with the job; the capture writes only if it still finds it there, and
derives its capture key from it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    func,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from openpost.analytics.models import Snapshot
from openpost.config import Settings
from openpost.integrations.models import Integration, IntegrationStatus
from openpost.platforms.registry import Clients
from openpost.platforms.spec import CredentialKey
from openpost.posts.models import PostTarget, TargetStatus
from openpost.refresh import budgets, ratestate
from openpost.refresh.batches import Batch as Batch  # re-exported: planner's results
from openpost.refresh.batches import BatchItem as BatchItem
from openpost.refresh.batches import DueTarget as DueTarget
from openpost.refresh.batches import Plan as Plan
from openpost.refresh.models import Outcome, RefreshState
from openpost.refresh.policy import CollectionPolicy

CHUNK = 900  # ids per IN (...) list: well under SQLite's bound-parameter limit


@lru_cache(maxsize=100_000)
def _parse_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


class _FastUuid(TypeDecorator[uuid.UUID]):
    """UUIDs read straight from the driver's text, each distinct value parsed once (workspace
    and integration ids repeat across rows). The due set has tens of thousands of rows, and
    the generic UUID result type costs more than the query there."""

    impl = String(36)
    cache_ok = True

    def process_result_value(self, value: Any, _dialect: Dialect) -> uuid.UUID | None:
        if value is None or isinstance(value, uuid.UUID):
            return value
        return _parse_uuid(str(value))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _due_query(
    now: datetime,
    *,
    dialect: str,
    workspace_id: uuid.UUID | None,
    target_ids: Sequence[uuid.UUID] | None,
    force: bool,
    limit: int,
) -> Any:
    query = (
        select(
            type_coerce(RefreshState.post_target_id, _FastUuid()).label("post_target_id"),
            type_coerce(PostTarget.workspace_id, _FastUuid()).label("workspace_id"),
            type_coerce(PostTarget.integration_id, _FastUuid()).label("integration_id"),
            Integration.platform,
            Integration.synthetic,
            Integration.credentials_encrypted.is_not(None).label("has_user_token"),
            Integration.username,
            PostTarget.platform_post_id,
            PostTarget.published_at,
            RefreshState.last_success_at,
        )
        # Joined on the ids alone: adding the (equal) workspace ids to the join conditions
        # makes PostgreSQL underestimate the join a thousandfold and pick a plan that reads
        # every target (7 s instead of 1 s at 10^6).
        .join(PostTarget, PostTarget.id == RefreshState.post_target_id)
        .join(Integration, Integration.id == PostTarget.integration_id)
        .where(
            PostTarget.status == TargetStatus.published.value,
            PostTarget.platform_post_id.is_not(None),
            Integration.status == IntegrationStatus.active.value,
            Integration.analytics_enabled.is_(True),
        )
    )
    if workspace_id is not None:
        query = query.where(RefreshState.workspace_id == workspace_id)
    if target_ids is not None:
        query = query.where(RefreshState.post_target_id.in_(list(target_ids)))
    if not force:
        due: ColumnElement[bool] = RefreshState.next_due_at <= now
        if dialect == "sqlite":
            # SQLite cannot tell how selective the range is and would scan every integration's
            # targets instead of the due index (6 s instead of 0.4 s at 10^6 targets).
            due = func.likelihood(due, literal_column("0.01"))
        query = (
            query.where(due)
            .order_by(RefreshState.next_due_at, RefreshState.post_target_id)
            .limit(limit)
        )
    return query


def select_due(
    session: Session,
    clients: Clients,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    target_ids: Sequence[uuid.UUID] | None = None,
    force: bool = False,
    limit: int = 20000,
) -> list[DueTarget]:
    """Targets due at ``now`` (or, with ``force``, every collectable one of ``target_ids``).

    Read through Core (no ORM result machinery: tens of thousands of rows per pass)."""
    connection = session.connection()
    dialect = connection.dialect.name
    rows: list[Any] = []  # Core rows, unpacked positionally below
    if target_ids is not None:
        for chunk in _chunks(list(target_ids)):
            query = _due_query(
                now,
                dialect=dialect,
                workspace_id=workspace_id,
                target_ids=chunk,
                force=force,
                limit=limit,
            )
            rows.extend(connection.execute(query).all())
    else:
        query = _due_query(
            now,
            dialect=dialect,
            workspace_id=workspace_id,
            target_ids=None,
            force=force,
            limit=limit,
        )
        rows = list(connection.execute(query).all())
    keys: dict[uuid.UUID, str] = {}  # one per integration: many targets share it
    due: list[DueTarget] = []
    append = due.append
    for (
        target_id,
        workspace_id,
        integration_id,
        platform,
        synthetic,
        has_user_token,
        username,
        post_id,
        published_at,
        last_success_at,
    ) in rows:
        key = keys.get(integration_id)
        if key is None:
            key = keys[integration_id] = clients.credential_key(
                platform, synthetic, integration_id, has_user_token, username
            )
        append(
            DueTarget(
                target_id,
                workspace_id,
                integration_id,
                platform,
                synthetic,
                key,
                post_id,
                published_at or now,
                last_success_at,
                username or "",
            )
        )
    return due


def newest_ranks(
    session: Session, targets: Sequence[DueTarget], depth: int
) -> dict[uuid.UUID, int]:
    """The rank (1 = newest published by ``published_at``) of each of ``targets`` within
    its integration, for those among the ``depth`` newest; deeper targets are absent."""
    ranks: dict[uuid.UUID, int] = {}
    by_integration: dict[uuid.UUID, list[DueTarget]] = defaultdict(list)
    for target in targets:
        by_integration[target.integration_id].append(target)
    integrations = sorted(by_integration)
    step = 100  # integrations per query, so that the id lists stay short
    for start in range(0, len(integrations), step):
        chunk = integrations[start : start + step]
        wanted = [t for i in chunk for t in by_integration[i]]
        ranked = (
            select(
                PostTarget.id,
                func.row_number()
                .over(
                    partition_by=PostTarget.integration_id,
                    order_by=(PostTarget.published_at.desc(), PostTarget.id.desc()),
                )
                .label("rank"),
            )
            .where(
                PostTarget.integration_id.in_(chunk),
                PostTarget.workspace_id.in_({t.workspace_id for t in wanted}),
                PostTarget.status == TargetStatus.published.value,
            )
            .subquery()
        )
        for part in _chunks([t.target_id for t in wanted]):
            for target_id, rank in session.connection().execute(
                select(ranked.c.id, ranked.c.rank).where(
                    ranked.c.rank <= depth, ranked.c.id.in_(part)
                )
            ):
                ranks[target_id] = rank
    return ranks


def _engagement(session: Session, targets: Sequence[DueTarget]) -> dict[uuid.UUID, int]:
    """Latest impressions (or, where none are reported, interactions) of each target."""
    found: dict[uuid.UUID, int] = {}
    for chunk in _chunks([t.target_id for t in targets]):
        rows = session.execute(
            select(
                RefreshState.post_target_id,
                Snapshot.impressions,
                Snapshot.likes,
                Snapshot.comments,
                Snapshot.shares,
            )
            .join(Snapshot, Snapshot.id == RefreshState.latest_snapshot_id)
            .where(RefreshState.post_target_id.in_(chunk))
        )
        for row in rows:
            if row.impressions is not None:
                found[row.post_target_id] = row.impressions
            else:
                found[row.post_target_id] = sum(
                    v or 0 for v in (row.likes, row.comments, row.shares)
                )
    return found


def plan(
    session: Session,
    settings: Settings,
    policy: CollectionPolicy,
    clients: Clients,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    target_ids: Sequence[uuid.UUID] | None = None,
    force: bool = False,
) -> Plan:
    """What a pass at ``now`` would read (nothing is written)."""
    result = Plan(now=now)
    due = select_due(
        session,
        clients,
        now,
        workspace_id=workspace_id,
        target_ids=target_ids,
        force=force,
        limit=settings.plan_max_targets,
    )
    readable = _apply_caps(session, policy, due, now, result)

    by_key: dict[str, list[DueTarget]] = defaultdict(list)
    for target in readable:
        by_key[target.key].append(target)
    live = {t.key: t.platform for t in readable if not t.synthetic}
    result.budgets = {p: budgets.budget_for(settings, p) for p in set(live.values())}
    rows = ratestate.states(
        session,
        [
            *live.values(),
            *(ratestate.endpoint_key(k, ratestate.METRICS) for k in live),
            *(
                budgets.credential_row(k)
                for k, p in live.items()
                if result.budgets[p].per_credential
            ),
        ],
    )
    for key, targets in by_key.items():
        first = targets[0]
        size = clients.batch_size(first.platform, first.synthetic)
        if not first.synthetic:
            platform_row = rows.get(first.platform)
            endpoint_row = rows.get(ratestate.endpoint_key(key, ratestate.METRICS))
            if ratestate.pause_of(platform_row, now) or ratestate.pause_of(endpoint_row, now):
                result.paused[key] = len(targets)
                continue
            if ratestate.needs_probe(platform_row, now):
                result.probes.add(key)
                result.paused[key] = max(len(targets) - size, 0)
                targets = targets[:size]
        result.batch_sizes[key] = size
        result.chosen[key] = targets

    _apply_budgets(session, policy, result, rows)
    return result


def _apply_caps(
    session: Session, policy: CollectionPolicy, due: list[DueTarget], now: datetime, result: Plan
) -> list[DueTarget]:
    # A target never read successfully still gets its first reading, whatever the cap; and
    # only targets inside their platform's window need their rank among the newest.
    capped = [
        t
        for t in due
        if t.last_success_at is not None
        and policy.refreshable(t.platform, t.published_at, now, None)
        and t.platform in policy.caps
    ]
    ranks: dict[uuid.UUID, int] = {}
    depth = max((cap.max_posts for cap in policy.caps.values()), default=0)
    if capped:
        ranks = newest_ranks(session, capped, depth)
    readable = []
    for target in due:
        if target.last_success_at is not None and not policy.refreshable(
            target.platform,
            target.published_at,
            now,
            ranks.get(target.target_id, depth + 1) if target.platform in policy.caps else None,
        ):
            result.frozen.append(target)
        else:
            readable.append(target)
    return readable


def _apply_budgets(
    session: Session,
    policy: CollectionPolicy,
    result: Plan,
    rows: dict[str, Any],
) -> None:
    """Keep each platform inside its daily budget: the reads that cost nothing go, then the
    freshest tier, the most engaged and the newest posts, as many as the units left pay
    for (X: one post per unit; YouTube: a batch of 50 per unit)."""
    now = result.now
    spent: dict[str, int] = defaultdict(int)
    for key in list(result.chosen):
        targets = result.chosen[key]
        platform, synthetic = targets[0].platform, targets[0].synthetic
        if synthetic:
            continue
        budget = result.budgets[platform]
        left = ratestate.reads_left(rows.get(platform), budget, now)
        if left is not None:
            left = max(left - spent[platform], 0)
        own = budget.for_credential(key)
        if own is not None:  # the credential's own day too (LinkedIn's per-member limit)
            own_left = ratestate.reads_left(rows.get(own.platform), own, now)
            if own_left is not None:
                left = own_left if left is None else min(left, own_left)
        if left is None:
            continue
        size = result.batch_sizes[key]
        billable = [t for t in targets if budget.billable(t.last_success_at, now)]
        room = budget.capacity(left, size, targets[0].username)
        if len(billable) > room:
            engagement = _engagement(session, billable)
            billable.sort(
                key=lambda t: (
                    policy.tier_rank(t.published_at, now),
                    -engagement.get(t.target_id, 0),
                    -t.published_at.timestamp(),
                )
            )
            result.over_budget[platform] = (
                result.over_budget.get(platform, 0) + len(billable) - room
            )
            billable = billable[:room]
            free = [t for t in targets if not budget.billable(t.last_success_at, now)]
            targets = free + billable
            if not targets:
                del result.chosen[key]
                continue
            result.chosen[key] = targets
        spent[platform] += budget.cost(len(billable), size, targets[0].username)


def _claim_ids(
    session: Session, ids: Sequence[uuid.UUID], claim: datetime, now: datetime, force: bool
) -> set[uuid.UUID]:
    claimed: set[uuid.UUID] = set()
    for chunk in _chunks(sorted(ids)):
        condition: ColumnElement[bool] = RefreshState.post_target_id.in_(chunk)
        if not force:
            condition = and_(condition, RefreshState.next_due_at <= now)
        returned = session.execute(
            update(RefreshState)
            .where(condition)
            .values(next_due_at=claim)
            .returning(RefreshState.post_target_id)
            .execution_options(synchronize_session=False)
        )
        claimed.update(returned.scalars())
    return claimed


def claim(
    session: Session, result: Plan, *, lease_until: datetime, force: bool = False
) -> list[Batch]:
    """Take the plan's targets for one lease (in the caller's transaction); the batches to
    queue once it commits."""
    now = result.now
    wanted = [t.target_id for targets in result.chosen.values() for t in targets]
    claimed = _claim_ids(session, wanted, lease_until, now, force)
    for key in list(result.chosen):
        kept = [t for t in result.chosen[key] if t.target_id in claimed]
        if kept:
            result.chosen[key] = kept
        else:
            del result.chosen[key]
    frozen_ids = [t.target_id for t in result.frozen]
    for chunk in _chunks(sorted(frozen_ids)):
        session.execute(
            update(RefreshState)
            .where(RefreshState.post_target_id.in_(chunk), RefreshState.next_due_at <= now)
            .values(
                next_due_at=None,
                outcome=Outcome.frozen.value,
                error_code=None,
                error_message=None,
            )
            .execution_options(synchronize_session=False)
        )
    for platform, units in result.spend.items():
        ratestate.count_reads(session, result.budgets[platform], units, now)
    for key, units in result.credential_spend.items():
        own = result.budgets[CredentialKey.parse(key).platform].for_credential(key)
        if own is not None:
            ratestate.count_reads(session, own, units, now)
    for key in result.probes & set(result.chosen):
        ratestate.mark_probing(session, result.chosen[key][0].platform, lease_until, now)
    return result.batches(lease_until)
