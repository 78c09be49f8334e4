"""Resolving a live account's handle through its platform, for connecting it by handle.

The integrations service calls ``resolve_account``; ``refresh`` stays the only caller of the
platform clients. A paused platform is not asked (the lookup may be billed), and platform
failures become API errors: a handle the platform does not know or will not show, and an
instance the URL guard refuses (loopback, private or link-local addresses, a non-standard
port: refused until the user changes it, so never "retry later"), are a 400; a platform that
cannot answer now is a 503 with ``Retry-After``. (Such a failure is not stored as a shared
pause: the request's transaction rolls back with the error.)

A lookup charged by the platform's daily quota (YouTube: one unit per ``channels.list``,
an answer without the channel included) is counted against the shared budget: with the
request's transaction on success, and in a transaction of its own once the request's has
ended when the lookup found nothing, so that the 400's rollback does not undo the count.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.errors import AppError, BadRequest
from openpost.platforms.base import Account, NotFound, PermissionRequired, PlatformError
from openpost.platforms.netguard import UnsafeUrl
from openpost.platforms.registry import Clients
from openpost.platforms.specs import SPECS
from openpost.refresh import budgets, ratestate

ACCOUNTS = "accounts"


class PlatformUnavailable(AppError):
    status_code = 503
    message = "the platform cannot be reached now; retry later"
    # The platform's reason (``x_credits_depleted``, ``youtube_not_configured``, …), so a
    # caller can tell "retry later" from "only the operator can fix this".
    code: str | None = None


def _unavailable(
    message: str, until: datetime | None, now: datetime, code: str | None = None
) -> PlatformUnavailable:
    headers = {}
    if until is not None:
        headers["Retry-After"] = str(max(math.ceil((until - now).total_seconds()), 1))
    error = PlatformUnavailable(message, headers=headers)
    error.code = code
    return error


def resolve_account(
    session: Session,
    settings: Settings,
    platform: str,
    username: str,
    *,
    now: datetime,
    clients: Clients | None = None,
) -> Account:
    """The platform's account for ``username`` (live workspaces)."""
    owned = clients is None
    clients = clients or Clients(settings)
    try:
        return _resolve(session, clients, platform, username, now)
    finally:
        if owned:
            clients.close()


def _resolve(
    session: Session, clients: Clients, platform: str, username: str, now: datetime
) -> Account:
    if not clients.supported(platform, synthetic=False):
        raise BadRequest(f"connecting a live {platform} account by handle is not available yet")
    spec = SPECS.get(platform)
    if spec is not None and spec.consent_only:
        raise BadRequest(
            f"{platform} accounts are connected only with their owner's consent "
            f"(/integrations/{platform}/connect), not by handle"
        )
    pause = ratestate.active_pause(session, platform, platform, ACCOUNTS, now)
    if pause is not None:
        raise _unavailable(pause.message or f"{platform} is paused", pause.until, now, pause.reason)
    budget = budgets.budget_for(clients.settings, platform)
    with clients.open(platform, synthetic=False) as client:
        assert client is not None
        before = client.requests
        try:
            account = client.lookup_account(username)
        except UnsafeUrl as exc:  # the user's instance is refused: not a passing trouble
            raise BadRequest(exc.message) from None
        except (NotFound, PermissionRequired) as exc:
            if not ratestate.app_credential_refused(exc, shared_credential=True):
                if budget.per_call:  # answered (no such channel), and charged for it
                    _charge_when_done(session, budget, client.requests - before, now)
                raise BadRequest(exc.message) from None
            failure: PlatformError = exc
        except PlatformError as exc:
            failure = exc
        else:
            ratestate.record_success(
                session, platform, platform, ACCOUNTS, client.rate_window(), now
            )
            if budget.per_call:  # the lookup spent units of YouTube's daily quota
                ratestate.count_reads(session, budget, client.requests - before, now)
            return account
    # Not recorded as a shared pause: the request's transaction is about to roll back.
    raise _unavailable(failure.message, failure.retry_at, now, failure.code)


def _charge_when_done(
    session: Session, budget: budgets.DailyBudget, units: int, now: datetime
) -> None:
    """Count ``units`` against ``budget`` in a transaction of their own, once ``session``'s
    ends (committed or rolled back): the failed request's rollback must not undo them, and
    a second writer while the request's transaction may still hold SQLite's write lock
    would wait on it."""
    if units <= 0:
        return
    bind = session.get_bind()
    done = False

    def charge(_session: Session, *_args: object) -> None:
        nonlocal done
        if done:
            return
        done = True
        with Session(bind) as side, side.begin():
            ratestate.count_reads(side, budget, units, now)

    event.listen(session, "after_commit", charge, once=True)
    event.listen(session, "after_rollback", charge, once=True)
