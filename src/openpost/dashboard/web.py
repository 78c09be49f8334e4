"""HTTP plumbing for the dashboard: templates, security headers, HTML error pages, forms.

Every dashboard route uses ``DashboardRoute``: whatever a route raises becomes an HTML
page (a 4xx says what was wrong; anything else is a plain 500 page and a log line), and
every response carries the Content-Security-Policy and the other security headers.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openpost.core.errors import AppError, BadRequest
from openpost.core.timefmt import format_time
from openpost.dashboard import display, engagement_display, previews
from openpost.platforms.specs import label

log = logging.getLogger("openpost.dashboard")

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "openpost_session"
LOGIN_CSRF_COOKIE = "openpost_login_csrf"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        " ".join(["img-src 'self' data:", *previews.image_origins()]),
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def policy_with_form_target(origin: str) -> str:
    """The dashboard's policy, with ``origin`` allowed as a form target: browsers check a
    form's redirects against ``form-action`` too, and an owner-consent form redirects to
    its platform (several origins: separated by spaces)."""
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """No valid session: send the browser to the login page."""


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# -- formatting filters: one place decides how a number, a delta or a time looks ---------

DASH = "—"
MINUS = "\u2212"


def metric(value: int | None) -> str:
    """A metric: "—" (marked as not reported) when not reported, never 0."""
    return _NOT_REPORTED if value is None else f"{value:,}"


def day_metric(value: int | None, reported: bool) -> str:
    """A day's growth: "—" only when the platform does not report the metric at all; a
    day without a reading that reports it says so."""
    if value is not None:
        return f"{value:,}"
    return _NOT_REPORTED if not reported else _NO_READING


def signed(value: int | float | None) -> str:
    if value is None:
        return DASH
    text = f"{abs(value):,}"
    return f"+{text}" if value > 0 else f"{MINUS}{text}" if value < 0 else "0"


_NOT_REPORTED = Markup(  # noqa: S704 - a constant
    f'<span class="num" title="not reported by the platform">{DASH}</span>'
)
_NO_READING = Markup('<span class="none">no reading</span>')

# A change that cannot be computed is not "not reported": it has its own words, the same on
# every page. ``FIRST_READING``: there is no earlier reading to subtract (or the earlier one
# did not report the metric); ``FIRST_SHOWN``: the earlier reading is outside the history
# shown.
NO_CHANGE_TEXT = {
    "first": ("first reading", "no earlier reading to compare with"),
    "shown": ("first shown", "the reading before it is older than the history shown"),
    "period": ("new", "nothing in the previous period to compare with"),
}


def no_change(reason: str = "first") -> Markup:
    text, title = NO_CHANGE_TEXT[reason]
    # Fixed texts only: nothing to escape.
    return Markup(f'<span class="delta new" title="{title}">{text}</span>')  # noqa: S704 - constants


def change(value: int | None, difference: int | float | None, reason: str = "first") -> Markup:
    """A change next to a reported value: signed, or the words for "cannot be computed";
    "—" only when the value itself is not reported."""
    if value is None:
        return _NOT_REPORTED
    if difference is None:
        return no_change(reason)
    return escape(signed(difference))


def with_delta(value: int | None, change: int | None, reason: str = "first") -> Markup:
    """A metric and, unless it is not reported, its signed change (or why there is none);
    numbers only, so the markup needs no escaping (a filter, not a macro: tables call it
    thousands of times)."""
    if value is None:
        return _NOT_REPORTED
    if change is None:
        return Markup(f'<span class="num">{value:,}</span> ') + no_change(reason)  # noqa: S704 - an integer
    tone = " down" if change < 0 else " up" if change else ""
    # Only formatted integers and fixed class names go in: nothing to escape.
    html = f'<span class="num">{value:,}</span> <span class="delta{tone}">{signed(change)}</span>'
    return Markup(html)  # noqa: S704 - built from integers and constants only (see above)


_LONG_TOKEN = re.compile(r"\S{24,}")
_URL_JOINTS = re.compile(r"([/?&=,\"])")


def breakable(text: str) -> Markup:
    """Escaped text whose long tokens (URLs, formulas) may wrap after ``/ ? & = , "``
    instead of inside a word: a ``<wbr>`` after each of those."""

    def soften(match: re.Match[str]) -> str:
        parts = _URL_JOINTS.split(match.group(0))
        return "".join(str(escape(part)) + ("<wbr>" if _URL_JOINTS.fullmatch(part) else "")
                       for part in parts if part)  # fmt: skip

    out, last = [], 0
    for match in _LONG_TOKEN.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        out.append(soften(match))
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece is escaped above


def compact(value: int | None) -> str:
    """A big number short: 1,234,567 → 1.2M, 12,345 → 12.3k; "—" when not reported."""
    if value is None:
        return DASH
    size = abs(value)
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if size >= limit:
            text = f"{value / limit:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return f"{value:,}"


def percent(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{signed(value)} %"


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def localtime(
    value: datetime | str | None, timezone: str, with_zone: bool = True, none_text: str = "never"
) -> str:
    """A time in the workspace's zone, e.g. ``2026-03-29 14:05 CEST``; ``none_text`` when
    there is none ("—" is kept for metrics a platform does not report)."""
    moment = _as_datetime(value)
    if moment is None:
        return none_text
    local = moment.astimezone(ZoneInfo(timezone))
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text


def isotime(value: datetime | str | None) -> str:
    moment = _as_datetime(value)
    return format_time(moment) or ""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # everywhere, whatever the file name: content is user data
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        metric=metric,
        day_metric=day_metric,
        signed=signed,
        with_delta=with_delta,
        change=change,
        compact=compact,
        breakable=breakable,
        percent=percent,
        platform_label=label,
        platform_badge=display.badge,
        platform_icon=display.icon,
        localtime=localtime,
        isotime=isotime,
    )
    env.filters.update(engagement_display.FILTERS)  # rates with their denominator named
    env.globals["asset_version"] = _asset_version()
    return env


templates = _environment()


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    page = templates.get_template(name).render(
        {"viewer": viewer, "path": request.url.path, "now": datetime.now(UTC), **context}
    )
    return HTMLResponse(page, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    titles = {
        400: "That request could not be understood",
        403: "Not allowed",
        404: "Not found",
        429: "Too many attempts",
        500: "Something went wrong",
    }
    return render(
        request,
        "error.html",
        {"status": status_code, "title": titles.get(status_code, "Error"), "message": message},
        status_code,
    )


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a form POST, the browser GETs the next page."""
    return RedirectResponse(url, status_code=303)


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class DashboardRoute(APIRoute):
    """Turns every failure into an HTML page and adds the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                response = redirect(f"/login?next={quote(target, safe='')}")
            except AppError as exc:
                response = error_page(request, exc.status_code, exc.message)
                response.headers.update(exc.headers)
            except RequestValidationError:
                response = error_page(request, 400, "a parameter of this page is invalid")
            except Exception:
                log.exception("dashboard error on %s %s", request.method, request.url.path)
                response = error_page(request, 500, "The error has been logged.")
            return secure(response)

        return guarded


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the only kind the dashboard's forms send)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body:
        return {}
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("forms must be sent as application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None
    return dict(pairs)


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
