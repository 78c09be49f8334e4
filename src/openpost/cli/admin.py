"""``openpost workspace|key|user …``: the administration commands."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

import typer

from openpost.auth.service import create_key, list_keys, revoke_key
from openpost.cli.common import (
    emit,
    emit_rows,
    fail,
    load_settings,
    note,
    open_engine,
    unit_of_work,
)
from openpost.core.db import make_sessionmaker
from openpost.core.errors import AppError
from openpost.core.ids import parse_uuid
from openpost.core.timefmt import format_time
from openpost.dashboard.members import list_members
from openpost.workspaces import removal
from openpost.workspaces.service import (
    add_member,
    create_workspace,
    find_user,
    get_workspace,
    list_workspaces,
    set_password,
)

workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
WorkspaceOption = Annotated[str, typer.Option(metavar="ID", help="Workspace id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(key_app, name="key")
    app.add_typer(user_app, name="user")


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Option(metavar="NAME", help="Workspace name.")],
    mode: Annotated[
        str, typer.Option(metavar="MODE", help="`live`, or `test` for synthetic data.")
    ] = "live",
    timezone: Annotated[
        str, typer.Option(metavar="ZONE", help="IANA timezone for day buckets.")
    ] = "UTC",
    as_json: JsonFlag = False,
) -> None:
    """Create a workspace."""
    with unit_of_work() as session:
        workspace = create_workspace(session, name, mode=mode, timezone=timezone)
        payload = {
            "id": str(workspace.id),
            "name": workspace.name,
            "mode": workspace.mode,
            "timezone": workspace.timezone,
            "created_at": format_time(workspace.created_at),
        }
    emit(as_json, payload, f"created workspace {payload['id']} ({workspace.name}, {mode})")


@workspace_app.command("list")
def workspace_list(as_json: JsonFlag = False) -> None:
    """List every workspace, oldest first."""
    with unit_of_work() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": str(w.id),
                "name": w.name,
                "mode": w.mode,
                "timezone": w.timezone,
                "created_at": format_time(w.created_at),
            }
            for w in list_workspaces(session)
        ]
    emit_rows(as_json, rows, ["id", "name", "mode", "timezone", "created_at"], "workspaces")


@workspace_app.command("delete")
def workspace_delete(
    workspace: WorkspaceOption,
    yes: Annotated[
        bool, typer.Option("--yes", help="Really remove it (without: show what would go).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove a workspace and everything of it: readings, posts, accounts, keys, members.

    Without `--yes` nothing is removed: it prints what would go and exits with code 1.
    Access and collection stop in the first transaction; readings then go in short
    batches (progress on stderr), so the service keeps answering for other workspaces.
    Users whose only workspace it was are removed too; retention run records are kept.
    Safe to run again if stopped half-way.
    """
    settings = load_settings()
    try:
        chosen = parse_uuid(workspace, "--workspace")
    except AppError as exc:
        fail(exc.message)
    engine = open_engine(settings, migrate=False)
    factory = make_sessionmaker(engine)
    try:
        try:
            if not yes:
                with factory() as session:
                    planned = removal.preview(session, chosen)
                _print_removal(planned, as_json, done=False)
                fail("nothing was removed: pass --yes to remove this workspace")
            progress = _RemovalProgress()
            done = removal.delete_workspace(factory, chosen, progress=progress)
        except LookupError:
            fail(f"no workspace {workspace}")
    finally:
        engine.dispose()
    _print_removal(done, as_json, done=True)


class _RemovalProgress:
    """A line on stderr at most every two seconds while readings are removed."""

    def __init__(self) -> None:
        self.shown = time.monotonic()

    def __call__(self, table: str, removed: int) -> None:
        if time.monotonic() - self.shown >= 2:
            self.shown = time.monotonic()
            note(f"{table.replace('_', ' ')}: {removed:,} removed so far")


def _print_removal(found: removal.Removal, as_json: bool, *, done: bool) -> None:
    payload = {
        "workspace_id": str(found.workspace_id),
        "name": found.name,
        "removed" if done else "would_remove": found.removed,
    }
    verb = "removed" if done else "would remove"
    lines = [f"{verb} workspace {found.name} ({found.workspace_id}):"]
    lines += [
        f"  {table.replace('_', ' ')}: {count:,}"
        for table, count in found.removed.items()
        if count or table in ("snapshots", "account_snapshots")
    ]
    emit(as_json, payload, "\n".join(lines))


@key_app.command("create")
def key_create(
    workspace: WorkspaceOption,
    name: Annotated[str, typer.Option(metavar="NAME", help="A name to recognise the key by.")],
    as_json: JsonFlag = False,
) -> None:
    """Create an API key. The key is printed once and never stored."""
    with unit_of_work() as session:
        target = get_workspace(session, parse_uuid(workspace, "workspace"))
        key, plaintext = create_key(session, target, name)
        payload = {
            "id": str(key.id),
            "workspace_id": str(target.id),
            "name": key.name,
            "key": plaintext,
            "created_at": format_time(key.created_at),
        }
    emit(as_json, payload, f"{plaintext}\n(key id {payload['id']}; shown once, store it now)")


@key_app.command("list")
def key_list(workspace: WorkspaceOption, as_json: JsonFlag = False) -> None:
    """List a workspace's API keys, newest first: names and last 4 characters, never a key."""
    with unit_of_work() as session:
        target = get_workspace(session, parse_uuid(workspace, "workspace"))
        rows: list[dict[str, Any]] = [
            {
                "id": str(k.id),
                "name": k.name,
                "last4": k.last4,
                "created_at": format_time(k.created_at),
                "last_used_at": format_time(k.last_used_at),
                "revoked_at": format_time(k.revoked_at),
            }
            for k in list_keys(session, target.id)
        ]
    columns = ["id", "name", "last4", "created_at", "last_used_at", "revoked_at"]
    emit_rows(as_json, rows, columns, "keys")


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (not the key itself).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke an API key: it stops working at once."""
    with unit_of_work() as session:
        key = revoke_key(session, parse_uuid(key_id, "key id"))
        payload = {"id": str(key.id), "revoked_at": format_time(key.revoked_at)}
    emit(as_json, payload, f"revoked key {payload['id']}")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(metavar="EMAIL", help="Login email.")],
    workspace: WorkspaceOption,
    role: Annotated[
        str, typer.Option(metavar="ROLE", help="owner, admin, editor or viewer.")
    ] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="OPENPOST_USER_PASSWORD",
            metavar="PASSWORD",
            help="Password (8+ characters). A new user without one gets a generated "
            "password, printed once. For an existing user: their new password; without "
            "it they keep theirs.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a person a dashboard login and a role in a workspace.

    The email may already have a login (in this or another workspace): the person then
    gets the role here and keeps their password unless --password is given.
    """
    with unit_of_work() as session:
        target = get_workspace(session, parse_uuid(workspace, "workspace"))
        existing = find_user(session, email)
        generated = None
        if existing is None:
            generated = None if password is not None else secrets.token_urlsafe(12)
            secret = password if password is not None else generated
            assert secret is not None
        else:
            secret = ""  # unused: add_member keeps an existing user's password
            if password is not None:
                set_password(existing, password)
        member = add_member(session, target, email=email, password=secret, role=role)
        payload: dict[str, Any] = {
            "user_id": str(member.user_id),
            "workspace_id": str(target.id),
            "email": email.strip().lower(),
            "role": member.role,
            "created_user": existing is None,
            "password_changed": existing is not None and password is not None,
        }
    if generated is not None:
        payload["password"] = generated
    text = f"{payload['email']} is {member.role} of workspace {target.id}"
    if existing is None:
        text += "\n" + (
            f"password: {generated}  (shown once)" if generated else "password: as given"
        )
    elif password is not None:
        text += f"\n{payload['email']} already had a login; its password is now the one given"
    else:
        text += f"\n{payload['email']} already had a login and keeps its password"
    emit(as_json, payload, text)


@user_app.command("list")
def user_list(workspace: WorkspaceOption, as_json: JsonFlag = False) -> None:
    """List a workspace's members and their roles (never a password)."""
    with unit_of_work() as session:
        target = get_workspace(session, parse_uuid(workspace, "workspace"))
        rows: list[dict[str, Any]] = [
            {
                "user_id": str(m.user_id),
                "email": m.email,
                "role": m.role,
                "member_since": format_time(m.created_at),
            }
            for m in list_members(session, target.id)
        ]
    emit_rows(as_json, rows, ["user_id", "email", "role", "member_since"], "members")
