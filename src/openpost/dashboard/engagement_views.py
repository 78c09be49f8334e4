"""The dashboard's engagement figures (SPEC §9.5, issue 14), from the API's services.

- ``post_engagement``: each listed post's engagements and both rates, pooled over its
  targets in scope as ``totals`` of ``GET /v1/analytics/post/{id}`` pools them (the same
  ``analytics.engagement.totals_fields``).
- ``top_posts``: the overview's top posts by ``engagements`` or ``engagement_rate``.
- ``reports_page``: the tag report and the posting-time view for the page's filters.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpost.analytics import engagement, engagement_reports, overview
from openpost.analytics.engagement_followers import followers_at_readings
from openpost.dashboard.sessions import Viewer
from openpost.posts.models import PostTarget

TOP_KEYS = ("engagements", "engagement_rate")
TOP_LABELS = {"engagements": "engagements", "engagement_rate": "engagement rate (of views)"}


def _integrations(
    session: Session, workspace_id: uuid.UUID, target_ids: list[Any]
) -> dict[Any, Any]:
    if not target_ids:
        return {}
    rows = session.execute(
        select(PostTarget.id, PostTarget.integration_id).where(
            PostTarget.workspace_id == workspace_id, PostTarget.id.in_(target_ids)
        )
    )
    return {row.id: row.integration_id for row in rows}


def post_engagement(
    session: Session, workspace_id: uuid.UUID, rows: list[overview.PostRow]
) -> dict[str, dict[str, Any]]:
    """Per post (id as text): ``engagements``, ``engagement_rate`` (of views),
    ``engagement_rate_by_followers``, and the views behind the rate."""
    figures = [t for row in rows for t in row.targets]
    accounts = _integrations(session, workspace_id, [t.target_id for t in figures])
    readings = [
        (accounts[t.target_id], t.captured_at)
        for t in figures
        if t.captured_at is not None and t.target_id in accounts
    ]
    followers = followers_at_readings(session, workspace_id, readings)
    out = {}
    for row in rows:
        parts = []
        for t in row.targets:
            total = engagement.engagements(
                t.latest["likes"], t.latest["comments"], t.latest["shares"]
            )
            known = followers.get((accounts.get(t.target_id), t.captured_at))  # type: ignore[arg-type]
            parts.append((total, t.latest["impressions"], known))
        views = [d for n, d, _ in parts if n is not None and d is not None]
        out[str(row.post_id)] = {
            **engagement.totals_fields(parts),
            "rate_views": sum(views) if views else None,
        }
    return out


def top_posts(
    session: Session, scope: overview.Scope, key: str, limit: int = 5
) -> list[overview.PostRow]:
    """The ``limit`` posts in scope with the most engagements, or the highest engagement
    rate (Σ engagements ÷ Σ views over their targets reporting both; posts without a rate
    are left out). Ties: more views first, then the post id.

    API: rank the posts by ``totals.engagements`` / ``totals.engagement_rate`` of
    ``GET /v1/analytics/post/{id}`` (with a filter: pooled over the matching targets)."""
    if key not in TOP_KEYS:
        raise ValueError(f"unknown key {key!r}")
    targets: dict[uuid.UUID, list[tuple[int | None, int | None, None]]] = defaultdict(list)
    for t in overview.target_figures(session, scope):
        total = engagement.engagements(t.latest["likes"], t.latest["comments"], t.latest["shares"])
        targets[t.post_id].append((total, t.latest["impressions"], None))
    ranked = []
    for post_id, parts in targets.items():
        fields = engagement.totals_fields(parts)
        value = fields[key]
        if value is None:
            continue
        views = sum(d for n, d, _ in parts if n is not None and d is not None)
        ranked.append((value, views, str(post_id), post_id))
    ranked.sort(reverse=True)
    chosen = [post_id for *_, post_id in ranked[:limit]]
    return overview.post_rows(session, scope, chosen)


def report_figures(session: Session, viewer: Viewer, scope: overview.Scope) -> dict[str, Any]:
    """The reports page's figures: ``GET /v1/analytics/tags`` and ``/posting-times`` for
    the posts the filters select."""
    tags = engagement_reports.tag_report(session, scope)
    times = engagement_reports.posting_times(session, scope, viewer.timezone)
    hours = [h for h, cell in enumerate(times.hours) if cell.posts]
    return {
        "tags": tags,
        "times": times,
        "weekdays": engagement_reports.WEEKDAYS,
        "hours_shown": list(range(min(hours), max(hours) + 1)) if hours else [],
    }
