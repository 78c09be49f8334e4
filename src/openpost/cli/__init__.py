"""The ``openpost`` command. Each group lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from openpost.cli import admin, collect, demo, export, ops, retention, serve
from openpost.cli.group import OpenPostGroup

app = typer.Typer(
    name="openpost",
    cls=OpenPostGroup,
    help="OpenPost Analytics: keep and serve the analytics of social-publishing workspaces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

serve.register(app)
admin.register(app)
demo.register(app)
export.register(app)
collect.register(app)
ops.register(app)
retention.register(app)


def main() -> None:
    app()
