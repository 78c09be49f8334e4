"""Workspaces, users and memberships. Services never commit."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.core.errors import BadRequest, NotFound
from openpost.workspaces.models import Member, Role, User, Workspace, WorkspaceMode

_hasher = PasswordHasher()


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"timezone {name!r} is not an IANA timezone name") from None
    return name


def create_workspace(
    session: Session, name: str, *, mode: str = "live", timezone: str = "UTC"
) -> Workspace:
    name = name.strip()
    if not name:
        raise BadRequest("name is required")
    if mode not in WorkspaceMode.__members__:
        raise BadRequest("mode must be 'live' or 'test'")
    workspace = Workspace(name=name, mode=mode, timezone=validate_timezone(timezone))
    session.add(workspace)
    session.flush()
    return workspace


def get_workspace(session: Session, workspace_id: uuid.UUID) -> Workspace:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("workspace not found")
    return workspace


def find_workspace_by_name(session: Session, name: str) -> Workspace | None:
    return session.scalars(
        select(Workspace).where(Workspace.name == name).order_by(Workspace.created_at)
    ).first()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password (8+ characters)."""
    if len(password) < 8:
        raise BadRequest("password must be at least 8 characters")
    user.password_hash = hash_password(password)


def list_workspaces(session: Session) -> list[Workspace]:
    """Every workspace, oldest first: for the operator's CLI, never for a caller of /v1."""
    return list(session.scalars(select(Workspace).order_by(Workspace.created_at, Workspace.id)))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain:
        raise BadRequest("email is not a valid address")
    return email


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


LAST_OWNER_DEMOTED = "the last owner cannot be demoted; make someone else owner first"
LAST_OWNER_REMOVED = "the last owner cannot be removed; make someone else owner first"


def owner_ids(session: Session, workspace_id: uuid.UUID, *, lock: bool = True) -> list[uuid.UUID]:
    """The member ids of the workspace's owners. With ``lock`` their rows stay locked
    (PostgreSQL) until the transaction ends, so two owners cannot demote each other at once."""
    query = (
        select(Member.id)
        .where(Member.workspace_id == workspace_id, Member.role == Role.owner.value)
        .order_by(Member.id)
    )
    return list(session.scalars(query.with_for_update() if lock else query).all())


def only_owner(session: Session, workspace_id: uuid.UUID) -> uuid.UUID | None:
    """The member id of the workspace's only owner, or ``None`` when it has several (or,
    by some accident, none): the one member who can be neither demoted nor removed."""
    owners = owner_ids(session, workspace_id, lock=False)
    return owners[0] if len(owners) == 1 else None


def check_keeps_an_owner(session: Session, member: Member, new_role: str | None) -> None:
    """Refuse giving ``member`` ``new_role`` (``None``: removing them) when that would leave
    the workspace without an owner. The dashboard and the CLI both go through here."""
    if member.role != Role.owner.value or new_role == Role.owner.value:
        return
    if len(owner_ids(session, member.workspace_id)) <= 1:
        raise BadRequest(LAST_OWNER_REMOVED if new_role is None else LAST_OWNER_DEMOTED)


def add_member(
    session: Session, workspace: Workspace, *, email: str, password: str, role: str
) -> Member:
    """Give ``email`` a role in ``workspace``, creating the user if needed.

    An existing user keeps their password; an existing membership changes role, unless
    that would demote the workspace's last owner (400).
    """
    if role not in Role.__members__:
        raise BadRequest("role must be one of owner, admin, editor, viewer")
    user = find_user(session, email)
    if user is None:
        if len(password) < 8:
            raise BadRequest("password must be at least 8 characters")
        user = User(email=normalise_email(email), password_hash=hash_password(password))
        session.add(user)
        session.flush()
    member = session.scalar(
        select(Member).where(Member.workspace_id == workspace.id, Member.user_id == user.id)
    )
    if member is None:
        member = Member(workspace_id=workspace.id, user_id=user.id, role=role)
        session.add(member)
    else:
        check_keeps_an_owner(session, member, role)
        member.role = role
    session.flush()
    return member
