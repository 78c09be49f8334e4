"""A backup taken while a sweep writes, and its restore (issue 11, keys and data).

``openpost serve`` collects two workspaces; one (``Reader``) is collected once and then
stays still, the other (``Writer``) is made due and swept, slowly (one job thread,
``capture.fetch:1.0``), while the backup runs. On SQLite the backup is
``openpost backup --to FILE`` (SQLite's online backup API); on PostgreSQL
``openpost backup`` refuses and names pg_dump, and the backup is the
``pg_dump``/``pg_restore`` pair that docs/operations.md gives.

The restored copy, served by a second ``openpost serve``, gives byte-identical answers to
``GET /v1/analytics``, ``/v1/analytics/post/{id}`` and the CSV export for the still
workspace. For the one written during the backup: the copy is one committed moment (every
capture whole, pointers included), each of its snapshots is in the source as it is in the
copy, and the source wrote more after it.

Both passes: SQLite with ``openpost backup``, PostgreSQL with pg_dump and pg_restore (the
throwaway databases are on the suite's server).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from openpost.analytics.models import Snapshot
from openpost.core.db import make_engine
from openpost.workspaces.models import Workspace
from tests.faults import harness


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _snapshots(url: str) -> dict[uuid.UUID, tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(*Snapshot.__table__.columns)).all()
        return {row.id: tuple(row) for row in rows}
    finally:
        engine.dispose()


def _answers(api: httpx.Client, headers: dict[str, str], post_id: str) -> list[bytes]:
    found = []
    for path, params in (
        ("/v1/analytics", {"limit": 500}),
        ("/v1/analytics", {"limit": 500, "days": 7}),
        (f"/v1/analytics/post/{post_id}", {}),
        ("/v1/analytics/export", {}),
        ("/v1/analytics/export", {"view": "latest"}),
    ):
        response = api.get(path, headers=headers, params=params)
        assert response.status_code == 200, (path, response.text)
        found.append(response.content)
    return found


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    with harness.pass_database(data) as url:
        yield url, data


def _backup(procs: harness.Processes, url: str, target: Path) -> None:
    """Back up while the sweep writes. The collecting process is paused (SIGSTOP, perhaps
    inside a transaction) until the backup process is about to copy, then let go: the copy
    runs while the sweep goes on, however slowly the backup's interpreter starts."""
    collector = procs.processes["serve"]
    collector.send_signal(signal.SIGSTOP)
    try:
        if not harness.ON_POSTGRES:
            command = [harness.OPENPOST, "backup", "--to", str(target), "--json"]
        else:
            refused = procs.run("backup", "--to", str(target), check=False)
            assert refused.returncode == 2
            assert "pg_dump --format=custom" in refused.stderr
            pg_dump = harness.require_binary("pg_dump")
            command = [pg_dump, "--format=custom", f"--file={target}", "--verbose", _libpq(url)]
        backup = subprocess.Popen(  # noqa: S603 - fixed binaries; our throwaway database
            command, env=procs.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert backup.stderr is not None
        first_line = backup.stderr.readline()  # "backing up …" / pg_dump's first step
        assert first_line, "the backup said nothing"
    finally:
        collector.send_signal(signal.SIGCONT)
    out, err = backup.communicate(timeout=60)
    assert backup.returncode == 0, first_line + err
    if not harness.ON_POSTGRES:
        report = json.loads(out)
        assert report["integrity"] == "ok"
        assert report["pages"] > 0


@contextmanager
def _restore(backup: Path, data: Path) -> Iterator[str]:
    if not harness.ON_POSTGRES:
        shutil.copyfile(backup, data / "openpost.db")  # the documented restore: one file
        yield f"sqlite:///{data / 'openpost.db'}"
        return
    restored = harness.create_pg_database(harness.PG_SERVER)
    try:
        pg_restore = harness.require_binary("pg_restore")
        subprocess.run(  # noqa: S603 - fixed binary; our throwaway database
            [pg_restore, "--no-owner", f"--dbname={_libpq(restored)}", str(backup)],
            check=True,
            timeout=60,
        )
        yield restored
    finally:
        harness.drop_pg_database(harness.PG_SERVER, restored)


def test_backup_while_a_sweep_writes_restores_identical_answers(
    source: tuple[str, Path], tmp_path: Path
) -> None:
    url, data = source
    engine = make_engine(url)
    try:
        still = harness.workspace_with_key(engine, "Reader")
        busy = harness.workspace_with_key(engine, "Writer")
        with engine.connect() as conn:
            busy_id = conn.scalar(select(Workspace.id).where(Workspace.name == "Writer"))
        env = harness.base_env(
            data,
            url,
            OPENPOST_FAULT_INJECTION="capture.fetch:1.0",  # a sweep of ~7 s: ~1 s a batch
            OPENPOST_WORKER_THREADS="1",
        )
        backup = tmp_path / "backup.db"
        (tmp_path / "source-logs").mkdir()
        with harness.processes(env, tmp_path / "source-logs") as procs:
            api = procs.serve()  # and its embedded collector (or workers' queue: SQLite)
            harness.connect(api, still, 1)
            harness.connect(api, busy, 2)
            targets = harness.wait_discovered(engine, 3)
            due = harness.make_due(engine, busy_id)
            assert due >= 100

            def sweeping() -> bool:
                return sum(harness.per_target(engine).values()) > targets

            harness.wait_for("the sweep to write", sweeping, timeout=20)
            _backup(procs, url, backup)

            post_id = api.get("/v1/analytics", headers=still, params={"limit": 1}).json()["data"][
                0
            ]["post_id"]
            original = _answers(api, still, post_id)

            def finished() -> bool:
                return sum(harness.per_target(engine).values()) == targets + due

            harness.wait_for("the sweep to finish", finished, timeout=60)
        source_rows = _snapshots(url)
    finally:
        engine.dispose()

    restored_data = tmp_path / "restored"
    restored_data.mkdir()
    with _restore(backup, restored_data) as restored_url:
        copied = _snapshots(restored_url)
        assert targets < len(copied) < targets + due  # a moment inside the sweep's writes
        assert all(source_rows[key] == row for key, row in copied.items())
        assert len(source_rows) == targets + due  # the sweep wrote the rest after the copy
        restored_engine = make_engine(restored_url)
        try:
            harness.assert_captures_whole(restored_engine)  # no capture cut in half
        finally:
            restored_engine.dispose()
        env = harness.base_env(restored_data, restored_url)
        (tmp_path / "restored-logs").mkdir()
        with harness.processes(env, tmp_path / "restored-logs") as procs:
            api = procs.serve("--no-worker")
            assert _answers(api, still, post_id) == original
