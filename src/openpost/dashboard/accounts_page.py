"""The dashboard's Accounts page (SPEC §9.4): each account's followers over time, growth per
day, and this period against the previous one. Every figure is ``accounts.service.
account_details``, the batch form of the function behind ``GET /v1/analytics/accounts/{id}``:
one code path, so the page shows what the API gives, nothing computed on the side but the
chart's geometry and a percentage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from openpost.accounts.service import account_details
from openpost.core.errors import BadRequest
from openpost.dashboard.sessions import Viewer
from openpost.integrations.service import (
    count_integrations,
    find_integration,
    integration_choice,
    integration_names,
)

DAY_OPTIONS = (7, 30, 90)  # the ranges the dashboard's filters (and its export link) know
DEFAULT_DAYS = 30
MAX_ACCOUNTS = 50  # per page
PICKER_MAX = 200  # accounts the picker lists; past that, a search box instead
SEARCH_MAX = 200
CHART_WIDTH, CHART_HEIGHT = 600, 140


def chart(snapshots_newest_first: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An SVG polyline of followers over time (oldest left), scaled to the readings' own
    range; ``None`` with fewer than two readings that report followers."""
    points = [
        (datetime.fromisoformat(s["captured_at"]).timestamp(), s["followers"])
        for s in reversed(snapshots_newest_first)
        if s["followers"] is not None
    ]
    if len(points) < 2:
        return None
    t0, t1 = points[0][0], points[-1][0]
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span_t = (t1 - t0) or 1.0
    span_v = (high - low) or 1
    pad = 6
    coords = " ".join(
        f"{pad + (t - t0) / span_t * (CHART_WIDTH - 2 * pad):.1f},"
        f"{CHART_HEIGHT - pad - (v - low) / span_v * (CHART_HEIGHT - 2 * pad):.1f}"
        for t, v in points
    )
    return {
        "points": coords,
        "low": low,
        "high": high,
        "first": snapshots_newest_first[-1]["captured_at"],
        "last": snapshots_newest_first[0]["captured_at"],
        "readings": len(points),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }


def change_percent(current: int | None, previous: int | None) -> float | None:
    """This period's growth against the previous period's, in percent (``None`` when either
    is unknown or the previous one is 0: no honest ratio)."""
    if current is None or previous is None or previous == 0:
        return None
    return round((current - previous) / abs(previous) * 100, 1)


def accounts_page(
    session: Session,
    viewer: Viewer,
    *,
    now: datetime,
    days: int,
    integration_id: uuid.UUID | None,
    search: str = "",
    page: int = 1,
) -> dict[str, Any]:
    """Fifty accounts a page (newest connected first), or the one picked, or those whose
    handle or name contains ``search``. The picker lists every account while there are at
    most ``PICKER_MAX``; past that the page offers the search box instead, so that ten
    thousand accounts cost one page of fifty, not a list of ten thousand."""
    if days not in DAY_OPTIONS:
        raise BadRequest(f"days must be one of {', '.join(map(str, DAY_OPTIONS))}")
    if page < 1:
        raise BadRequest("page must be 1 or more")
    if len(search) > SEARCH_MAX:
        raise BadRequest(f"search must be at most {SEARCH_MAX} characters")
    workspace = viewer.workspace_id
    total = count_integrations(session, workspace)
    picker = integration_names(session, workspace) if total <= PICKER_MAX else None
    offset = (page - 1) * MAX_ACCOUNTS
    matched = total
    if integration_id is not None:
        shown: list[Any] = [find_integration(session, workspace, integration_id)]  # 404 if foreign
        matched = 1
    elif search:
        matched = count_integrations(session, workspace, search=search)
        shown = integration_names(
            session, workspace, search=search, offset=offset, limit=MAX_ACCOUNTS
        )
    elif picker is not None:
        shown = picker[offset : offset + MAX_ACCOUNTS]
    else:
        shown = integration_names(session, workspace, offset=offset, limit=MAX_ACCOUNTS)
    details = account_details(session, workspace, shown, now=now, days=days)
    accounts = []
    for integration, detail in zip(shown, details, strict=True):
        period, before = detail["period"], detail["previous_period"]
        accounts.append(
            {
                **detail,
                "display_name": integration.display_name or integration.username,
                "status": integration.status,
                "chart": chart(detail["snapshots"]),
                "vs_previous": {
                    c: None if period[c] is None or before[c] is None else period[c] - before[c]
                    for c in ("followers", "following", "posts")
                },
                "vs_previous_percent": change_percent(period["followers"], before["followers"]),
            }
        )
    return {
        "has_accounts": total > 0,
        "picker": [integration_choice(i) for i in picker or ()],
        "searchable": picker is None,
        "search": search,
        "accounts": accounts,
        "days": days,
        "day_options": DAY_OPTIONS,
        "selected": str(integration_id) if integration_id else "",
        "page": page,
        "per_page": MAX_ACCOUNTS,
        "pages": max(1, -(-matched // MAX_ACCOUNTS)),
        "matched": matched,
        "first": offset + 1,
        "last": min(offset + MAX_ACCOUNTS, matched),
    }
