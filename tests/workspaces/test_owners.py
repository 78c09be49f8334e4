"""A workspace always keeps an owner: the rule lives in workspaces.service, so the dashboard
and the CLI's ``user create`` (which changes an existing member's role) share it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from openpost.core.errors import BadRequest
from openpost.workspaces.models import Member
from openpost.workspaces.service import (
    LAST_OWNER_DEMOTED,
    LAST_OWNER_REMOVED,
    add_member,
    check_keeps_an_owner,
    only_owner,
)
from tests.builders import make_workspace

PASSWORD = "owner-password-1"


def test_the_last_owner_cannot_be_demoted_through_add_member(session: Session) -> None:
    workspace = make_workspace(session)
    owner = add_member(session, workspace, email="one@example.com", password=PASSWORD, role="owner")
    with pytest.raises(BadRequest) as refused:
        add_member(session, workspace, email="one@example.com", password=PASSWORD, role="admin")
    assert refused.value.message == LAST_OWNER_DEMOTED
    session.refresh(owner)
    assert owner.role == "owner"
    assert only_owner(session, workspace.id) == owner.id


def test_with_a_second_owner_either_may_step_down(session: Session) -> None:
    workspace = make_workspace(session)
    first = add_member(session, workspace, email="a@example.com", password=PASSWORD, role="owner")
    add_member(session, workspace, email="b@example.com", password=PASSWORD, role="owner")
    assert only_owner(session, workspace.id) is None
    check_keeps_an_owner(session, first, None)  # removing one of two owners is fine
    demoted = add_member(
        session, workspace, email="a@example.com", password=PASSWORD, role="viewer"
    )
    assert demoted.role == "viewer"
    second = session.query(Member).filter_by(workspace_id=workspace.id, role="owner").one()
    assert only_owner(session, workspace.id) == second.id
    with pytest.raises(BadRequest) as refused:
        check_keeps_an_owner(session, second, None)
    assert refused.value.message == LAST_OWNER_REMOVED


def test_other_roles_change_freely(session: Session) -> None:
    workspace = make_workspace(session)
    add_member(session, workspace, email="o@example.com", password=PASSWORD, role="owner")
    viewer = add_member(session, workspace, email="v@example.com", password=PASSWORD, role="viewer")
    check_keeps_an_owner(session, viewer, None)
    assert add_member(
        session, workspace, email="v@example.com", password="", role="editor"
    ).role == ("editor")
