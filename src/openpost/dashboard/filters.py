"""The dashboard's filters (range, integration, platform) and the period they select.

Filters live in the URL query, so every view can be bookmarked and shared:
``?range=7|30|90`` (the default is 30), or ``?range=custom&since=2026-03-01&until=2026-03-31``
(local dates, both included), plus ``integration=<uuid>`` and ``platform=<name>``.

Periods are whole local days of the workspace's timezone: "7 days" is today and the six
days before it. The previous period is the same number of days just before.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from openpost.analytics.overview import local_day_starts
from openpost.core.errors import BadRequest
from openpost.core.ids import parse_uuid
from openpost.integrations.models import Platform

PRESETS = ("7", "30", "90")
DEFAULT_RANGE = "30"
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    days: list[date]
    start: datetime
    end: datetime
    previous_days: list[date]
    previous_start: datetime
    previous_end: datetime
    day_starts: list[datetime]

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]


@dataclass(frozen=True, slots=True)
class Filters:
    range: str = DEFAULT_RANGE
    since: date | None = None
    until: date | None = None
    integration_id: uuid.UUID | None = None
    platform: str | None = None

    def params(self) -> dict[str, str]:
        """The query parameters that reproduce these filters (defaults left out)."""
        out: dict[str, str] = {}
        if self.range != DEFAULT_RANGE:
            out["range"] = self.range
        if self.range == "custom" and self.since and self.until:
            out["since"] = self.since.isoformat()
            out["until"] = self.until.isoformat()
        if self.integration_id:
            out["integration"] = str(self.integration_id)
        if self.platform:
            out["platform"] = self.platform
        return out

    def query(self, **extra: str | int | None) -> str:
        """``?…`` for these filters plus ``extra`` (``None`` values dropped)."""
        params: dict[str, str] = {**self.params()}
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return "?" + urlencode(params) if params else ""

    def period(self, timezone: str, now: datetime) -> Period:
        if self.since is not None and self.until is not None:  # a custom range
            first, last = self.since, self.until
        else:
            last = now.astimezone(ZoneInfo(timezone)).date()
            first = last - timedelta(days=int(self.range) - 1)
        count = (last - first).days + 1
        days = [first + timedelta(days=i) for i in range(count)]
        previous_days = [first - timedelta(days=count - i) for i in range(count)]
        starts = local_day_starts(timezone, first, last)
        previous = local_day_starts(timezone, previous_days[0], previous_days[-1])
        return Period(
            days=days,
            start=starts[0],
            end=starts[-1],
            previous_days=previous_days,
            previous_start=previous[0],
            previous_end=previous[-1],
            day_starts=starts,
        )


def _date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{field} must be a date (YYYY-MM-DD)") from None


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Read the filters from a query string; a bad value is a 400 naming the field."""
    range_ = (query.get("range") or DEFAULT_RANGE).strip()
    since = until = None
    if range_ == "custom":
        if not query.get("since") or not query.get("until"):
            raise BadRequest("a custom range needs both since and until")
        since, until = _date(query["since"], "since"), _date(query["until"], "until")
        if since > until:
            raise BadRequest("since must not be after until")
        if (until - since).days + 1 > MAX_DAYS:
            raise BadRequest(f"a custom range spans at most {MAX_DAYS} days")
    elif range_ not in PRESETS:
        raise BadRequest("range must be 7, 30, 90 or custom")
    integration = (query.get("integration") or "").strip()
    platform = (query.get("platform") or "").strip()
    if platform and platform not in Platform.__members__:
        raise BadRequest(f"platform must be one of {', '.join(Platform)}")
    return Filters(
        range=range_,
        since=since,
        until=until,
        integration_id=parse_uuid(integration, "integration") if integration else None,
        platform=platform or None,
    )
