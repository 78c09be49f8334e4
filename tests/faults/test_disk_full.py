"""The disk fills up under SQLite (issue 11, faults of the parts).

``openpost serve`` (the embedded default: SQLite database and queue, its own collector)
runs with its data folder on a small tmpfs mounted for the test. Once its first account
is collected, the test empties the write-ahead log and fills the rest of the tmpfs with a
file. Then writes fail cleanly (503 ``{"error": …}`` with ``Retry-After``, never a 500),
reads answer exactly what they answered before, the database passes
``PRAGMA integrity_check``, and when the file is removed the same process writes and
collects again.

SQLite pass only. Needs root (to mount the tmpfs): without it the test skips, or fails
with ``CI=true``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from openpost.core.db import make_engine
from openpost.core.migrate import upgrade
from tests.faults import harness

pytestmark = harness.only_sqlite_pass

TMPFS_BYTES = 16 * 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("mounting a tmpfs needs root in CI")
        pytest.skip("mounting a tmpfs needs root")
    mount = harness.require_binary("mount")
    umount = harness.require_binary("umount")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(  # noqa: S603 - fixed binary and arguments
        [mount, "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        done = subprocess.run([umount, str(where)], check=False)  # noqa: S603
        if done.returncode != 0:
            subprocess.run([umount, "-l", str(where)], check=False)  # noqa: S603


def _fill(path: Path) -> int:
    """Write ``path`` until the file system refuses; how many bytes it took."""
    written = 0
    with path.open("wb", buffering=0) as filler:
        for chunk in (1 << 20, 4096, 512):
            block = b"\0" * chunk
            try:
                while True:
                    written += filler.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return written


def _integrity(path: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def test_disk_full_fails_writes_cleanly_and_recovers(disk: Path, tmp_path: Path) -> None:
    database = disk / "openpost.db"
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    upgrade(engine)
    headers = harness.workspace_with_key(engine)
    engine.dispose()
    env = harness.base_env(disk, url)
    with harness.processes(env, tmp_path) as procs:
        api = procs.serve()  # the embedded collector too
        harness.connect(api, headers, 1)
        engine = make_engine(url)
        try:
            harness.wait_discovered(engine, 1)
        finally:
            engine.dispose()
        first = api.get("/v1/analytics", headers=headers, params={"limit": 500})
        assert first.status_code == 200
        post_id = first.json()["data"][0]["post_id"]
        post = api.get(f"/v1/analytics/post/{post_id}", headers=headers)
        assert post.status_code == 200

        conn = sqlite3.connect(database)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write must grow the log
        conn.close()
        filled = _fill(disk / "filler")
        assert filled > 0

        # Writes fail cleanly, however many are tried.
        refused = []
        for n in range(5):
            response = api.post(
                "/v1/integrations",
                headers=headers,
                json={"platform": "bluesky", "username": f"full{n}.bsky.social"},
            )
            assert response.status_code != 500, response.text
            assert response.status_code >= 400, response.text
            assert set(response.json()) == {"error"}
            refused.append(response)
        assert {r.status_code for r in refused} == {503}
        assert all(r.headers["retry-after"] == "5" for r in refused)

        # Reads go on, with the same answers.
        for _ in range(3):
            again = api.get("/v1/analytics", headers=headers, params={"limit": 500})
            assert (again.status_code, again.content) == (200, first.content)
            same = api.get(f"/v1/analytics/post/{post_id}", headers=headers)
            assert (same.status_code, same.content) == (200, post.content)
        assert _integrity(database) == [("ok",)]

        # Space comes back: the same process writes and collects again.
        (disk / "filler").unlink()
        connected = api.post(
            "/v1/integrations",
            headers=headers,
            json={"platform": "bluesky", "username": "after.bsky.social"},
        )
        assert connected.status_code == 201, connected.text
        engine = make_engine(url)
        try:
            harness.wait_discovered(engine, 2)
            harness.assert_captures_whole(engine)
        finally:
            engine.dispose()
        assert procs.processes["serve"].poll() is None
        served = procs.log_text("serve")
        assert "unhandled error" not in served
        assert "database unavailable" in served
    assert _integrity(database) == [("ok",)]
