"""The dashboard's "Connect an account" form: the API's connect, its failures as a message.

``POST /v1/integrations`` and this form call the same service
(``integrations.service.connect_by_handle`` with the application's settings; in a live
workspace the platform resolves the handle through ``refresh.accounts``). The API answers a
failure with its status and ``{"error": …}``; a person filling in the form should instead
see the integrations page again, their input kept and one sentence saying what to do:

- a handle the platform does not know (or a malformed one, or a platform without a live
  client): the platform's own message, as a form error (400);
- the operator has not configured the platform (no YouTube API key, no X bearer token) or
  the platform refused that credential: say so, and that retrying will not help (503);
- the platform cannot answer now (down, rate-limited, out of credits, paused): "try again
  later", with when if the platform said so (503 and ``Retry-After``).

The failed attempt's transaction is rolled back before the page is drawn, as the API's is.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core import clock
from openpost.core.errors import BadRequest
from openpost.dashboard.sessions import Viewer
from openpost.integrations.service import ConnectResult, connect_by_handle
from openpost.platforms.specs import label
from openpost.refresh.accounts import PlatformUnavailable
from openpost.refresh.ratestate import APP_CREDENTIAL_CODES


class ConnectRefused(Exception):
    """The form's answer when connecting failed: what to show, with which status."""

    def __init__(
        self, status_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


def platform_name(platform: str) -> str:
    """The platform's label from its spec (``twitter`` → ``X``)."""
    return label(platform)


def _wait(retry_after: str | None) -> str:
    if retry_after is None or not retry_after.isdigit():
        return "Try again later."
    minutes = max(round(int(retry_after) / 60), 1)
    if minutes < 90:
        return f"Try again in about {minutes} minute{'' if minutes == 1 else 's'}."
    return f"Try again in about {round(minutes / 60)} hours."


def explain(platform: str, error: PlatformUnavailable) -> str:
    """The sentence a person sees for a platform that could not resolve the handle."""
    name = platform_name(platform)
    detail = error.message.rstrip(".")
    if error.code is not None and error.code.endswith("_not_configured"):
        return (
            f"{name} is not set up on this server ({detail}). An operator has to configure "
            "it; trying again will not help until then."
        )
    if error.code in APP_CREDENTIAL_CODES:
        return (
            f"{name} refused this server's credentials ({detail}). An operator has to fix "
            "them; trying again will not help until then."
        )
    return f"{name} cannot look up accounts right now ({detail}). " + _wait(
        error.headers.get("Retry-After")
    )


def connect(
    session: Session, settings: Settings, viewer: Viewer, *, platform: str, username: str
) -> ConnectResult:
    """Connect ``platform``/``username`` exactly as ``POST /v1/integrations`` does; a
    failure rolls the transaction back and raises ``ConnectRefused``."""
    try:
        return connect_by_handle(
            session,
            viewer.workspace_id,
            mode=viewer.mode,
            platform=platform,
            username=username,
            now=clock.now(),
            settings=settings,
        )
    except BadRequest as exc:
        session.rollback()
        raise ConnectRefused(400, exc.message) from None
    except PlatformUnavailable as exc:
        session.rollback()
        raise ConnectRefused(503, explain(platform, exc), dict(exc.headers)) from None
