"""``openpost workspace|key|user …``: the administration commands."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from openpost.auth.service import create_key, revoke_key
from openpost.cli.common import emit, unit_of_work
from openpost.core.ids import parse_uuid
from openpost.core.timefmt import format_time
from openpost.workspaces.service import add_member, create_workspace, get_workspace

workspace_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer) -> None:
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(key_app, name="key")
    app.add_typer(user_app, name="user")


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Option(help="Workspace name.")],
    mode: Annotated[str, typer.Option(help="`live`, or `test` for synthetic data.")] = "live",
    timezone: Annotated[str, typer.Option(help="IANA timezone for day buckets.")] = "UTC",
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


@key_app.command("create")
def key_create(
    workspace: Annotated[str, typer.Option(help="Workspace id.")],
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")],
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
    email: Annotated[str, typer.Option(help="Login email.")],
    workspace: Annotated[str, typer.Option(help="Workspace id.")],
    role: Annotated[str, typer.Option(help="owner, admin, editor or viewer.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="OPENPOST_USER_PASSWORD",
            help="Password (8+ characters). Omit to generate one, printed once.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a person a dashboard login and a role in a workspace."""
    generated = password is None
    secret = password if password is not None else secrets.token_urlsafe(12)
    with unit_of_work() as session:
        target = get_workspace(session, parse_uuid(workspace, "workspace"))
        member = add_member(session, target, email=email, password=secret, role=role)
        payload: dict[str, str] = {
            "user_id": str(member.user_id),
            "workspace_id": str(target.id),
            "email": email.strip().lower(),
            "role": member.role,
        }
    if generated:
        payload["password"] = secret
    text = f"{payload['email']} is {role} of workspace {target.id}"
    if generated:
        text += f"\npassword: {secret}  (shown once)"
    emit(as_json, payload, text)
