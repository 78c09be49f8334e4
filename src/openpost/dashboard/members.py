"""Managing a workspace's members from the dashboard. Services never commit.

Rules (SPEC §2 roles):
- owners and admins add members, change roles and remove members;
- only an owner may make someone an owner, or change or remove an owner;
- the last owner can be neither demoted nor removed, so a workspace always has one
  (``workspaces.service.check_keeps_an_owner``, which the CLI's ``user create`` shares).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.core.errors import BadRequest, Forbidden, NotFound
from openpost.dashboard.models import DashboardSession
from openpost.dashboard.sessions import Viewer
from openpost.workspaces.models import Member, Role, User
from openpost.workspaces.service import (
    add_member,
    check_keeps_an_owner,
    find_user,
    get_workspace,
    only_owner,
)

ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class MemberRow:
    member_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    only_owner: bool = False
    """The workspace's only owner: neither demoted nor removed, so the page offers neither."""


def list_members(session: Session, workspace_id: uuid.UUID) -> list[MemberRow]:
    rows = session.execute(
        select(Member.id, Member.user_id, User.email, Member.role, Member.created_at)
        .join(User, User.id == Member.user_id)
        .where(Member.workspace_id == workspace_id)
        .order_by(Member.created_at, Member.id)
    ).all()
    sole = only_owner(session, workspace_id)
    return [
        MemberRow(r.id, r.user_id, r.email, r.role, r.created_at, only_owner=r.id == sole)
        for r in rows
    ]


def _require_manager(actor: Viewer) -> None:
    if not actor.can_manage:
        raise Forbidden("only owners and admins manage members")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadRequest("role must be one of owner, admin, editor, viewer")


def _member(session: Session, workspace_id: uuid.UUID, member_id: uuid.UUID) -> Member:
    member = session.scalar(
        select(Member).where(Member.id == member_id, Member.workspace_id == workspace_id)
    )
    if member is None:
        raise NotFound("member not found")
    return member


def add(
    session: Session, actor: Viewer, *, email: str, role: str, password: str = ""
) -> tuple[MemberRow, str | None]:
    """Add a member; a new user gets ``password`` or, if blank, a generated one that is
    returned (to be shown once). An existing user keeps their own password."""
    _require_manager(actor)
    _check_role(role)
    if role == Role.owner.value and not actor.is_owner:
        raise Forbidden("only an owner can add an owner")
    existing = find_user(session, email)
    generated = None
    if existing is not None:
        already = session.scalar(
            select(Member.id).where(
                Member.workspace_id == actor.workspace_id, Member.user_id == existing.id
            )
        )
        if already is not None:
            raise BadRequest(f"{existing.email} is already a member")
    elif not password:
        generated = password = secrets.token_urlsafe(12)
    workspace = get_workspace(session, actor.workspace_id)
    member = add_member(session, workspace, email=email, password=password, role=role)
    user = session.get(User, member.user_id)
    assert user is not None
    return MemberRow(member.id, user.id, user.email, member.role, member.created_at), generated


def change_role(session: Session, actor: Viewer, member_id: uuid.UUID, role: str) -> Member:
    _require_manager(actor)
    _check_role(role)
    member = _member(session, actor.workspace_id, member_id)
    touches_owner = Role.owner.value in (role, member.role)
    if touches_owner and not actor.is_owner:
        raise Forbidden("only an owner can grant or change the owner role")
    check_keeps_an_owner(session, member, role)
    member.role = role
    session.flush()
    return member


def remove(session: Session, actor: Viewer, member_id: uuid.UUID) -> None:
    """Remove a member; their dashboard sessions in this workspace end with it."""
    _require_manager(actor)
    member = _member(session, actor.workspace_id, member_id)
    if member.role == Role.owner.value:
        if not actor.is_owner:
            raise Forbidden("only an owner can remove an owner")
        check_keeps_an_owner(session, member, None)
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.workspace_id == actor.workspace_id,
            DashboardSession.user_id == member.user_id,
        )
    )
    session.delete(member)
    session.flush()
