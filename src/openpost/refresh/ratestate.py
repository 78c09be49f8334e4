"""Platform rate windows, pauses and daily reads, shared by every worker through the database.

Keys: ``<platform>`` holds pauses that stop every call to the platform (X 402
credits-depleted, 429 usage-capped, a refused app token) and the count against the
platform's daily budget (``refresh.budgets``: posts per UTC day, YouTube's quota units per
Pacific day);
``<scope>/metrics``, ``<scope>/discovery`` and ``<scope>/accounts`` hold each endpoint's rate
window and the pause of a spent window, where the scope is the credential key
(``platforms.registry``: ``twitter`` for X's app token, ``mastodon:<instance>``, …).
A pause ends at its time; a platform-wide pause then lets exactly one probe batch through
(the planner sends it) before normal traffic resumes, so a platform that keeps refusing is
asked at most once per pause period (X: hourly for credits).

Functions here never commit: the caller's transaction (a capture or a planning pass)
writes the state with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from openpost.core.db import insert_ignoring_conflicts
from openpost.integrations import status
from openpost.platforms.base import (
    BudgetExhausted,
    PermissionRequired,
    PlatformError,
    RateLimited,
    RateWindow,
)
from openpost.platforms.specs import SPECS
from openpost.refresh.budgets import DailyBudget
from openpost.refresh.models import PlatformState

METRICS = "metrics"
DISCOVERY = "discovery"
RATE_WINDOW_SPENT = "rate_window_spent"
SPENT_MESSAGE = "the platform's rate window is spent until its reset"
APP_SPENT_MESSAGE = "the app's rate window on this platform is spent until access is regained"
# Refusals of the app's own credential (not of one account): only the operator can fix them.
APP_CREDENTIAL_CODES = frozenset(
    code for spec in SPECS.values() for code in spec.app_credential_codes
)


def endpoint_key(scope: str, endpoint: str) -> str:
    return f"{scope}/{endpoint}"


@dataclass(frozen=True, slots=True)
class Pause:
    key: str
    until: datetime
    reason: str
    message: str | None


def app_credential_refused(error: PlatformError, *, shared_credential: bool) -> bool:
    """The shared app credential itself was refused: pause the platform, blame no account."""
    return (
        shared_credential
        and isinstance(error, PermissionRequired)
        and error.code in APP_CREDENTIAL_CODES
    )


def _locked(session: Session, key: str) -> PlatformState:
    """The row for ``key``, created if missing, locked for this transaction."""
    row = session.get(PlatformState, key, with_for_update=True, populate_existing=True)
    if row is None:
        session.execute(
            insert_ignoring_conflicts(session, PlatformState, ["key"]).values(
                key=key, reads_today=0
            )
        )
        row = session.get(PlatformState, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def states(session: Session, keys: Iterable[str]) -> dict[str, PlatformState]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.scalars(select(PlatformState).where(PlatformState.key.in_(wanted)))
    return {row.key: row for row in rows}


def pause_of(row: PlatformState | None, now: datetime) -> Pause | None:
    if row is None or row.paused_until is None or row.paused_until <= now:
        return None
    return Pause(row.key, row.paused_until, row.pause_reason or "paused", row.pause_message)


def has_pause(row: PlatformState | None) -> bool:
    """A platform-wide pause is recorded (in force, or ended and awaiting its probe)."""
    return row is not None and row.pause_reason is not None


def needs_probe(row: PlatformState | None, now: datetime) -> bool:
    """A platform-wide pause has ended but no call has succeeded since: probe first."""
    return (
        row is not None
        and row.pause_reason is not None
        and (row.paused_until is None or row.paused_until <= now)
    )


def active_pause(
    session: Session, platform: str, scope: str, endpoint: str, now: datetime
) -> Pause | None:
    """The pause that stops ``scope``'s ``endpoint`` now, if any (platform-wide first)."""
    rows = states(session, [platform, endpoint_key(scope, endpoint)])
    return pause_of(rows.get(platform), now) or pause_of(
        rows.get(endpoint_key(scope, endpoint)), now
    )


def mark_probing(session: Session, platform: str, until: datetime, now: datetime) -> None:
    """Hold the platform while one probe batch is in flight (until its lease ends)."""
    row = _locked(session, platform)
    row.paused_until = until
    row.updated_at = now
    session.flush()


def record_success(
    session: Session,
    platform: str,
    scope: str,
    endpoint: str,
    window: RateWindow | Sequence[RateWindow] | None,
    now: datetime,
    *,
    clear_platform_pause: bool = True,
) -> None:
    """A call went through: remember its windows, pause on a spent one, end a platform-wide
    pause (a successful probe). Callers that read the platform row just before may say
    there was no pause to end (``clear_platform_pause=False``).

    ``window`` is what the answer reported (``platforms.base.windows_of``): a window of the
    credential used is kept on its endpoint row (the tightest, when there are several); a
    spent window of the whole app (``scope="app"``) pauses the platform.

    Written with UPDATE statements and no read: this runs once per batch."""
    windows = _as_windows(window)
    spent_app = [u for w in windows if w.scope == "app" and (u := w.pause_until(now))]
    values: dict[Any, Any] = {PlatformState.updated_at: now}
    own = _credential_window(windows, now)
    if own is not None:
        tightest, until = own
        values |= {
            PlatformState.rate_limit: tightest.limit,
            PlatformState.rate_remaining: tightest.remaining,
            PlatformState.rate_reset_at: tightest.reset_at,
        }
        if until is not None:
            values |= {
                PlatformState.paused_until: until,
                PlatformState.pause_reason: RATE_WINDOW_SPENT,
                PlatformState.pause_message: SPENT_MESSAGE,
            }
        else:
            spent = PlatformState.pause_reason == RATE_WINDOW_SPENT
            for column in (
                PlatformState.paused_until,
                PlatformState.pause_reason,
                PlatformState.pause_message,
            ):
                values[column] = case((spent, None), else_=column)
    key = endpoint_key(scope, endpoint)
    done = session.execute(
        update(PlatformState)
        .where(PlatformState.key == key)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        _locked(session, key)  # create it, then write the window
        session.execute(
            update(PlatformState)
            .where(PlatformState.key == key)
            .values(values)
            .execution_options(synchronize_session=False)
        )
    if clear_platform_pause:
        session.execute(
            update(PlatformState)
            .where(PlatformState.key == platform, PlatformState.pause_reason.is_not(None))
            .values(pause_reason=None, pause_message=None, paused_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if spent_app:
        row = _locked(session, platform)
        row.paused_until = max(spent_app)
        row.pause_reason = RATE_WINDOW_SPENT
        row.pause_message = APP_SPENT_MESSAGE
        row.updated_at = now
        session.flush()


def _as_windows(window: RateWindow | Sequence[RateWindow] | None) -> tuple[RateWindow, ...]:
    if window is None:
        return ()
    if isinstance(window, RateWindow):
        return (window,)
    return tuple(window)


def _credential_window(
    windows: Sequence[RateWindow], now: datetime
) -> tuple[RateWindow, datetime | None] | None:
    """Of the windows of the credential used (not the app's): the tightest, which is kept,
    and until when a spent one pauses that credential (``None``: none is spent)."""
    own = [w for w in windows if w.scope == "credential"]
    if not own:
        return None
    tightest = min(own, key=lambda w: (w.remaining is None, w.remaining or 0))
    return tightest, max((u for w in own if (u := w.pause_until(now))), default=None)


def _apply_window(
    row: PlatformState, window: RateWindow | Sequence[RateWindow] | None, now: datetime
) -> None:
    row.updated_at = now
    own = _credential_window(_as_windows(window), now)
    if own is None:
        return
    tightest, until = own
    row.rate_limit = tightest.limit
    row.rate_remaining = tightest.remaining
    row.rate_reset_at = tightest.reset_at
    if until is not None:
        row.paused_until = until
        row.pause_reason = RATE_WINDOW_SPENT
        row.pause_message = SPENT_MESSAGE
    elif row.pause_reason == RATE_WINDOW_SPENT:
        row.paused_until = row.pause_reason = row.pause_message = None


def record_failure(
    session: Session,
    platform: str,
    scope: str,
    endpoint: str,
    error: PlatformError,
    window: RateWindow | Sequence[RateWindow] | None,
    now: datetime,
    *,
    shared_credential: bool,
    probe_pause_until: datetime,
) -> Pause | None:
    """A whole call failed: pause what the failure says must pause; return that pause.

    - a spent rate window (429) pauses the endpoint until ``retry_at``;
    - a paid budget (402 credits-depleted, 429 usage-capped) pauses the whole platform until
      ``retry_at``;
    - a refused shared credential (the app token) pauses the whole platform until
      ``probe_pause_until``: no integration can fix it, only the operator.
    """
    endpoint_row = _locked(session, endpoint_key(scope, endpoint))
    _apply_window(endpoint_row, window, now)
    if isinstance(error, RateLimited):
        until = max(error.retry_at or probe_pause_until, now)
        endpoint_row.paused_until = until
        endpoint_row.pause_reason = error.code
        endpoint_row.pause_message = error.message
        session.flush()
        return Pause(endpoint_row.key, until, error.code, error.message)
    if isinstance(error, BudgetExhausted) or app_credential_refused(
        error, shared_credential=shared_credential
    ):
        retry_at = error.retry_at if isinstance(error, BudgetExhausted) else None
        until = max(retry_at or probe_pause_until, now)
        row = _locked(session, platform)
        if isinstance(error, BudgetExhausted) and not (row.paused_until and row.paused_until > now):
            status.budget_exhausted(
                session, platform, now, reason=error.code, message=error.message, until=until
            )
        row.paused_until = until
        row.pause_reason = error.code
        row.pause_message = error.message
        row.updated_at = now
        session.flush()
        return Pause(row.key, until, error.code, error.message)
    session.flush()
    return None


def units_today(row: PlatformState | None, budget: DailyBudget, now: datetime) -> int:
    """Units counted against ``budget`` on ``now``'s budget day."""
    if row is None or row.budget_day != budget.day(now).isoformat():
        return 0
    return row.reads_today


def reads_left(row: PlatformState | None, budget: DailyBudget, now: datetime) -> int | None:
    """Units still allowed on ``now``'s budget day (``None``: the platform has no limit)."""
    if not budget.limited:
        return None
    return max(budget.limit - units_today(row, budget, now), 0)


def count_reads(session: Session, budget: DailyBudget, units: int, now: datetime) -> None:
    """Add ``units`` to the count of ``now``'s budget day (a new day starts at 0)."""
    if units <= 0:
        return
    day = budget.day(now).isoformat()
    row = _locked(session, budget.platform)
    if row.budget_day != day:
        row.budget_day = day
        row.reads_today = 0
    before = row.reads_today
    row.reads_today += units
    row.updated_at = now
    session.flush()
    if budget.limited and before < budget.limit <= row.reads_today:
        status.budget_exhausted(
            session,
            budget.platform,
            now,
            reason="daily_budget",
            message=f"the daily budget of {budget.limit} {budget.unit.replace('_', ' ')} is spent",
            until=budget.resets_at(now),
        )
