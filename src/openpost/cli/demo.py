"""``openpost demo``: placeholder until the demo seeder lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
