"""Integrations (connected accounts): list, read, connect by handle, disconnect.

Shared by the API and the dashboard. Services never commit. Credentials never leave this
module: ``integration_out`` is the one public shape and it has no credential field.

Connecting by handle: in a ``test`` workspace the account is synthetic. An integration
of the workspace on that platform with that username (ignoring case: handles are
case-insensitive on every platform here) is that account, whatever external id it was
made with (the demo seeder takes the simulator's); a new one gets the deterministic
external id ``synthetic:<platform>:<lower-cased username>``. In a ``live`` workspace the
platform resolves the handle (X today; a platform without a live client here is a 400).
Connecting an account that is already connected returns that integration (reactivated if
it was disconnected or needed a refresh); the caller learns which by
``ConnectResult.created``.

Connecting with the owner's consent (``connect_owner``, X's OAuth 2.0 flow in the
dashboard): the account X names for the token is created, or, when the workspace already
has it (connected by handle, or consented before), updated in place: the token is attached,
the handle and name refreshed, the integration made active. Its credential key then
becomes the owner's (``twitter:user:<integration>``), because it now has credentials. The
credentials are sealed with the integration's id inside, which binds them to the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.config import Settings
from openpost.core.crypto import Sealer
from openpost.core.db import insert_ignoring_conflicts
from openpost.core.errors import BadRequest, NotFound
from openpost.core.ids import new_id
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration, IntegrationStatus, Platform
from openpost.refresh.accounts import resolve_account
from openpost.workspaces.models import WorkspaceMode

USERNAME_MAX = 100


@dataclass(frozen=True, slots=True)
class ConnectResult:
    integration: dict[str, Any]
    created: bool


def integration_out(integration: Integration) -> dict[str, Any]:
    """The API's Integration object. Never add credentials here."""
    return {
        "id": str(integration.id),
        "platform": integration.platform,
        "username": integration.username,
        "display_name": integration.display_name,
        "status": integration.status,
        "external_account_id": integration.external_account_id,
        "analytics_enabled": integration.analytics_enabled,
        "synthetic": integration.synthetic,
        "created_at": format_time(integration.created_at),
    }


def list_integrations(session: Session, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every integration of the workspace, disconnected ones included, newest first."""
    rows = session.scalars(
        select(Integration)
        .where(Integration.workspace_id == workspace_id)
        .order_by(Integration.created_at.desc(), Integration.id.desc())
    )
    return [integration_out(row) for row in rows]


def _matching(workspace_id: uuid.UUID, search: str | None) -> Any:
    matching = Integration.workspace_id == workspace_id
    if search:
        matching = matching & (
            Integration.username.icontains(search, autoescape=True)
            | Integration.display_name.icontains(search, autoescape=True)
        )
    return matching


def count_integrations(
    session: Session, workspace_id: uuid.UUID, *, search: str | None = None
) -> int:
    """How many integrations of the workspace ``integration_names`` would list."""
    return (
        session.scalar(
            select(func.count()).select_from(Integration).where(_matching(workspace_id, search))
        )
        or 0
    )


def integration_names(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    search: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[Any]:
    """The workspace's integrations whose handle or display name contains ``search``
    (case-insensitive; every one without it) from ``offset``, at most ``limit``, newest
    first, as rows of id, platform, username, display name and status: the dashboard's
    account picker and pages, without loading whole integrations."""
    return list(
        session.execute(
            select(
                Integration.id,
                Integration.platform,
                Integration.username,
                Integration.display_name,
                Integration.status,
            )
            .where(_matching(workspace_id, search))
            .order_by(Integration.created_at.desc(), Integration.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    )


def integration_choice(row: Any) -> dict[str, str]:
    """A row of ``integration_names`` as a picker's option: id (text), platform, username
    and status."""
    return {
        "id": str(row.id),
        "platform": row.platform,
        "username": row.username,
        "status": row.status,
    }


def find_integration(
    session: Session, workspace_id: uuid.UUID, integration_id: uuid.UUID
) -> Integration:
    """The workspace's integration, or a 404 (another workspace's id included)."""
    integration = session.scalar(
        select(Integration).where(
            Integration.id == integration_id, Integration.workspace_id == workspace_id
        )
    )
    if integration is None:
        raise NotFound("integration not found")
    return integration


def integrations_by_id(
    session: Session, workspace_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Integration]:
    """Those of ``ids`` that are the workspace's integrations, in one query."""
    if not ids:
        return {}
    rows = session.scalars(
        select(Integration).where(
            Integration.workspace_id == workspace_id, Integration.id.in_(list(ids))
        )
    )
    return {row.id: row for row in rows}


def get_integration(
    session: Session, workspace_id: uuid.UUID, integration_id: uuid.UUID
) -> dict[str, Any]:
    return integration_out(find_integration(session, workspace_id, integration_id))


def normalise_username(username: str) -> str:
    """Strip spaces and one leading ``@``; 1 to 100 characters, no whitespace inside."""
    username = username.strip().removeprefix("@").strip()
    if not username or len(username) > USERNAME_MAX:
        raise BadRequest(f"username must be 1 to {USERNAME_MAX} characters")
    if any(char.isspace() or not char.isprintable() for char in username):
        raise BadRequest("username must not contain spaces or control characters")
    return username


def synthetic_account_id(platform: str, username: str) -> str:
    return f"synthetic:{platform}:{username.lower()}"


def connect_by_handle(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    mode: str,
    platform: str,
    username: str,
    now: datetime,
    settings: Settings | None = None,
) -> ConnectResult:
    """Connect ``platform``/``username`` to the workspace, or return it if connected.

    In a live workspace the platform resolves the handle (``refresh.accounts``), which
    needs ``settings``; discovery then imports the account's recent posts.
    """
    if platform not in Platform.__members__:
        raise BadRequest(f"platform must be one of {', '.join(Platform)}")
    username = normalise_username(username)
    display_name, synthetic = username, mode == WorkspaceMode.test
    if synthetic:
        known = _synthetic_by_handle(session, workspace_id, platform, username)
        if known is not None:
            return ConnectResult(_reactivated(session, known), created=False)
        external_id = synthetic_account_id(platform, username)
    elif settings is None:
        raise BadRequest(
            f"connecting a live {platform} account by handle is not available yet; "
            "test workspaces can connect synthetic accounts"
        )
    else:
        account = resolve_account(session, settings, platform, username, now=now)
        external_id, username = account.external_account_id, account.username
        display_name = account.display_name
    integration, created = _insert_or_find(
        session,
        workspace_id,
        platform=platform,
        external_account_id=external_id,
        username=username,
        display_name=display_name,
        synthetic=synthetic,
        now=now,
    )
    if not created:
        return ConnectResult(_reactivated(session, integration), created=False)
    return ConnectResult(integration_out(integration), created=True)


def _insert_or_find(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    platform: str,
    external_account_id: str,
    username: str,
    display_name: str,
    synthetic: bool,
    now: datetime,
) -> tuple[Integration, bool]:
    """The workspace's integration for this account, inserted if missing (race-safe: a
    concurrent connect of the same account inserts one row); whether it was inserted now."""
    inserted = session.scalar(
        insert_ignoring_conflicts(
            session, Integration, ["workspace_id", "platform", "external_account_id"]
        )
        .values(
            id=new_id(),
            workspace_id=workspace_id,
            platform=platform,
            external_account_id=external_account_id,
            username=username,
            display_name=display_name,
            status=IntegrationStatus.active.value,
            synthetic=synthetic,
            analytics_enabled=True,
            created_at=now,
        )
        .returning(Integration.id)
    )
    integration = session.scalars(
        select(Integration).where(
            Integration.workspace_id == workspace_id,
            Integration.platform == platform,
            Integration.external_account_id == external_account_id,
        )
    ).one()
    return integration, inserted is not None


def connect_owner(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    platform: str,
    external_account_id: str,
    username: str,
    display_name: str,
    credentials: dict[str, Any],
    sealer: Sealer,
    now: datetime,
) -> ConnectResult:
    """Connect the account an owner consented for, with their credentials (see the module
    docs); an already connected account gets the credentials attached."""
    integration, created = _insert_or_find(
        session,
        workspace_id,
        platform=platform,
        external_account_id=external_account_id,
        username=username,
        display_name=display_name,
        synthetic=False,
        now=now,
    )
    integration.username = username
    integration.display_name = display_name
    integration.status = IntegrationStatus.active.value
    integration.credentials_encrypted = sealer.seal(
        {**credentials, "integration_id": str(integration.id)}
    )
    session.flush()
    return ConnectResult(integration_out(integration), created=created)


def _synthetic_by_handle(
    session: Session, workspace_id: uuid.UUID, platform: str, username: str
) -> Integration | None:
    """A test workspace's account with this handle (any case), whatever its external id."""
    return session.scalars(
        select(Integration)
        .where(
            Integration.workspace_id == workspace_id,
            Integration.platform == platform,
            func.lower(Integration.username) == username.lower(),
        )
        .order_by(Integration.created_at, Integration.id)
    ).first()


def _reactivated(session: Session, integration: Integration) -> dict[str, Any]:
    """The integration, made active again if it was disconnected or needed a refresh."""
    if integration.status != IntegrationStatus.active:
        integration.status = IntegrationStatus.active.value
        session.flush()
    return integration_out(integration)


def disconnect(
    session: Session, workspace_id: uuid.UUID, integration_id: uuid.UUID
) -> dict[str, Any]:
    """Mark the integration disconnected: collection stops, its history stays."""
    integration = find_integration(session, workspace_id, integration_id)
    integration.status = IntegrationStatus.disconnected.value
    session.flush()
    return integration_out(integration)
