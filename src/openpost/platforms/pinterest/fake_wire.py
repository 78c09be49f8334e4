"""What the fake Pinterest writes on the wire: its ``{"code", "message"}`` error bodies, Pin
and account objects, and analytics sections (shapes of ``pinterest/api-description``
v5/openapi.json; values invented)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.pinterest.fake import FakePin, FakeUser

RATE_MESSAGE = (
    "This request exceeded a rate limit. This can happen if the client exceeds one of the "
    "published rate limits or if multiple write operations are applied to an object within "
    "a short time window."
)
DAILY_METRICS = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK")
LIFETIME_METRICS = ("TOTAL_COMMENTS", "TOTAL_REACTIONS")
KNOWN_METRICS = frozenset(
    {*DAILY_METRICS, *LIFETIME_METRICS, "SAVE_RATE", "USER_FOLLOW", "PROFILE_VISIT"}
)
LIFETIME_SINCE = date(2023, 3, 20)  # lifetime metrics exist for Pins created after this


def error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def unauthorized() -> Response:
    return error(401, 2, "Authentication failed.")


def not_permitted() -> Response:
    return error(403, 29, "You are not permitted to access that resource.")


def not_your_pin() -> Response:
    return error(403, 403, "Not authorized to access board or Pin.")


def pin_not_found() -> Response:
    return error(404, 50, "Pin not found.")


def bad_analytics() -> Response:
    return error(400, 400, "Invalid pins analytics parameters.")


def rate_limited(headers: Mapping[str, str]) -> Response:
    return error(429, 8, RATE_MESSAGE, headers)


def server_error(status: int) -> Response:
    return error(status, status, "Something went wrong on our end. Sorry about that.")


def ramped_down() -> Response:
    return error(
        503, 4197, "The endpoint has been ramped down and is currently not accepting any traffic."
    )


def pin_json(pin: FakePin) -> dict[str, Any]:
    return {
        "id": pin.id,
        "created_at": pin.created_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "title": pin.title,
        "description": pin.description,
        "link": None,
        "board_id": pin.board_id,
        "board_owner": {"username": pin.owner.username},
        "is_owner": True,
        "is_standard": True,
        "has_been_promoted": False,
        "parent_pin_id": None,
        "creative_type": "REGULAR",
        "media": {"media_type": "image"},
    }


def account_json(user: FakeUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "business_name": user.business_name,
        "account_type": "BUSINESS",
        "about": "",
        "profile_image": "https://i.pinimg.com/fake.jpg",
        "website_url": "",
        "board_count": user.board_count,
        "pin_count": user.pin_count,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "monthly_views": user.monthly_views,
    }


def analytics_section(
    pin: FakePin,
    start: date,
    end: date,
    metrics: list[str],
    *,
    today: date,
    processing_days: int,
    app_key: str,
) -> dict[str, Any]:
    """``{"ALL": {"daily_metrics", "summary_metrics", "lifetime_metrics"}}`` for one Pin."""
    daily_names = [m for m in metrics if m in DAILY_METRICS]
    created = pin.created_at.date()
    days = []
    summary = dict.fromkeys(daily_names, 0)
    day = start
    while day <= end:
        if day < created:
            days.append(
                {"date": day.isoformat(), "data_status": "BEFORE_PIN_CREATED", "metrics": {}}
            )
        else:
            values = {name: pin.daily.get(day, {}).get(name, 0) for name in daily_names}
            for name, value in values.items():
                if isinstance(value, int) and isinstance(summary.get(name), int):
                    summary[name] += value
            status = "PROCESSING" if day > today - timedelta(days=processing_days) else "READY"
            days.append({"date": day.isoformat(), "data_status": status, "metrics": values})
        day += timedelta(days=1)
    section: dict[str, Any] = {"daily_metrics": days, "summary_metrics": summary}
    lifetime = None
    if created > LIFETIME_SINCE:
        lifetime = {
            name: value
            for name, value in (
                ("TOTAL_COMMENTS", pin.comments),
                ("TOTAL_REACTIONS", pin.reactions),
            )
            if name in metrics
        }
    section["lifetime_metrics"] = lifetime
    return {app_key: section}


def parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def timestamp(moment: datetime) -> int:
    return int(moment.timestamp())
