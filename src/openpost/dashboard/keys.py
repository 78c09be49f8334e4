"""API keys from the dashboard: create (the key is shown once) and revoke.

Wraps ``auth.service`` with the dashboard's rules: owners and admins only, a name of 1 to
200 characters.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from openpost.auth.models import ApiKey
from openpost.auth.service import create_key, revoke_key
from openpost.core.errors import BadRequest, Forbidden
from openpost.dashboard.sessions import Viewer
from openpost.workspaces.service import get_workspace

NAME_MAX = 200


def _require_manager(actor: Viewer) -> None:
    if not actor.can_manage:
        raise Forbidden("only owners and admins manage API keys")


def create(session: Session, actor: Viewer, name: str) -> tuple[ApiKey, str]:
    _require_manager(actor)
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise BadRequest(f"a key's name must be 1 to {NAME_MAX} characters")
    return create_key(session, get_workspace(session, actor.workspace_id), name)


def revoke(session: Session, actor: Viewer, key_id: uuid.UUID) -> ApiKey:
    _require_manager(actor)
    return revoke_key(session, key_id, actor.workspace_id)
