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
from openpost.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"

HEADER = """# CLI reference

Generated from `openpost … --help` by `scripts/reference_docs.py`; CI fails when it is stale.
Settings come from `OPENPOST_*` environment variables (see [settings.md](settings.md)).
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


SETTINGS_HEADER = """# Settings reference

Generated from `openpost.config.Settings` by `scripts/reference_docs.py`; CI fails when it is
stale. Every setting is an environment variable; values are validated when any `openpost`
command starts (`serve`, `serve --no-worker`, `worker` and every other): a bad value stops it
before it does anything, with one line on stderr per bad setting naming the variable and what it
accepts, and exit code 2. Base URLs must be absolute `https://` (or `http://`) URLs.

| variable | default | what it does |
|---|---|---|
"""


def render_settings() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(empty)" if default in ("", None) else f"`{default}`"
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `OPENPOST_{name.upper()}` | {shown} | {description} |")
    return SETTINGS_HEADER + "\n".join(rows) + "\n"


def main() -> int:
    outputs = {DOCS / "cli.md": render(), DOCS / "settings.md": render_settings()}
    if "--check" in sys.argv[1:]:
        stale = [p.name for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(
                f"stale: {', '.join(stale)}; run .venv/bin/python scripts/reference_docs.py",
                file=sys.stderr,
            )
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
