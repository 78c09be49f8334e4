"""bench/linkedin_calls.py runs the planner and the captures against the fake and prints
what it measured: a page's posts in ⌈N/batch⌉ calls, a member's in posts x metrics, within
both daily budgets."""

from __future__ import annotations

import pytest

from bench import linkedin_calls


def test_it_measures_calls_per_post_within_the_budgets(capsys: pytest.CaptureFixture[str]) -> None:
    code = linkedin_calls.main(
        [
            "--org-posts",
            "21",
            "--members",
            "2",
            "--member-posts",
            "3",
            "--member-calls",
            "8",
            "--app-calls",
            "30",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "share-statistics calls     2  (⌈N/20⌉ = 2" in out
    assert "member posts read      4  member-analytics calls    16" in out
    assert "planned calls 18 (app day budget 30); made 18" in out
    assert "within budget: yes" in out
