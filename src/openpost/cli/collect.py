"""``openpost refresh`` and ``openpost worker``: placeholder until collection lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
