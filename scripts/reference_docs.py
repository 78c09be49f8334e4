"""Write docs/cli.md from the CLI's own --help texts, or check that it is current.

python scripts/cli_reference.py          # rewrite docs/cli.md
python scripts/cli_reference.py --check  # exit 1 if docs/cli.md is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from typer.testing import CliRunner

from openpost.cli import app

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """# CLI reference

Generated from `openpost … --help` by `scripts/cli_reference.py`; CI fails when it is stale.
Settings come from `OPENPOST_*` environment variables (see [operations.md](operations.md)).
"""


ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
COMMAND_LINE = re.compile(r"^│ (\S+)\s{2,}")


def _help(runner: CliRunner, path: list[str]) -> str:
    result = runner.invoke(app, [*path, "--help"], env=ENV, prog_name="openpost")
    if result.exit_code != 0:
        raise RuntimeError(f"openpost {' '.join(path)} --help failed: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.strip().splitlines())


def _subcommands(help_text: str) -> list[str]:
    names, in_commands = [], False
    for line in help_text.splitlines():
        if line.startswith("╭─ Commands"):
            in_commands = True
        elif line.startswith("╰"):
            in_commands = False
        elif in_commands and (match := COMMAND_LINE.match(line)):
            names.append(match.group(1))
    return names


def render() -> str:
    runner = CliRunner()
    sections = [HEADER]
    pending: list[list[str]] = [[]]
    while pending:
        path = pending.pop(0)
        text = _help(runner, path)
        sections.append(f"## `{' '.join(['openpost', *path])}`\n\n```text\n{text}\n```\n")
        pending.extend([*path, name] for name in _subcommands(text))
    return "\n".join(sections)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(
                "docs/cli.md is stale: run .venv/bin/python scripts/cli_reference.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.write_text(text)
    sys.stdout.write(f"wrote {OUTPUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
