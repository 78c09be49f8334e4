"""Login, logout and switching workspace. Thin: parse, call one service, respond."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from openpost.core.errors import NotFound, TooManyRequests
from openpost.core.ids import parse_uuid
from openpost.dashboard import sessions
from openpost.dashboard.deps import CheckedForm, CurrentViewer, Form, Throttle
from openpost.dashboard.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    DashboardRoute,
    redirect,
    render,
    safe_next,
)
from openpost.deps import DbSession, get_settings

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_form(
    request: Request, *, error: str | None = None, email: str = "", status_code: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or sessions.new_token()
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "email": email,
            "login_csrf": token,
            "next": safe_next(request.query_params.get("next")),
        },
        status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login")
def login(request: Request, session: DbSession, fields: Form, throttle: Throttle) -> Response:
    email = fields.get("email", "").strip()
    password = fields.get("password", "")
    if not sessions.tokens_match(
        request.cookies.get(LOGIN_CSRF_COOKIE, ""), fields.get("csrf_token")
    ) or not request.cookies.get(LOGIN_CSRF_COOKIE):
        return _login_form(
            request,
            error="The login form expired. Please try again.",
            email=email,
            status_code=403,
        )
    settings = get_settings(request)
    try:
        token = sessions.log_in(
            session,
            throttle,
            email=email,
            password=password,
            address=request.client.host if request.client else "unknown",
            lifetime=timedelta(hours=settings.session_lifetime_hours),
        )
    except (sessions.LoginFailed, TooManyRequests) as exc:
        response = _login_form(request, error=exc.message, email=email, status_code=exc.status_code)
        response.headers.update(exc.headers)
        return response
    response = redirect(safe_next(fields.get("next")))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_lifetime_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, _form: CheckedForm) -> Response:
    sessions.end_session(session, request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.post("/workspace")
def switch_workspace(session: DbSession, viewer: CurrentViewer, form: CheckedForm) -> Response:
    workspace_id = parse_uuid(form.get("workspace_id", ""), "workspace_id")
    if not sessions.switch_workspace(session, viewer, workspace_id):
        raise NotFound("workspace not found")
    return redirect("/")
