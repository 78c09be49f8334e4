"""Forms that change things: refresh requests, integrations, API keys, members.

Each POST needs a session and its CSRF token (``CheckedForm``), and the server checks the
member's role itself: a hidden button is a courtesy, the 403 here is the rule.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import Response

from openpost.consent import providers
from openpost.consent import service as consent
from openpost.core import clock
from openpost.core.errors import BadRequest
from openpost.core.ids import parse_uuid
from openpost.dashboard import actions, connect, keys, members, owner_consent, views
from openpost.dashboard.deps import CheckedForm, CurrentViewer, require_editor, require_manager
from openpost.dashboard.sessions import Viewer
from openpost.dashboard.web import DashboardRoute, redirect, render
from openpost.deps import DbSession, get_sessionmaker, get_settings
from openpost.integrations import service as integrations
from openpost.refresh.runner import Jobs
from openpost.refresh.tasks import JobQueue

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _back(path: str, **params: str | int) -> Response:
    return redirect(f"{path}?{urlencode(params)}" if params else path)


def _queue(request: Request) -> JobQueue:
    """The process's job queue (``openpost serve`` sets the one its worker consumes), made
    on first use otherwise: the same queue ``POST /v1/analytics/refresh`` writes to."""
    queue: JobQueue | None = getattr(request.app.state, "job_queue", None)
    if queue is None:
        queue = JobQueue(get_settings(request))
        request.app.state.job_queue = queue
    return queue


@router.post("/posts/{post_id}/refresh")
def refresh_post(
    request: Request, session: DbSession, viewer: CurrentViewer, form: CheckedForm, post_id: str
) -> Response:
    """Claim what policy allows now and queue it once this request commits (the API's
    refresh); the post page says what was queued and why the rest was not. Rendered, not
    redirected: the reasons (a pause's end, a spent budget) are those of this moment."""
    require_editor(viewer)
    target = parse_uuid(post_id, "post_id")
    days = _days(form.get("days"))  # checked before anything is claimed
    now = clock.now()
    result = actions.request_refresh(
        session,
        get_settings(request),
        get_sessionmaker(request),
        viewer.workspace_id,
        target,
        now=now,
    )
    context = views.post_page(session, viewer, target, now=now, days=days)
    response = render(request, "post.html", {**context, "refresh": result, "active": "posts"})
    if result.batches:  # queued after the commit, as the API does
        response.background = BackgroundTask(_queue(request).enqueue, Jobs(batches=result.batches))
    return response


def _days(raw: str | None) -> int:
    """The post page's history window the form came from (its hidden ``days`` field)."""
    if not raw:
        return views.DEFAULT_POST_DAYS
    if not raw.isdigit() or int(raw) not in views.POST_DAYS:
        raise BadRequest(f"days must be one of {', '.join(map(str, views.POST_DAYS))}")
    return int(raw)


@router.post("/integrations/connect")
def connect_integration(
    request: Request, session: DbSession, viewer: CurrentViewer, form: CheckedForm
) -> Response:
    require_manager(viewer)
    platform, username = form.get("platform", ""), form.get("username", "")
    settings = get_settings(request)
    try:
        result = connect.connect(session, settings, viewer, platform=platform, username=username)
    except connect.ConnectRefused as refused:
        # The page again, the input kept and the reason above the form (not an error page).
        consents = owner_consent.available(request)
        context = views.integrations_page(
            session, settings, viewer, now=clock.now(), consents=consents
        )
        page = {"connect_error": refused.message, "connect_platform": platform}
        response = render(
            request,
            "integrations.html",
            {**context, **page, "connect_username": username, "active": "integrations"},
            refused.status_code,
        )
        response.headers.update(refused.headers)
        response.headers.update(owner_consent.page_headers(settings, consents))
        return response
    return _back("/integrations", notice="connected" if result.created else "reconnected")


@router.get("/integrations/{platform}/connect")
def start_consent_by_link(
    request: Request, session: DbSession, viewer: CurrentViewer, platform: str
) -> Response:
    """SPEC §9.1's ``GET /integrations/{platform}/connect``: as the form's POST."""
    require_manager(viewer)
    return _start_consent(request, session, viewer, platform)


@router.post("/integrations/{platform}/connect")
def start_consent(
    request: Request, session: DbSession, viewer: CurrentViewer, _form: CheckedForm, platform: str
) -> Response:
    """The integrations page's "Connect … with the owner's consent" (CSRF-checked)."""
    require_manager(viewer)
    return _start_consent(request, session, viewer, platform)


def _start_consent(request: Request, session: DbSession, viewer: Viewer, slug: str) -> Response:
    """Send the browser to the platform's consent page (see ``consent.service``)."""
    chosen = providers.find(owner_consent.available(request), slug)
    requester = owner_consent.requester(viewer)
    return redirect(
        consent.start(session, get_settings(request), chosen, requester, now=clock.now())
    )


@router.get("/integrations/{platform}/callback")
def finish_consent(
    request: Request, session: DbSession, viewer: CurrentViewer, platform: str
) -> Response:
    """The platform's redirect back: connect the account, or say on the integrations page
    why not (``<slug>_error=<code>``)."""
    require_manager(viewer)
    chosen = providers.find(owner_consent.available(request), platform)
    transports = getattr(request.app.state, "platform_transports", None) or {}
    try:
        result = consent.finish(
            session,
            get_settings(request),
            chosen,
            owner_consent.requester(viewer),
            dict(request.query_params.items()),
            now=clock.now(),
            transport=transports.get(chosen.platform),  # tests reach a fake in-process
        )
    except consent.ConsentError as failed:
        return _back("/integrations", **failed.query)
    outcome = "connected" if result.created else "attached"
    return _back("/integrations", notice=f"{chosen.slug}-{outcome}")


@router.post("/integrations/{integration_id}/disconnect")
def disconnect_integration(
    session: DbSession, viewer: CurrentViewer, _form: CheckedForm, integration_id: str
) -> Response:
    require_manager(viewer)
    integrations.disconnect(
        session, viewer.workspace_id, parse_uuid(integration_id, "integration_id")
    )
    return _back("/integrations", notice="disconnected")


@router.get("/settings")
def settings(request: Request, session: DbSession, viewer: CurrentViewer) -> Response:
    require_manager(viewer)
    context = views.settings_page(session, viewer)
    notice = request.query_params.get("notice")
    return render(request, "settings.html", {**context, "notice": notice, "active": "settings"})


@router.post("/settings/keys")
def create_key(
    request: Request, session: DbSession, viewer: CurrentViewer, form: CheckedForm
) -> Response:
    key, plaintext = keys.create(session, viewer, form.get("name", ""))
    # Rendered, not redirected: the key must not travel in a URL or be shown twice.
    context = views.settings_page(session, viewer)
    return render(
        request,
        "settings.html",
        {**context, "active": "settings", "new_key": plaintext, "new_key_name": key.name},
    )


@router.post("/settings/keys/{key_id}/revoke")
def revoke_key(
    session: DbSession, viewer: CurrentViewer, _form: CheckedForm, key_id: str
) -> Response:
    keys.revoke(session, viewer, parse_uuid(key_id, "key_id"))
    return _back("/settings", notice="key-revoked")


@router.post("/settings/members")
def add_member(
    request: Request, session: DbSession, viewer: CurrentViewer, form: CheckedForm
) -> Response:
    row, generated = members.add(
        session,
        viewer,
        email=form.get("email", ""),
        role=form.get("role", ""),
        password=form.get("password", ""),
    )
    context = views.settings_page(session, viewer)
    return render(
        request,
        "settings.html",
        {
            **context,
            "active": "settings",
            "added_member": row,
            "generated_password": generated,
        },
    )


@router.post("/settings/members/{member_id}/role")
def change_role(
    session: DbSession, viewer: CurrentViewer, form: CheckedForm, member_id: str
) -> Response:
    members.change_role(session, viewer, parse_uuid(member_id, "member_id"), form.get("role", ""))
    return _back("/settings", notice="role-changed")


@router.post("/settings/members/{member_id}/remove")
def remove_member(
    session: DbSession, viewer: CurrentViewer, _form: CheckedForm, member_id: str
) -> Response:
    members.remove(session, viewer, parse_uuid(member_id, "member_id"))
    return _back("/settings", notice="member-removed")
