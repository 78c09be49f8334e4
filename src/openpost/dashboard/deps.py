"""Dependencies of the dashboard's routes: who is looking, and a CSRF-checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from openpost.core.errors import Forbidden
from openpost.dashboard.sessions import LoginThrottle, Viewer, resolve, tokens_match
from openpost.dashboard.web import SESSION_COOKIE, LoginRequired, form_fields
from openpost.deps import DbSession

CSRF_FIELD = "csrf_token"


def current_viewer(request: Request, session: DbSession) -> Viewer:
    viewer = resolve(session, request.cookies.get(SESSION_COOKIE))
    if viewer is None:
        raise LoginRequired
    request.state.viewer = viewer
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
Form = Annotated[dict[str, str], Depends(form_fields)]


def checked_form(viewer: CurrentViewer, fields: Form) -> dict[str, str]:
    """The form's fields, once its CSRF token matches the session's (else 403)."""
    if not tokens_match(viewer.csrf_token, fields.get(CSRF_FIELD)):
        raise Forbidden(
            "This form's security token is missing or out of date. "
            "Go back, reload the page and try again."
        )
    return fields


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


Throttle = Annotated[LoginThrottle, Depends(get_throttle)]


def require_manager(viewer: Viewer) -> None:
    if not viewer.can_manage:
        raise Forbidden("Only owners and admins can do that.")


def require_editor(viewer: Viewer) -> None:
    if not viewer.can_refresh:
        raise Forbidden("Only editors, admins and owners can request a refresh.")
