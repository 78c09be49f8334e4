"""``core.migrate``: what an upgrade did, a database's schema state, concurrent upgrades."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from openpost.core.migrate import UpgradeResult, schema_state, upgrade
from tests.test_migrations import PG_SERVER, blank_engine

__all__ = ["blank_engine"]


def test_an_upgrade_says_what_it_did(blank_engine: Engine) -> None:
    state = schema_state(blank_engine)
    assert (state.current, state.up_to_date) == (None, False)
    assert state.describe() == "the database has no tables yet"
    first = upgrade(blank_engine, "0002")
    assert first == UpgradeResult(before=None, after="0002")
    assert first.describe() == "created the database schema (revision 0002)"
    behind = schema_state(blank_engine)
    assert (
        behind.describe() == f"the database is at revision 0002; this version needs {behind.head}"
    )
    second = upgrade(blank_engine)
    assert second.describe() == f"migrated the database from revision 0002 to {behind.head}"
    third = upgrade(blank_engine)
    assert not third.changed
    assert third.describe() == f"the database is up to date (revision {behind.head})"
    assert schema_state(blank_engine).up_to_date


@pytest.mark.skipif(not PG_SERVER, reason="the advisory lock is PostgreSQL's; run on PostgreSQL")
def test_concurrent_upgrades_on_postgresql_wait_for_each_other(
    blank_engine: Engine,
) -> None:
    results: list[UpgradeResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(upgrade(blank_engine))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.changed for r in results) == [False, False, True]
    assert schema_state(blank_engine).up_to_date
