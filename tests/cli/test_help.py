"""Every ``--help`` reads as words: no ``<bool>``/``<str>`` type labels, flags show none."""

from __future__ import annotations

import re

from typer.main import get_command
from typer.testing import CliRunner

from openpost.cli import app

ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}


def _paths() -> list[list[str]]:
    root = get_command(app)
    paths: list[list[str]] = []
    pending: list[tuple[list[str], object]] = [([], root)]
    while pending:
        path, command = pending.pop()
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            pending.append(([*path, name], sub))
    return paths


def test_no_help_shows_a_python_type_label() -> None:
    runner = CliRunner()
    paths = _paths()
    assert ["workspace", "list"] in paths
    assert ["key", "list"] in paths
    assert ["user", "list"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env=ENV)
        assert result.exit_code == 0, (path, result.output)
        assert not re.search(r"<\w+>", result.output), (path, result.output)
        help_line = next(line for line in result.output.splitlines() if "--help" in line)
        assert re.search(r"--help\s+Show this message", help_line), help_line


def test_options_name_their_value() -> None:
    result = CliRunner().invoke(app, ["key", "create", "--help"], env=ENV)
    assert re.search(r"--workspace\s+ID\s+Workspace id", result.output)
    assert re.search(r"--name\s+NAME\s+A name", result.output)
    assert re.search(r"--json\s+Print one JSON object", result.output)
