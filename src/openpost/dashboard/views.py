"""What each dashboard page shows, assembled from the packages' read services.

One function per page; routes call exactly one of these and render its result. Every
figure comes from a service the API also uses (``analytics.service``,
``analytics.overview``, ``integrations.service``, ``posts.service``), never from SQL here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from openpost.analytics import growth, overview, service
from openpost.analytics.arithmetic import delta
from openpost.analytics.export import CsvExport, open_export, parse_request
from openpost.analytics.models import METRICS
from openpost.analytics.provisional import settle_time
from openpost.auth.service import list_keys
from openpost.config import Settings
from openpost.consent.providers import OwnerConsent
from openpost.core.errors import BadRequest
from openpost.core.timefmt import format_time
from openpost.dashboard import display, engagement_views, owner_consent, previews
from openpost.dashboard.filters import Filters, Period, parse_filters
from openpost.dashboard.members import ROLES, list_members
from openpost.dashboard.sessions import Viewer, memberships
from openpost.integrations.models import Platform
from openpost.integrations.service import (
    find_integration,
    integration_choice,
    integration_names,
    list_integrations,
)
from openpost.platforms.specs import label, spec_for
from openpost.posts.service import get_post
from openpost.refresh.service import collection_status
from openpost.webhooks import service as webhooks

PER_PAGE = 25
POST_DAYS = (7, 30, 90, 365)
DEFAULT_POST_DAYS = 90


def _scope(session: Session, viewer: Viewer, filters: Filters, period: Period) -> overview.Scope:
    if filters.integration_id is not None:
        find_integration(session, viewer.workspace_id, filters.integration_id)  # 404 if foreign
    return overview.Scope(
        workspace_id=viewer.workspace_id,
        start=period.start,
        end=period.end,
        integration_id=filters.integration_id,
        platform=filters.platform,
    )


def chrome(session: Session, viewer: Viewer) -> dict[str, Any]:
    """What every page's frame needs: the workspaces the member can switch to."""
    return {"workspaces": memberships(session, viewer.user_id)}


def filter_options(session: Session, viewer: Viewer) -> dict[str, Any]:
    """The filter form's choices: from light id/name rows, not whole integrations with their
    collection state (a workspace may hold thousands)."""
    return {
        "integrations": [
            integration_choice(i) for i in integration_names(session, viewer.workspace_id)
        ],
        "platforms": [p.value for p in Platform],
    }


def reported_metrics(totals: overview.RangeTotals) -> list[str]:
    """The metrics some account in the selection reports (Bluesky and Mastodon have no
    impressions): the charts and the top posts open on the first of them."""
    return [metric for metric in METRICS if totals.reporting[metric] > 0]


def overview_page(
    session: Session, viewer: Viewer, filters: Filters, *, now: datetime, top_metric: str | None
) -> dict[str, Any]:
    top_keys = (*METRICS, *engagement_views.TOP_KEYS)
    if top_metric is not None and top_metric not in top_keys:
        raise BadRequest(f"top must be one of {', '.join(top_keys)}")
    period = filters.period(viewer.timezone, now)
    scope = _scope(session, viewer, filters, period)
    totals = overview.range_totals(session, scope, period.previous_start, period.previous_end)
    # What happened in the range: every post's growth during it, whenever it was published.
    every_post = scope.shifted(growth.EARLIEST, period.end)
    series = growth.daily_series(session, every_post, period.days, viewer.timezone)
    range_growth = series.range_growth()
    reported = reported_metrics(totals)
    default_metric = reported[0] if reported else METRICS[0]
    top_metric = top_metric or default_metric
    if top_metric in engagement_views.TOP_KEYS:  # SPEC §9.5
        top = engagement_views.top_posts(session, scope, top_metric)
    else:
        top = overview.top_posts(session, scope, top_metric)
    return {
        **chrome(session, viewer),
        **filter_options(session, viewer),
        "filters": filters,
        "period": period,
        "totals": totals,
        "series": series,
        "range_growth": range_growth,
        "chart": {
            "days": series.days,
            "platforms": series.platforms,
            "values": series.values,
            "totals": series.totals,
            "metrics": list(METRICS),
            # SPEC §9.3: a day holding change spread from a reading that spans several days.
            "estimated": series.estimated_days,
            "estimated_by_platform": series.estimated,
            # Every post's growth during the range (the sum of the days above), beside the
            # cards' totals of the posts published in it.
            "range_growth": range_growth,
            "range_growth_estimated": any(series.estimated_days),
            "reported": reported,
            "platform_reports": {
                metric: {
                    platform: any(v is not None for v in series.values[metric][platform])
                    for platform in series.platforms
                }
                for metric in METRICS
            },
            "default_metric": default_metric,
            "labels": {platform: label(platform) for platform in series.platforms},
            "colours": {platform: display.colour(platform) for platform in series.platforms},
        },
        "top_metric": top_metric,
        "top_posts": top,
        "top_engagement_keys": engagement_views.TOP_LABELS,
        "engagement": engagement_views.post_engagement(session, viewer.workspace_id, top),
        "previews": previews.thumbnails(session, viewer.workspace_id, [r.post_id for r in top]),
    }


def reports_page(
    session: Session, viewer: Viewer, filters: Filters, *, now: datetime
) -> dict[str, Any]:
    """Tags and posting times of the posts published in the filters' period."""
    period = filters.period(viewer.timezone, now)
    scope = _scope(session, viewer, filters, period)
    return {
        **chrome(session, viewer),
        **filter_options(session, viewer),
        "filters": filters,
        "period": period,
        **engagement_views.report_figures(session, viewer, scope),
    }


def posts_page(
    session: Session,
    viewer: Viewer,
    filters: Filters,
    *,
    now: datetime,
    sort: str,
    descending: bool,
    page: int,
    search: str,
) -> dict[str, Any]:
    if sort not in overview.SORT_KEYS:
        raise BadRequest(f"sort must be one of {', '.join(overview.SORT_KEYS)}")
    if page < 1:
        raise BadRequest("page must be 1 or more")
    period = filters.period(viewer.timezone, now)
    scope = _scope(session, viewer, filters, period)
    result = overview.posts_page(
        session,
        scope,
        sort=sort,
        descending=descending,
        page=page,
        per_page=PER_PAGE,
        search=search or None,
    )
    return {
        **chrome(session, viewer),
        **filter_options(session, viewer),
        "filters": filters,
        "period": period,
        "result": result,
        "previews": previews.thumbnails(
            session, viewer.workspace_id, [row.post_id for row in result.rows]
        ),
        "sort": sort,
        "descending": descending,
        "search": search,
    }


def _intervals(snapshots_newest_first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first: each reading with its change from the reading before it (within the
    history shown; the oldest one shown has no change)."""
    ordered = list(reversed(snapshots_newest_first))
    rows = []
    for i, snap in enumerate(ordered):
        change = delta(snap, ordered[i - 1]) if i > 0 else dict.fromkeys(METRICS)
        rows.append({**snap, "change": change})
    return rows


def post_page(
    session: Session, viewer: Viewer, post_id: uuid.UUID, *, now: datetime, days: int
) -> dict[str, Any]:
    if days not in POST_DAYS:
        raise BadRequest(f"days must be one of {', '.join(map(str, POST_DAYS))}")
    post = get_post(session, viewer.workspace_id, post_id)
    metrics = service.post_metrics(session, viewer.workspace_id, post_id, now=now, days=days)
    refresh = overview.refresh_details(session, viewer.workspace_id, post_id)
    targets = []
    for target in metrics["targets"]:
        history = _intervals(target["snapshots"])
        targets.append(
            {
                **target,
                "history": history,
                "refresh_details": refresh.get(target["target_id"], {}),
                "chart": {
                    "id": target["target_id"],
                    "times": [snap["captured_at"] for snap in history],
                    "values": {m: [snap[m] for snap in history] for m in METRICS},
                    "changes": {m: [snap["change"][m] for snap in history] for m in METRICS},
                    "metrics": list(METRICS),
                    # SPEC §9.2: each reading's mark, and when the platform's numbers settle.
                    "provisional": [snap["provisional"] for snap in history],
                    "provisional_until": target["provisional_until"],
                },
                "settle_hours": settle_time(target["platform"]) // timedelta(hours=1),
                "platform_label": spec_for(target["platform"]).label,
            }
        )
    return {
        **chrome(session, viewer),
        "post": post,
        "thumbnail": previews.thumbnails(session, viewer.workspace_id, [post_id]).get(str(post_id)),
        "metrics": metrics,
        "targets": targets,
        "days": days,
        "day_options": POST_DAYS,
    }


def integrations_page(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    *,
    now: datetime,
    consents: Mapping[str, OwnerConsent],
) -> dict[str, Any]:
    """Integrations with their collection health and the platforms' budgets: exactly
    ``GET /v1/integrations`` beside ``GET /v1/analytics/status``."""
    status = collection_status(session, settings, viewer.workspace_id, now=now)
    health = {item["integration_id"]: item for item in status["integrations"]}
    rows = [
        {**integration, "health": health.get(integration["id"])}
        for integration in list_integrations(session, viewer.workspace_id)
    ]
    connectable, unavailable = connect_choices(settings, viewer)
    return {
        **chrome(session, viewer),
        "integrations": rows,
        "budgets": status["platforms"],
        "platforms": [p.value for p in Platform],
        "owner_consent": owner_consent.offer(settings, viewer, consents),
        "connectable": connectable,
        "unavailable": unavailable,
        "setup_docs": PLATFORM_HELP,
    }


PLATFORM_HELP = "/help/platforms"


def connect_choices(settings: Settings, viewer: Viewer) -> tuple[list[str], list[dict[str, Any]]]:
    """The platforms the connect-by-handle form offers, and the others with what they need.

    A test workspace connects synthetic accounts on every platform. A live one offers only
    the platforms whose reading the operator has configured (``spec.configured``) and that
    connect by handle; the rest are listed as needing the operator's app credentials, except
    a consent-only platform the operator has set up (its consent card offers it).
    """
    if viewer.mode == "test":
        return [p.value for p in Platform], []
    connectable, unavailable = [], []
    for platform in Platform:
        spec = spec_for(platform.value)
        if spec.configured(settings) and not spec.consent_only:
            connectable.append(platform.value)
        elif spec.configured(settings):
            continue  # consent only, and set up: offered by its consent card, not missing
        else:
            unavailable.append(
                {"platform": platform.value, "needs": spec.needs, "consent_only": spec.consent_only}
            )
    return connectable, unavailable


def platform_help_page(session: Session, settings: Settings, viewer: Viewer) -> dict[str, Any]:
    """Every platform: whether this server can read it, and what an operator sets if not."""
    rows = [
        {
            "platform": platform.value,
            "ready": spec_for(platform.value).configured(settings),
            "needs": spec_for(platform.value).needs,
            "consent_only": spec_for(platform.value).consent_only,
        }
        for platform in Platform
    ]
    return {**chrome(session, viewer), "rows": rows}


def settings_page(session: Session, viewer: Viewer) -> dict[str, Any]:
    return {
        **chrome(session, viewer),
        "keys": list_keys(session, viewer.workspace_id),
        "members": list_members(session, viewer.workspace_id),
        "roles": ROLES,
        "webhooks": webhooks.recent_deliveries(session, viewer.workspace_id),
    }


def export_params(
    filters: Filters, period: Period, view: str, search: str = ""
) -> dict[str, str | None]:
    """The ``GET /v1/analytics/export`` parameters equal to the dashboard's filters: the
    period's bounds as ``since``/``until``, the integration, the platform and the posts
    page's search."""
    return {
        "since": format_time(period.start),
        "until": format_time(period.end),
        "integration_id": str(filters.integration_id) if filters.integration_id else None,
        "platform": filters.platform,
        "search": search.strip() or None,
        "view": view,
    }


def export(
    session: Session,
    factory: sessionmaker[Session],
    viewer: Viewer,
    query: Mapping[str, str],
    *,
    now: datetime,
) -> CsvExport:
    """The CSV a page's "Export CSV" link asks for, from the API's export service.

    ``?post=<id>&days=N`` (post detail): that post's snapshots of the last N days, exactly
    ``/v1/analytics/export?post_id=<id>&days=N``. Otherwise the page's filters (range,
    integration, platform, the search ``q``) and ``view`` (``snapshots`` or ``latest``)
    become ``since``/``until``/``integration_id``/``platform``/``search``/``view`` (see
    ``export_params``).
    """
    view = query.get("view") or "snapshots"
    if query.get("post"):
        request = parse_request(
            now=now,
            days=_days(query.get("days")),
            post_id=query["post"],
            integration_id=None,
            view=view,
        )
    else:
        filters = parse_filters(query)
        period = filters.period(viewer.timezone, now)
        params = export_params(filters, period, view, query.get("q", "")[:200])
        request = parse_request(
            now=now,
            since=params["since"],
            until=params["until"],
            integration_id=params["integration_id"],
            view=params["view"],
            platform=params["platform"],
            search=params["search"],
        )
    return open_export(session, factory, viewer.workspace_id, request, now=now)


def _days(raw: str | None) -> int:
    try:
        return int(raw or DEFAULT_POST_DAYS)
    except ValueError:
        raise BadRequest("days must be a whole number") from None
