"""Read-side views the dashboard needs beyond the two API endpoints.

Every number here is built from the same pieces as the API's: latest metrics and deltas
come from the ``RefreshState`` pointers (the two newest snapshots of a target, exactly
what ``GET /v1/analytics/post/{id}`` reads), and are combined with
``arithmetic.delta`` and ``arithmetic.totals``, the functions behind the API's ``delta``
and ``totals``. So ``None`` (not reported) and ``0`` (measured zero) never blend here
either.

**Scope.** A ``Scope`` selects post targets: those of the workspace whose publication
time (the target's ``published_at``, else its post's) falls in ``[start, end)``,
optionally of one integration and/or one platform. The dashboard's range filter is this
window: "posts published in the last 30 days". Disconnected integrations keep their
history and stay in scope.

How an API client reproduces each figure is in each function's docstring.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from openpost.analytics.arithmetic import delta, totals
from openpost.analytics.models import METRICS, Snapshot
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import Outcome, RefreshState

AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])

SORT_KEYS = ("published", *METRICS, *(f"delta_{m}" for m in METRICS))


@dataclass(frozen=True, slots=True)
class Scope:
    """Which targets a view covers: see the module docstring."""

    workspace_id: uuid.UUID
    start: datetime
    end: datetime
    integration_id: uuid.UUID | None = None
    platform: str | None = None

    def shifted(self, start: datetime, end: datetime) -> Scope:
        return replace(self, start=start, end=end)


def published() -> ColumnElement[datetime]:
    return func.coalesce(PostTarget.published_at, Post.published_at)


def in_scope(query: AnySelect, scope: Scope) -> AnySelect:
    """Join what the scope filters on and apply it. ``query`` selects from PostTarget."""
    query = (
        query.join(Post, Post.id == PostTarget.post_id)
        .join(Integration, Integration.id == PostTarget.integration_id)
        .where(
            PostTarget.workspace_id == scope.workspace_id,
            Post.workspace_id == scope.workspace_id,
            published() >= scope.start,
            published() < scope.end,
        )
    )
    if scope.integration_id is not None:
        query = query.where(PostTarget.integration_id == scope.integration_id)
    if scope.platform is not None:
        query = query.where(Integration.platform == scope.platform)
    return query


_latest = aliased(Snapshot, name="latest")
_previous = aliased(Snapshot, name="previous")


def _with_pointers(query: AnySelect) -> AnySelect:
    return (
        query.outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .outerjoin(_latest, _latest.id == RefreshState.latest_snapshot_id)
        .outerjoin(_previous, _previous.id == RefreshState.previous_snapshot_id)
    )


_TARGET_COLUMNS = (
    PostTarget.id.label("target_id"),
    PostTarget.post_id,
    PostTarget.status,
    Integration.platform,
    Integration.username,
    _latest.id.label("l_id"),
    _latest.captured_at.label("l_captured_at"),
    *(getattr(_latest, m).label(f"l_{m}") for m in METRICS),
    _previous.id.label("p_id"),
    *(getattr(_previous, m).label(f"p_{m}") for m in METRICS),
)


def _metrics(row: Any, prefix: str) -> dict[str, int | None] | None:
    if getattr(row, f"{prefix}id") is None:
        return None
    return {m: getattr(row, f"{prefix}{m}") for m in METRICS}


@dataclass(frozen=True, slots=True)
class TargetFigures:
    """One target's latest metrics and delta, as the API's per-post response has them."""

    target_id: uuid.UUID
    post_id: uuid.UUID
    platform: str
    username: str
    status: str
    captured_at: datetime | None
    latest: dict[str, int | None]
    delta: dict[str, int | None]
    first_reading: bool = False
    """Only one reading so far: ``delta`` is then the whole value (the API's rule), and a
    page says "first reading" rather than showing it as a change."""


def _figures(row: Any) -> TargetFigures:
    latest = _metrics(row, "l_")
    return TargetFigures(
        target_id=row.target_id,
        post_id=row.post_id,
        platform=row.platform,
        username=row.username,
        status=row.status,
        captured_at=row.l_captured_at,
        latest=latest or dict.fromkeys(METRICS),
        delta=delta(latest, _metrics(row, "p_")),
        first_reading=row.l_id is not None and row.p_id is None,
    )


def target_figures(
    session: Session, scope: Scope, post_ids: Sequence[uuid.UUID] | None = None
) -> list[TargetFigures]:
    """Latest metrics and delta of every target in scope (of ``post_ids`` if given).

    API: ``GET /v1/analytics/post/{id}`` lists the same per-target metrics and ``delta``.
    """
    query = _with_pointers(in_scope(select(*_TARGET_COLUMNS).select_from(PostTarget), scope))
    if post_ids is not None:
        query = query.where(PostTarget.post_id.in_(list(post_ids)))
    return [_figures(row) for row in session.execute(query.order_by(PostTarget.id))]


# -- range totals ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeTotals:
    totals: dict[str, int | None]
    """Per metric, the sum of the latest readings of the targets in scope."""
    since_previous_reading: dict[str, int | None]
    """Per metric, the sum of the targets' deltas (latest minus the reading before)."""
    previous_period: dict[str, int | None]
    """``totals`` for the equal-length period just before this one."""
    change: dict[str, int | None]
    """``totals`` minus ``previous_period``; ``None`` where either is ``None``."""
    change_percent: dict[str, float | None]
    """``change`` over ``previous_period`` in percent; ``None`` when that is 0 or ``None``."""
    reporting: dict[str, int]
    """Per metric, how many targets in scope report it (have a non-null latest value)."""
    posts: int
    targets: int
    previous_posts: int


def range_totals(
    session: Session, scope: Scope, previous_start: datetime, previous_end: datetime
) -> RangeTotals:
    """Totals of the targets in scope, their change since the previous reading, and the
    same totals for the previous period ``[previous_start, previous_end)``.

    API: for each post published in the range, ``GET /v1/analytics/post/{id}`` gives
    ``totals`` and ``delta`` (with a platform or integration filter, sum the matching
    ``targets`` instead); summing those over the posts gives ``totals`` and
    ``since_previous_reading``. ``GET /v1/analytics/export?view=latest`` has the same
    per-target latest values and deltas in one file.
    """
    current = target_figures(session, scope)
    earlier = target_figures(session, scope.shifted(previous_start, previous_end))
    now_totals = totals(f.latest for f in current)
    before = totals(f.latest for f in earlier)
    change = delta(now_totals, before) if earlier else dict.fromkeys(METRICS)
    percent: dict[str, float | None] = {}
    for metric in METRICS:
        diff, base = change[metric], before[metric]
        percent[metric] = None if diff is None or not base else round(100 * diff / base, 1)
    return RangeTotals(
        totals=now_totals,
        since_previous_reading=totals(f.delta for f in current),
        previous_period=before,
        change=change,
        change_percent=percent,
        reporting={m: sum(1 for f in current if f.latest[m] is not None) for m in METRICS},
        posts=len({f.post_id for f in current}),
        targets=len(current),
        previous_posts=len({f.post_id for f in earlier}),
    )


# -- local days ----------------------------------------------------------------------


def bucket_index(column: ColumnElement[datetime], bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index ``i`` with ``bounds[i] <= column < bounds[i+1]``, as a balanced CASE tree.

    Day boundaries are computed in Python from the workspace's IANA zone (so a 23- or
    25-hour day is one bucket), and the database only compares timestamps: the same SQL
    on SQLite and PostgreSQL, ~log2(days) comparisons per row.
    """

    def node(lo: int, hi: int) -> ColumnElement[int]:
        if lo == hi:
            return literal(lo)
        mid = (lo + hi + 1) // 2
        return case((column < bounds[mid], node(lo, mid - 1)), else_=node(mid, hi))

    return node(0, len(bounds) - 2)


def local_day_starts(timezone: str, first: date, last: date) -> list[datetime]:
    """UTC instants of the local midnights that start ``first`` … ``last`` and end ``last``.

    Computed per date with the IANA zone, so a daylight-saving day is 23 or 25 hours long
    and still one day. A midnight that does not exist (a zone that springs forward at
    00:00) resolves to the instant the day actually starts.
    """
    zone = ZoneInfo(timezone)
    count = (last - first).days + 2
    return [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=zone).astimezone(UTC)
        for i in range(count)
    ]


# -- posts table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostRow:
    post_id: uuid.UUID
    content: str
    status: str
    published_at: datetime | None
    captured_at: datetime | None
    totals: dict[str, int | None]
    delta: dict[str, int | None]
    targets: list[TargetFigures]


@dataclass(frozen=True, slots=True)
class PostsPage:
    rows: list[PostRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _sort_column(sort: str) -> ColumnElement[Any]:
    if sort == "published":
        return func.min(published())
    if sort in METRICS:
        return func.sum(getattr(_latest, sort))
    metric = sort.removeprefix("delta_")
    latest, previous = getattr(_latest, metric), getattr(_previous, metric)
    return func.sum(case((_previous.id.is_(None), latest), else_=latest - previous))


def posts_page(
    session: Session,
    scope: Scope,
    *,
    sort: str = "published",
    descending: bool = True,
    page: int = 1,
    per_page: int = 25,
    search: str | None = None,
) -> PostsPage:
    """Posts with a target in scope, one row each, sorted and paginated.

    A row's ``totals`` and ``delta`` are ``arithmetic.totals`` over its targets in scope,
    like the ``totals`` and ``delta`` of ``GET /v1/analytics/post/{id}`` (which covers
    all of the post's targets). Sorting happens in the database on the same sums (SQL
    ``SUM`` skips NULLs and is NULL when every value is, exactly ``totals``' rule); posts
    where the sort metric is not reported come last in either direction.
    ``search`` matches the content, case-insensitively.
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort!r}")
    key = _sort_column(sort)
    query = _with_pointers(
        in_scope(select(PostTarget.post_id, key.label("key")).select_from(PostTarget), scope)
    ).group_by(PostTarget.post_id)
    counted = in_scope(
        select(func.count(distinct(PostTarget.post_id))).select_from(PostTarget), scope
    )
    if search:
        query = query.where(Post.content.icontains(search, autoescape=True))
        counted = counted.where(Post.content.icontains(search, autoescape=True))
    ordered = key.desc() if descending else key.asc()
    tiebreak = PostTarget.post_id.desc() if descending else PostTarget.post_id.asc()
    query = (
        query.order_by(ordered.nulls_last(), tiebreak).limit(per_page).offset((page - 1) * per_page)
    )
    post_ids = [row.post_id for row in session.execute(query)]
    total = session.scalar(counted) or 0
    return PostsPage(_post_rows(session, scope, post_ids), total, page, per_page)


def _post_rows(session: Session, scope: Scope, post_ids: list[uuid.UUID]) -> list[PostRow]:
    if not post_ids:
        return []
    figures: dict[uuid.UUID, list[TargetFigures]] = defaultdict(list)
    for figure in target_figures(session, scope, post_ids):
        figures[figure.post_id].append(figure)
    posts = {
        row.id: row
        for row in session.execute(
            select(Post.id, Post.content, Post.status, Post.published_at).where(
                Post.id.in_(post_ids), Post.workspace_id == scope.workspace_id
            )
        )
    }
    rows = []
    for post_id in post_ids:
        post, targets = posts[post_id], figures[post_id]
        captured = [t.captured_at for t in targets if t.captured_at is not None]
        rows.append(
            PostRow(
                post_id=post_id,
                content=post.content,
                status=post.status,
                published_at=post.published_at,
                captured_at=max(captured) if captured else None,
                totals=totals(t.latest for t in targets),
                delta=totals(t.delta for t in targets),
                targets=targets,
            )
        )
    return rows


post_rows = _post_rows  # public: the engagement views rank posts themselves, then build rows


def top_posts(session: Session, scope: Scope, metric: str, limit: int = 5) -> list[PostRow]:
    """The ``limit`` posts in scope with the highest latest ``metric`` (summed over their
    targets in scope). API: rank the posts by ``totals[metric]`` of their per-post
    responses."""
    return posts_page(session, scope, sort=metric, per_page=limit).rows


# -- one post's refresh states -----------------------------------------------------------


def refresh_details(
    session: Session, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> dict[str, dict[str, Any]]:
    """Each target's full refresh state, keyed by target id (string): what the API's
    ``refresh`` object carries plus the last attempt, error and failure streak."""
    rows = session.execute(
        select(
            PostTarget.id,
            RefreshState.outcome,
            RefreshState.last_attempt_at,
            RefreshState.last_success_at,
            RefreshState.next_due_at,
            RefreshState.error_code,
            RefreshState.error_message,
            RefreshState.consecutive_failures,
        )
        .select_from(PostTarget)
        .outerjoin(
            RefreshState,
            and_(
                RefreshState.post_target_id == PostTarget.id,
                RefreshState.workspace_id == workspace_id,
            ),
        )
        .where(PostTarget.post_id == post_id, PostTarget.workspace_id == workspace_id)
    ).all()
    return {
        str(row.id): {
            "outcome": row.outcome or Outcome.pending.value,
            "last_attempt_at": format_time(row.last_attempt_at),
            "last_success_at": format_time(row.last_success_at),
            "next_refresh_at": format_time(row.next_due_at),
            "error_code": row.error_code,
            "error_message": row.error_message,
            "consecutive_failures": row.consecutive_failures or 0,
        }
        for row in rows
    }
