"""bench/RESULTS.md is shared by several benchmarks; each owns one section between its own
markers and rewrites only that."""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, start: str, end: str, body: str, path: Path = RESULTS_MD) -> None:
    """Put ``heading`` and ``body`` between the ``start``/``end`` markers of ``path``,
    replacing what was there (with its heading), or append them when the markers are new."""
    section = f"{heading}\n\n{start}\n{body}\n{end}\n"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        before = text[: text.index(start)]
        before = before[: before.rindex(heading)] if heading in before else before
        after = text[text.index(end) + len(end) :].lstrip("\n")
        text = before.rstrip("\n") + "\n\n" + section + ("\n" + after if after else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    path.write_text(text)
