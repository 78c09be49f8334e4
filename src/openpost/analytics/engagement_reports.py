"""What works best: the tag report and the posting-time view (issue 14, SPEC §9.5).

Both cover the posts of an ``overview.Scope`` (published in ``[start, end)``, optionally one
integration or platform), and use ``analytics.engagement``'s arithmetic, so null (not
reported) and 0 (measured zero) never blend.

**Tag report.** Per tag (a post's ``tags``; a post counts once per distinct tag): ``posts``,
``reporting`` (those with engagement figures), ``total_engagements`` (the sum of their
engagements), ``median_engagements`` (over the reporting posts) and ``engagement_rate``
(Σ engagements ÷ Σ impressions over the tag's targets that report both). A post's
engagements are the sum over its targets in scope of their latest reading's engagements,
the ``totals.engagements`` of ``GET /v1/analytics/post/{id}`` when the scope holds every
target. Posts without tags are one row of their own (``untagged``).

**Posting-time view.** Posts are compared at the same age, not at whatever age they have
now: each target's reading nearest to ``AGE`` (24 h) after its publication, within
``TOLERANCE`` (± 12 h); a post's engagement at that age is the sum over its targets that
have such a reading and report engagement. Each post falls into the cell of its local
weekday by hour of publication (the workspace's timezone; its earliest target in scope). A
cell shows the median and its sample size ``posts``; with fewer than ``MIN_POSTS`` posts its
median is withheld (``too_few``), so no one reads a pattern into three posts. Rows and
columns (each weekday, each hour) follow the same rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ColumnElement, DateTime, Select, and_, distinct, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from openpost.analytics import engagement
from openpost.analytics.models import Snapshot
from openpost.analytics.overview import Scope, in_scope, published
from openpost.core.sqltext import json_text, uuid_text
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState

AGE = timedelta(hours=24)
TOLERANCE = timedelta(hours=12)
MIN_POSTS = 5
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -------------------------------------------------------------------------- tag report


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: str | None  # None: the posts without tags
    posts: int
    reporting: int
    total_engagements: int | None
    median_engagements: float | None
    engagement_rate: float | None
    impressions: int | None  # the rate's denominator: Σ impressions of the targets used

    def as_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "posts": self.posts,
            "posts_reporting": self.reporting,
            "total_engagements": self.total_engagements,
            "median_engagements": self.median_engagements,
            "engagement_rate": self.engagement_rate,
            "rate_impressions": self.impressions,
        }


@dataclass(frozen=True, slots=True)
class TagReport:
    tags: list[TagRow]
    untagged: TagRow | None
    posts: int

    def as_json(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "tags": [row.as_json() for row in self.tags],
            "untagged": self.untagged.as_json() if self.untagged else None,
        }


def _tags(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    return list(dict.fromkeys(t for t in raw if isinstance(t, str) and t))


@dataclass(slots=True)
class _PostFigures:
    engagements: list[int | None] = field(default_factory=list)
    pairs: list[tuple[int | None, int | None]] = field(default_factory=list)

    @property
    def total(self) -> int | None:
        return engagement.sum_reported(self.engagements)


def _tag_row(tag: str | None, posts: list[_PostFigures]) -> TagRow:
    totals = [p.total for p in posts]
    pairs = [pair for p in posts for pair in p.pairs]
    used = [(n, d) for n, d in pairs if n is not None and d is not None]
    return TagRow(
        tag=tag,
        posts=len(posts),
        reporting=sum(1 for t in totals if t is not None),
        total_engagements=engagement.sum_reported(totals),
        median_engagements=engagement.median(totals),
        engagement_rate=engagement.pooled_rate(used),
        impressions=sum(d for _, d in used) if used else None,
    )


_latest = aliased(Snapshot, name="latest")


def _latest_with_tags(scope: Scope) -> Select[*tuple[Any, ...]]:
    """Per target in scope: its post (id as text), the post's tags (JSON text) and its
    latest reading's counters (the refresh state's pointer, as the API reads it)."""
    query: Select[*tuple[Any, ...]] = (
        select(
            uuid_text(PostTarget.post_id),
            json_text(Post.tags),
            _latest.impressions,
            _latest.likes,
            _latest.comments,
            _latest.shares,
        )
        .select_from(PostTarget)
        .outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
        .outerjoin(_latest, _latest.id == RefreshState.latest_snapshot_id)
    )
    return in_scope(query, scope)


def tag_report(session: Session, scope: Scope) -> TagReport:
    """Per tag, the posts in scope and their engagement (module docstring).

    API: ``GET /v1/analytics/tags``. From the per-post endpoint: group the posts by tag and
    combine each post's ``totals.engagements`` and its targets' ``engagements`` and
    ``impressions`` as described above.
    """
    figures: dict[str, _PostFigures] = defaultdict(_PostFigures)
    tags_of: dict[str, str | None] = {}
    for post_id, raw_tags, impressions, likes, comments, shares in session.execute(
        _latest_with_tags(scope)
    ):
        total = engagement.engagements(likes, comments, shares)
        post = figures[post_id]
        post.engagements.append(total)
        post.pairs.append((total, impressions))
        tags_of[post_id] = raw_tags
    by_tag: dict[str | None, list[_PostFigures]] = defaultdict(list)
    for post_id, raw in tags_of.items():
        tags: list[str | None] = [*_tags(orjson.loads(raw) if raw else None)] or [None]
        for tag in tags:
            by_tag[tag].append(figures[post_id])
    tagged = [_tag_row(tag, posts) for tag, posts in by_tag.items() if tag is not None]
    tagged.sort(key=lambda row: (-row.posts, row.tag or ""))
    untagged = _tag_row(None, by_tag[None]) if by_tag.get(None) else None
    return TagReport(tags=tagged, untagged=untagged, posts=len(figures))


# ------------------------------------------------------------------- posting-time view


class _Shifted(FunctionElement[datetime]):
    """A timestamp column plus a whole number of hours, comparable with stored times."""

    type = DateTime()
    name = "shifted_time"
    inherit_cache = True


@compiles(_Shifted)
def _shifted_postgresql(element: _Shifted, compiler: SQLCompiler, **kw: Any) -> str:
    column, hours = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} + make_interval(hours => {hours}))"


@compiles(_Shifted, "sqlite")
def _shifted_sqlite(element: _Shifted, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as "YYYY-MM-DD HH:MM:SS.ffffff"; %f gives milliseconds: pad to microseconds.
    column, hours = (compiler.process(c, **kw) for c in element.clauses)
    return f"(strftime('%Y-%m-%d %H:%M:%f', {column}, {hours} || ' hours') || '000')"


def shifted(column: ColumnElement[datetime], delta: timedelta) -> ColumnElement[datetime]:
    hours = int(delta / timedelta(hours=1))
    if timedelta(hours=hours) != delta:
        raise ValueError("shifted() takes whole hours")
    return _Shifted(column, hours)


@dataclass(frozen=True, slots=True)
class Cell:
    posts: int
    median_engagements: float | None  # None when too few posts, or none reports
    too_few: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "median_engagements": self.median_engagements,
            "too_few": self.too_few,
        }


def _cell(values: list[int], minimum: int) -> Cell:
    too_few = len(values) < minimum
    return Cell(len(values), None if too_few else engagement.median(values), too_few)


@dataclass(frozen=True, slots=True)
class PostingTimes:
    timezone: str
    age_hours: int
    tolerance_hours: int
    min_posts: int
    posts: int  # posts in scope
    measured: int  # of them, with a reading at about ``AGE``
    cells: list[list[Cell]]  # [weekday 0 = Monday][hour 0-23]
    weekdays: list[Cell]
    hours: list[Cell]

    def as_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "age_hours": self.age_hours,
            "tolerance_hours": self.tolerance_hours,
            "min_posts": self.min_posts,
            "posts": self.posts,
            "posts_measured": self.measured,
            "weekdays": [
                {"weekday": WEEKDAYS[d], **cell.as_json()} for d, cell in enumerate(self.weekdays)
            ],
            "hours": [{"hour": h, **cell.as_json()} for h, cell in enumerate(self.hours)],
            "cells": [
                {"weekday": WEEKDAYS[d], "hour": h, **cell.as_json()}
                for d, row in enumerate(self.cells)
                for h, cell in enumerate(row)
                if cell.posts
            ],
        }


def readings_at_age(
    session: Session, scope: Scope, age: timedelta = AGE, tolerance: timedelta = TOLERANCE
) -> Iterable[Any]:
    """Rows ``(target_id, post_id, published, captured_at, likes, comments, shares)``: per
    target in scope, at most two readings captured within ``age ± tolerance`` of its
    publication: the last before ``age`` and the first at or after it (the nearest reading
    is one of them; ``engagement_at_age`` picks it, ties to the earlier). Each is found by
    one probe of the ``(post_target_id, captured_at)`` index, so the work grows with the
    targets in scope, not with their readings."""
    when = published()

    def probe(edge: Any, low: timedelta, high: timedelta, *, before: bool) -> Any:
        found = select(edge(Snapshot.captured_at)).where(
            Snapshot.post_target_id == PostTarget.id,  # a target in scope: the workspace's
            Snapshot.captured_at >= shifted(when, low),
            Snapshot.captured_at < shifted(when, high)
            if before
            else Snapshot.captured_at <= shifted(when, high),
        )
        return found.scalar_subquery()

    candidates = in_scope(
        select(
            PostTarget.id.label("id"),
            uuid_text(PostTarget.id).label("target_id"),
            uuid_text(PostTarget.post_id).label("post_id"),
            when.label("published"),
            probe(func.max, age - tolerance, age, before=True).label("before_at"),
            probe(func.min, age, age + tolerance, before=False).label("after_at"),
        ).select_from(PostTarget),
        scope,
    ).subquery("candidates")
    query = select(
        candidates.c.target_id,
        candidates.c.post_id,
        candidates.c.published,
        Snapshot.captured_at,
        Snapshot.likes,
        Snapshot.comments,
        Snapshot.shares,
    ).join(
        Snapshot,
        and_(
            Snapshot.post_target_id == candidates.c.id,
            Snapshot.workspace_id == scope.workspace_id,
            or_(
                Snapshot.captured_at == candidates.c.before_at,
                Snapshot.captured_at == candidates.c.after_at,
            ),
        ),
    )
    return session.execute(query)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def engagement_at_age(
    rows: Iterable[Any], age: timedelta = AGE
) -> dict[Any, tuple[datetime, int | None]]:
    """Per post: its publication (earliest target) and its engagement at ``age``: the sum
    over its targets of the reading nearest to publication + ``age`` (ties: the earlier)."""
    nearest: dict[Any, tuple[timedelta, datetime, Any, int | None, datetime]] = {}
    for target_id, post_id, when, captured, likes, comments, shares in rows:
        when, captured = _aware(when), _aware(captured)
        distance = abs(captured - (when + age))
        found = nearest.get(target_id)
        if found is None or (distance, captured) < (found[0], found[1]):
            nearest[target_id] = (
                distance,
                captured,
                post_id,
                engagement.engagements(likes, comments, shares),
                when,
            )
    posts: dict[Any, tuple[datetime, list[int | None]]] = {}
    for _, _, post_id, value, when in nearest.values():
        first, values = posts.get(post_id, (when, []))
        values.append(value)
        posts[post_id] = (min(first, when), values)
    return {post: (when, engagement.sum_reported(values)) for post, (when, values) in posts.items()}


def posting_times(
    session: Session, scope: Scope, timezone: str, *, min_posts: int = MIN_POSTS
) -> PostingTimes:
    """The weekday by hour grid of median engagement at ``AGE`` (module docstring).

    API: ``GET /v1/analytics/posting-times``.
    """
    zone = ZoneInfo(timezone)
    measured = engagement_at_age(readings_at_age(session, scope))
    grid: list[list[list[int]]] = [[[] for _ in range(24)] for _ in range(7)]
    for when, value in measured.values():
        if value is None:
            continue
        local = when.astimezone(zone)
        grid[local.weekday()][local.hour].append(value)
    count_query = in_scope(
        select(func.count(distinct(PostTarget.post_id))).select_from(PostTarget), scope
    )
    total = session.scalar(count_query) or 0
    return PostingTimes(
        timezone=timezone,
        age_hours=int(AGE / timedelta(hours=1)),
        tolerance_hours=int(TOLERANCE / timedelta(hours=1)),
        min_posts=min_posts,
        posts=total,
        measured=sum(len(cell) for row in grid for cell in row),
        cells=[[_cell(cell, min_posts) for cell in row] for row in grid],
        weekdays=[_cell([v for cell in row for v in cell], min_posts) for row in grid],
        hours=[_cell([v for row in grid for v in row[h]], min_posts) for h in range(24)],
    )
