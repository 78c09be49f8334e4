"""The one write path for snapshots: append, never twice, and keep the latest pointers.

Collection (``refresh.capture``) and the demo seeder both call ``append_snapshots``.
It does not commit: the caller's transaction writes snapshots and refresh state together.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from psycopg import sql
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from openpost.analytics.models import Snapshot
from openpost.core.db import json_dumps
from openpost.core.ids import new_id
from openpost.refresh.models import RefreshState

_CHUNK = 500  # targets per IN (...) list


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one target's counters, ready to be stored."""

    workspace_id: uuid.UUID
    integration_id: uuid.UUID
    post_target_id: uuid.UUID
    captured_at: datetime
    capture_key: str
    impressions: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    platform_data: dict[str, Any] = field(default_factory=dict)


_SNAPSHOTS = cast(Table, Snapshot.__table__)
_STATES = cast(Table, RefreshState.__table__)


def _insert(session: Session) -> Any:
    """The snapshot INSERT, skipping a (target, capture key) that exists. Core, not the
    ORM's bulk path: a capture writes a hundred rows at a time, and the ORM's per-row
    bookkeeping costs more than the statement on SQLite."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(_SNAPSHOTS)
        .on_conflict_do_nothing(index_elements=["post_target_id", "capture_key"])
        .returning(_SNAPSHOTS.c.id, _SNAPSHOTS.c.post_target_id, _SNAPSHOTS.c.captured_at)
    )


_PG_INSERT = (
    "INSERT INTO snapshots (id, workspace_id, integration_id, post_target_id, captured_at, "
    "capture_key, impressions, likes, comments, shares, platform_data) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) "
    "ON CONFLICT (post_target_id, capture_key) DO NOTHING"
)


def _insert_rows(session: Session, values: list[dict[str, Any]]) -> Sequence[Any]:
    """Insert the rows, skipping any whose (target, capture key) exists; the
    ``(id, post_target_id, captured_at)`` of those written.

    On PostgreSQL the rows go through the driver's executemany (pipelined: one round trip,
    one parsed statement), as a plain bulk insert would; the ids are ours, so only when
    the row count says some were skipped are the written ones looked up. SQLite, in-process,
    takes SQLAlchemy's INSERT … RETURNING."""
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(_insert(session), values).all()
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.executemany(
            _PG_INSERT,
            [
                (
                    v["id"],
                    v["workspace_id"],
                    v["integration_id"],
                    v["post_target_id"],
                    _utc(v["captured_at"]),
                    v["capture_key"],
                    v["impressions"],
                    v["likes"],
                    v["comments"],
                    v["shares"],
                    json_dumps(v["platform_data"]),
                )
                for v in values
            ],
        )
        inserted = cursor.rowcount
    rows = [(v["id"], v["post_target_id"], v["captured_at"]) for v in values]
    if inserted == len(rows):
        return rows
    found = set(
        session.scalars(select(Snapshot.id).where(Snapshot.id.in_([row[0] for row in rows])))
    )
    return [row for row in rows if row[0] in found]


def update_states(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write refresh-state columns per target (each row names its ``post_target_id``): one
    executemany per set of columns: through Core on SQLite (see ``_insert``), through the
    driver on PostgreSQL (``_update_states_pg``)."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    postgres = session.get_bind().dialect.name == "postgresql"
    for names, group in groups.items():
        if postgres:
            _update_states_pg(session, names, group)
            continue
        statement = (
            update(_STATES)
            .where(_STATES.c.post_target_id == bindparam("target_"))
            .values({name: bindparam(name) for name in names if name != "post_target_id"})
        )
        # Only the bound names: Core would SET any other column named in the parameters.
        session.execute(
            statement,
            [
                {"target_": row["post_target_id"]}
                | {name: row[name] for name in names if name != "post_target_id"}
                for row in group
            ],
        )


def _update_states_pg(
    session: Session, names: tuple[str, ...], group: Sequence[Mapping[str, Any]]
) -> None:
    """``update_states`` on PostgreSQL: the driver's pipelined executemany, one parsed
    statement for the whole group (SQLAlchemy's per-row bind processing cost as much as
    the round trip)."""
    columns = [name for name in names if name != "post_target_id"]
    unknown = set(columns) - set(_STATES.c.keys())
    if unknown:
        raise ValueError(f"not refresh-state columns: {sorted(unknown)}")
    statement = sql.SQL("UPDATE refresh_states SET {} WHERE post_target_id = %s").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in columns)
    )
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.executemany(
            statement,
            [(*(_utc(row[name]) for name in columns), row["post_target_id"]) for row in group],
        )


def _utc(value: Any) -> Any:
    """What ``UTCDateTime`` enforces on the way in, for values sent past SQLAlchemy."""
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


@dataclass(frozen=True, slots=True)
class Pointers:
    """A target's current latest and previous snapshots, with their capture times (what a
    caller that has just read them passes to ``append_snapshots`` to save it the read)."""

    latest_id: uuid.UUID | None
    latest_at: datetime | None
    previous_id: uuid.UUID | None
    previous_at: datetime | None


def append_snapshots(
    session: Session,
    readings: Sequence[Reading],
    *,
    state_values: Mapping[uuid.UUID, Mapping[str, Any]] | None = None,
    pointers: Mapping[uuid.UUID, Pointers] | None = None,
) -> int:
    """Store ``readings``; a reading whose (target, capture key) exists is skipped.

    Returns how many snapshots were written. Each touched target's refresh state then
    points at its two newest snapshots. ``state_values`` are further refresh-state columns
    to set for some targets (a capture's outcome and schedule): they are written in the
    same UPDATE as the target's pointers, or on their own for targets that got no new row.
    ``pointers``, when the caller has them (read under its row locks), are the targets'
    current pointers; otherwise they are read here.
    """
    extra = dict(state_values or {})
    written: Sequence[Any] = []
    if readings:
        values = [
            {
                "id": new_id(),
                "workspace_id": r.workspace_id,
                "integration_id": r.integration_id,
                "post_target_id": r.post_target_id,
                # Recorded to the second: the order clients see (captured_at desc, id desc)
                # and the keyset cursor both rely on it.
                "captured_at": r.captured_at.replace(microsecond=0),
                "capture_key": r.capture_key,
                "impressions": r.impressions,
                "likes": r.likes,
                "comments": r.comments,
                "shares": r.shares,
                "platform_data": r.platform_data,
            }
            for r in readings
        ]
        written = _insert_rows(session, values)
    if written:
        workspaces = {r.post_target_id: r.workspace_id for r in readings}
        _advance_pointers(session, written, workspaces, extra, pointers)
    if extra:
        update_states(session, [{"post_target_id": t, **v} for t, v in extra.items()])
    return len(written)


def _advance_pointers(
    session: Session,
    written: Sequence[Any],
    workspaces: dict[uuid.UUID, uuid.UUID],
    extra: dict[uuid.UUID, Mapping[str, Any]],
    pointers: Mapping[uuid.UUID, Pointers] | None,
) -> None:
    """Point each target that got rows at its two newest snapshots without reading its
    history: those two are among its current pointers and the rows just written, since the
    pointers always name the two newest. Targets with fewer than two pointers (a first
    reading, or rows removed by retention) are recomputed from their history. ``extra``
    values of the targets moved here are written with their pointers (and removed)."""
    fresh: dict[uuid.UUID, list[tuple[datetime, uuid.UUID]]] = defaultdict(list)
    for snapshot_id, target_id, captured_at in written:
        fresh[target_id].append((captured_at, snapshot_id))
    known: dict[uuid.UUID, tuple[Any, ...]]
    if pointers is not None and all(t in pointers for t in fresh):
        known = {
            t: (t, p.latest_id, p.latest_at, p.previous_id, p.previous_at)
            for t, p in pointers.items()
        }
    else:
        latest, previous = aliased(Snapshot), aliased(Snapshot)
        current = session.execute(
            select(
                RefreshState.post_target_id,
                latest.id,
                latest.captured_at,
                previous.id,
                previous.captured_at,
            )
            .outerjoin(latest, latest.id == RefreshState.latest_snapshot_id)
            .outerjoin(previous, previous.id == RefreshState.previous_snapshot_id)
            .where(RefreshState.post_target_id.in_(list(fresh)))
        ).all()
        known = {row[0]: tuple(row) for row in current}
    moves: list[dict[str, Any]] = []
    recompute: dict[uuid.UUID, uuid.UUID] = {}
    for target_id, rows in fresh.items():
        row = known.get(target_id)
        if row is None or row[1] is None or row[3] is None:
            recompute[target_id] = workspaces[target_id]
            continue
        newest = sorted([*rows, (row[2], row[1]), (row[4], row[3])], reverse=True)
        moves.append(
            {
                "post_target_id": target_id,
                "latest_snapshot_id": newest[0][1],
                "previous_snapshot_id": newest[1][1],
                **extra.pop(target_id, {}),
            }
        )
    if moves:
        update_states(session, moves)
    if recompute:
        refresh_latest_pointers(session, recompute)


def refresh_latest_pointers(session: Session, targets: dict[uuid.UUID, uuid.UUID]) -> None:
    """Point each target's refresh state at its two newest snapshots (creating the state).

    Set-based: one ranking query and one bulk update per chunk of targets."""
    ids = list(targets)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        ranked = (
            select(
                Snapshot.post_target_id,
                Snapshot.id,
                func.row_number()
                .over(
                    partition_by=Snapshot.post_target_id,
                    order_by=(Snapshot.captured_at.desc(), Snapshot.id.desc()),
                )
                .label("rank"),
            )
            .where(Snapshot.post_target_id.in_(chunk))
            .subquery()
        )
        newest: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for target_id, snapshot_id in session.execute(
            select(ranked.c.post_target_id, ranked.c.id)
            .where(ranked.c.rank <= 2)
            .order_by(ranked.c.post_target_id, ranked.c.rank)
        ):
            newest[target_id].append(snapshot_id)
        existing = set(
            session.scalars(
                select(RefreshState.post_target_id).where(RefreshState.post_target_id.in_(chunk))
            )
        )
        moves = []
        for target_id in chunk:
            found = newest.get(target_id, [])
            latest_id = found[0] if found else None
            previous_id = found[1] if len(found) > 1 else None
            if target_id in existing:
                moves.append(
                    {
                        "post_target_id": target_id,
                        "latest_snapshot_id": latest_id,
                        "previous_snapshot_id": previous_id,
                    }
                )
            else:
                session.add(
                    RefreshState(
                        post_target_id=target_id,
                        workspace_id=targets[target_id],
                        latest_snapshot_id=latest_id,
                        previous_snapshot_id=previous_id,
                    )
                )
        if moves:
            update_states(session, moves)
    session.flush()
