"""Resolving a live account's handle through its platform, for connecting it by handle.

The integrations service calls ``resolve_account``; ``refresh`` stays the only caller of the
platform clients. A paused platform is not asked (the lookup may be billed), and platform
failures become API errors: a handle the platform does not know or will not show is a 400,
a platform that cannot answer now is a 503 with ``Retry-After``. (Such a failure is not
stored as a shared pause: the request's transaction rolls back with the error.)
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.errors import AppError, BadRequest
from openpost.platforms.base import Account, NotFound, PermissionRequired, PlatformError
from openpost.platforms.registry import Clients
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
    pause = ratestate.active_pause(session, platform, platform, ACCOUNTS, now)
    if pause is not None:
        raise _unavailable(pause.message or f"{platform} is paused", pause.until, now, pause.reason)
    with clients.open(platform, synthetic=False) as client:
        assert client is not None
        try:
            account = client.lookup_account(username)
        except (NotFound, PermissionRequired) as exc:
            if not ratestate.app_credential_refused(exc, shared_credential=True):
                raise BadRequest(exc.message) from None
            failure: PlatformError = exc
        except PlatformError as exc:
            failure = exc
        else:
            ratestate.record_success(
                session, platform, platform, ACCOUNTS, client.rate_window(), now
            )
            budget = budgets.budget_for(clients.settings, platform)
            if budget.per_call:  # the lookup spent a unit of YouTube's daily quota
                ratestate.count_reads(session, budget, 1, now)
            return account
    # Not recorded as a shared pause: the request's transaction is about to roll back.
    raise _unavailable(failure.message, failure.retry_at, now, failure.code)
