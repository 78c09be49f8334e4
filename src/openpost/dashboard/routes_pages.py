"""The dashboard's pages (GET). Thin: parse the query, call one view, render it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from openpost.analytics.export import MEDIA_TYPE
from openpost.core import clock
from openpost.core.errors import BadRequest
from openpost.core.ids import parse_uuid
from openpost.dashboard import accounts_page, owner_consent, views
from openpost.dashboard.deps import CurrentViewer
from openpost.dashboard.filters import parse_filters
from openpost.dashboard.web import DashboardRoute, render
from openpost.deps import DbSession, get_sessionmaker, get_settings

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None


@router.get("/")
def overview(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    context = views.overview_page(
        session,
        viewer,
        parse_filters(request.query_params),
        now=clock.now(),
        top_metric=request.query_params.get("top") or None,
    )
    return render(request, "overview.html", {**context, "active": "overview"})


@router.get("/reports")
def reports(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    """Tags and posting times (SPEC §9.5): what works best."""
    context = views.reports_page(
        session, viewer, parse_filters(request.query_params), now=clock.now()
    )
    return render(request, "reports.html", {**context, "active": "reports"})


@router.get("/posts")
def posts(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    direction = request.query_params.get("dir", "desc")
    if direction not in ("asc", "desc"):
        raise BadRequest("dir must be asc or desc")
    context = views.posts_page(
        session,
        viewer,
        parse_filters(request.query_params),
        now=clock.now(),
        sort=request.query_params.get("sort", "published"),
        descending=direction == "desc",
        page=_int(request, "page", 1),
        search=request.query_params.get("q", "").strip()[:200],
    )
    return render(request, "posts.html", {**context, "active": "posts"})


@router.get("/posts/{post_id}")
def post(request: Request, session: DbSession, viewer: CurrentViewer, post_id: str) -> Response:
    context = views.post_page(
        session,
        viewer,
        parse_uuid(post_id, "post_id"),
        now=clock.now(),
        days=_int(request, "days", views.DEFAULT_POST_DAYS),
    )
    return render(request, "post.html", {**context, "active": "posts"})


@router.get("/accounts")
def accounts(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    """Followers over time per account, growth per day and per period (SPEC §9.4)."""
    raw = request.query_params.get("integration") or None
    context = accounts_page.accounts_page(
        session,
        viewer,
        now=clock.now(),
        days=_int(request, "days", accounts_page.DEFAULT_DAYS),
        integration_id=parse_uuid(raw, "integration") if raw else None,
        search=(request.query_params.get("q") or "").strip(),
        page=_int(request, "page", 1),
    )
    return render(
        request,
        "accounts.html",
        {**views.chrome(session, viewer), **context, "active": "accounts"},
    )


@router.get("/integrations")
def integrations(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    settings = get_settings(request)
    consents = owner_consent.available(request)
    context = views.integrations_page(session, settings, viewer, now=clock.now(), consents=consents)
    query = request.query_params
    page = {
        "notice": query.get("notice"),
        "consent_notice": owner_consent.notice(consents, query.get("notice")),
        "consent_error": owner_consent.error(settings, consents, query),
        "active": "integrations",
    }
    response = render(request, "integrations.html", {**context, **page})
    response.headers.update(owner_consent.page_headers(settings, consents))
    return response


@router.get("/help/platforms")
def platform_help(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    """What each platform needs from the operator before accounts can be connected."""
    context = views.platform_help_page(session, get_settings(request), viewer)
    return render(request, "help_platforms.html", {**context, "active": "integrations"})


@router.get("/export.csv")
def export_csv(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    """The API's CSV export (``GET /v1/analytics/export``) for this page's filters."""
    csv = views.export(
        session,
        get_sessionmaker(request),
        viewer,
        request.query_params,
        now=clock.now(),
    )
    return StreamingResponse(csv.chunks, media_type=MEDIA_TYPE, headers=csv.headers)
