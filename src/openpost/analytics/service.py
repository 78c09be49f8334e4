"""The read side of analytics, shared by the API, the dashboard and the CLI.

The 500-row page and a post's history are on the hot path, so their rows never become
Python objects: ids and times leave the database as text (``core.sqltext``; SQLite's ids
as the stored hex digits, dashed here by slicing) and ``platform_data`` as its stored JSON
text, wrapped in ``orjson.Fragment`` so orjson splices it into the response unparsed.
Statements are built once, with bound parameters. A row that is not a plain JSON object
(NULL, ``null``, not RFC 8259: ``NaN`` written by Python's ``json`` on SQLite) takes the
slow path and reads exactly as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Integer, Select, Uuid, bindparam, select, tuple_
from sqlalchemy.orm import Session, aliased

from openpost.analytics import engagement
from openpost.analytics.arithmetic import delta, totals
from openpost.analytics.as_of import targets_then
from openpost.analytics.engagement_followers import followers_at_readings
from openpost.analytics.models import METRICS, Snapshot
from openpost.analytics.provisional import deadline_of, is_provisional, provisional_until
from openpost.core.db import json_loads
from openpost.core.errors import NotFound
from openpost.core.pagination import decode_cursor, encode_cursor
from openpost.core.sqltext import (
    canonical_uuid,
    json_is_valid,
    json_text,
    raw_time,
    time_text,
    uuid_text,
)
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import RefreshState

SNAPSHOT_COLUMNS = (
    uuid_text(Snapshot.id),
    uuid_text(Snapshot.post_target_id),
    uuid_text(Snapshot.integration_id),
    uuid_text(PostTarget.post_id),
    Integration.platform,
    Snapshot.impressions,
    Snapshot.likes,
    Snapshot.comments,
    Snapshot.shares,
    json_text(Snapshot.platform_data),
    json_is_valid(Snapshot.platform_data),
    raw_time(PostTarget.published_at),  # read once per target: ``provisional.deadline_of``
    time_text(Snapshot.captured_at),  # last: the cursor reads it as ``row[-1]``
)


_LAST_ID = uuid.UUID(int=(1 << 128) - 1)
_ID = Uuid()  # foreign-key columns' types resolve only when the mappers configure


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _parsed_platform_data(raw: str | None) -> Any:
    """The slow path for a row that is not a plain JSON object: what the ORM would give."""
    return (json_loads(raw) if raw is not None else None) or {}


def snapshot_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The API's snapshot objects from rows of ``SNAPSHOT_COLUMNS``.

    ``platform_data`` is usually an ``orjson.Fragment``: orjson writes it, ``json`` cannot.
    Target, integration and post ids repeat down a page, so each is dashed once, and each
    target's settle deadline (``provisional``) is worked out once.
    """
    known: dict[str, str] = {}
    deadlines: dict[str, str] = {}
    out = []
    for (
        snapshot_id,
        target_id,
        integration_id,
        post_id,
        platform,
        impressions,
        likes,
        comments,
        shares,
        raw,
        valid,
        published_at,
        captured_at,
    ) in rows:
        deadline = deadlines.get(target_id)
        if deadline is None:
            deadline = deadlines[target_id] = deadline_of(platform, published_at)
        out.append(
            {
                "id": canonical_uuid(snapshot_id),
                "post_target_id": known.get(target_id)
                or known.setdefault(target_id, canonical_uuid(target_id)),
                "integration_id": known.get(integration_id)
                or known.setdefault(integration_id, canonical_uuid(integration_id)),
                "post_id": known.get(post_id) or known.setdefault(post_id, canonical_uuid(post_id)),
                "platform": platform,
                "impressions": impressions,
                "likes": likes,
                "comments": comments,
                "shares": shares,
                # Valid JSON text is never empty, so raw[0] exists when valid is true.
                "platform_data": orjson.Fragment(raw)
                if valid and raw[0] == "{"
                else _parsed_platform_data(raw),
                "captured_at": captured_at,
                "provisional": captured_at < deadline,
            }
        )
    return out


def require_integration(
    session: Session,
    workspace_id: uuid.UUID,
    integration_id: uuid.UUID,
    *,
    as_of: datetime | None = None,
) -> None:
    """404 unless the integration belongs to the caller's workspace (and, with ``as_of``,
    had been connected by then)."""
    found = session.connection().scalar(
        _INTEGRATION_IN_WORKSPACE, {"integration_id": integration_id, "workspace_id": workspace_id}
    )
    if found is None or (as_of is not None and found > as_of):
        raise NotFound("integration not found")


_INTEGRATION_IN_WORKSPACE = select(Integration.created_at).where(
    Integration.id == bindparam("integration_id", type_=_ID),
    Integration.workspace_id == bindparam("workspace_id", type_=_ID),
)


def _page_statement(
    *, by_integration: bool, after: bool, bounded: bool = False
) -> Select[*tuple[Any, ...]]:
    query: Select[*tuple[Any, ...]] = (
        select(*SNAPSHOT_COLUMNS)
        .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
        .join(Integration, Integration.id == Snapshot.integration_id)
        .where(
            Snapshot.captured_at >= bindparam("since", type_=Snapshot.captured_at.type),
            Snapshot.workspace_id == bindparam("workspace_id", type_=_ID),
        )
        .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
        .limit(bindparam("limit", type_=Integer()))
    )
    if by_integration:
        # The integration index serves this filter; ``require_integration`` and the
        # workspace equality keep the query scoped to the caller.
        query = query.where(Snapshot.integration_id == bindparam("integration_id", type_=_ID))
    if bounded:  # ``as_of``: nothing captured after it
        query = query.where(
            Snapshot.captured_at <= bindparam("as_of", type_=Snapshot.captured_at.type)
        )
    if after:
        query = query.where(
            tuple_(Snapshot.captured_at, Snapshot.id)
            < tuple_(
                bindparam("after_time", type_=Snapshot.captured_at.type),
                bindparam("after_id", type_=_ID),
            )
        )
    return query


_PAGE_STATEMENTS = {
    (by_integration, after, bounded): _page_statement(
        by_integration=by_integration, after=after, bounded=bounded
    )
    for by_integration in (False, True)
    for after in (False, True)
    for bounded in (False, True)
}


def list_snapshots(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    integration_id: uuid.UUID | None = None,
    limit: int = 500,
    cursor: str | None = None,
    as_of: datetime | None = None,
) -> SnapshotPage:
    """The workspace's snapshots of the last ``days`` days, newest first, keyset-paged.

    ``as_of`` (SPEC §9.6): the page as it was then: the ``days`` before it, nothing
    captured after it, and an integration filter only for an integration that existed.
    """
    end = now if as_of is None else as_of
    params: dict[str, Any] = {
        "since": end - timedelta(days=days),
        "workspace_id": workspace_id,
        "limit": limit + 1,
    }
    if integration_id is not None:
        require_integration(session, workspace_id, integration_id, as_of=as_of)
        params["integration_id"] = integration_id
    bounded = as_of is not None
    if cursor is not None:
        params["after_time"], params["after_id"] = after = decode_cursor(cursor)
        if as_of is not None:
            # One keyset bound instead of two: the cursor's, or as_of's (every id sorts
            # before the largest UUID). Two bounds on captured_at make SQLite walk the
            # index from as_of down to the cursor (7x slower deep in the history).
            after = min(after, (as_of, _LAST_ID))
            params["after_time"], params["after_id"] = after
            bounded = False
    if bounded:
        params["as_of"] = as_of
    statement = _PAGE_STATEMENTS[integration_id is not None, cursor is not None, bounded]
    rows = session.connection().execute(statement, params).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        # The cursor holds whole seconds and the id: both are in the row's text.
        next_cursor = encode_cursor(datetime.fromisoformat(last[-1]), uuid.UUID(last[0]))
    return SnapshotPage(snapshot_rows(rows), next_cursor)


def _metrics(row: Any, prefix: str = "") -> dict[str, int | None] | None:
    if getattr(row, f"{prefix}id") is None:
        return None
    return {metric: getattr(row, f"{prefix}{metric}") for metric in METRICS}


_POST_IN_WORKSPACE = select(Post.id).where(
    Post.id == bindparam("post_id", type_=_ID),
    Post.workspace_id == bindparam("workspace_id", type_=_ID),
)

_latest = aliased(Snapshot, name="latest")
_previous = aliased(Snapshot, name="previous")
_POST_TARGETS = (
    select(
        PostTarget.id.label("target_id"),
        PostTarget.integration_id,
        PostTarget.status,
        PostTarget.post_url,
        PostTarget.published_at,
        Integration.platform,
        Integration.username,
        RefreshState.outcome,
        RefreshState.next_due_at,
        RefreshState.last_success_at,
        _latest.id.label("l_id"),
        _latest.captured_at.label("l_captured_at"),
        *(getattr(_latest, m).label(f"l_{m}") for m in METRICS),
        _previous.id.label("p_id"),
        *(getattr(_previous, m).label(f"p_{m}") for m in METRICS),
    )
    .join(Integration, Integration.id == PostTarget.integration_id)
    .outerjoin(RefreshState, RefreshState.post_target_id == PostTarget.id)
    .outerjoin(_latest, _latest.id == RefreshState.latest_snapshot_id)
    .outerjoin(_previous, _previous.id == RefreshState.previous_snapshot_id)
    .where(
        PostTarget.post_id == bindparam("post_id", type_=_ID),
        PostTarget.workspace_id == bindparam("workspace_id", type_=_ID),
    )
    .order_by(PostTarget.id)
)

_POST_HISTORY = (
    select(*SNAPSHOT_COLUMNS)
    .join(PostTarget, PostTarget.id == Snapshot.post_target_id)
    .join(Integration, Integration.id == Snapshot.integration_id)
    .where(
        Snapshot.post_target_id.in_(bindparam("target_ids", expanding=True, type_=_ID)),
        Snapshot.workspace_id == bindparam("workspace_id", type_=_ID),
        Snapshot.captured_at >= bindparam("since", type_=Snapshot.captured_at.type),
    )
    .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
)
_POST_HISTORY_UNTIL = _POST_HISTORY.where(
    Snapshot.captured_at <= bindparam("as_of", type_=Snapshot.captured_at.type)
)


Schedule = Callable[[str, datetime, datetime], datetime | None]
"""``(platform, published_at, read_at)`` → when a target read then is next due (``None``:
never again): the collection policy's ``next_due``."""


def post_metrics(
    session: Session,
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    *,
    now: datetime,
    days: int = 30,
    as_of: datetime | None = None,
    schedule: Schedule | None = None,
) -> dict[str, Any]:
    """Latest metrics of every target of a post, their deltas, totals and recent history.

    ``as_of`` (SPEC §9.6): the answer as it was then, from the readings captured by then
    (``as_of.targets_then``); ``schedule`` gives the ``next_refresh_at`` of that time.
    """
    connection = session.connection()
    scope = {"post_id": post_id, "workspace_id": workspace_id}
    if as_of is None:
        target_rows: Sequence[Any] = connection.execute(_POST_TARGETS, scope).all()
        # A target proves the post is in the workspace; only a post without one needs
        # the check.
        if not target_rows and connection.scalar(_POST_IN_WORKSPACE, scope) is None:
            raise NotFound("post not found")
    else:
        now = as_of
        target_rows = targets_then(connection, scope, as_of, schedule)

    # Keyed by the id's text: history rows carry their target's id as text.
    history: dict[str, list[dict[str, Any]]] = {str(row.target_id): [] for row in target_rows}
    if history:
        found = connection.execute(
            _POST_HISTORY if as_of is None else _POST_HISTORY_UNTIL,
            {
                "target_ids": [row.target_id for row in target_rows],
                "workspace_id": workspace_id,
                "since": now - timedelta(days=days),
                **({} if as_of is None else {"as_of": as_of}),
            },
        ).all()
        for snapshot in snapshot_rows(found):
            history[snapshot["post_target_id"]].append(snapshot)

    # SPEC §9.5: followers of each target's account at its latest reading (when known).
    followers = followers_at_readings(
        session,
        workspace_id,
        [(row.integration_id, row.l_captured_at) for row in target_rows if row.l_id is not None],
    )
    targets = []
    for row in target_rows:
        latest_metrics = _metrics(row, "l_")
        target_delta = delta(latest_metrics, _metrics(row, "p_"))
        target_id = str(row.target_id)
        until = provisional_until(row.platform, row.published_at)
        captured_at = format_time(row.l_captured_at)
        targets.append(
            {
                "target_id": target_id,
                "integration_id": str(row.integration_id),
                "platform": row.platform,
                "username": row.username,
                "status": row.status,
                "post_url": row.post_url,
                **(latest_metrics or dict.fromkeys(METRICS)),
                **engagement.of_counters(
                    latest_metrics or {},
                    followers.get((row.integration_id, row.l_captured_at)),
                ),
                "captured_at": captured_at,
                # SPEC §9.2: the latest reading is inside the platform's settle window.
                "provisional": is_provisional(captured_at, until),
                "provisional_until": until,
                "delta": target_delta,
                "refresh": {
                    "outcome": row.outcome or "pending",
                    "next_refresh_at": format_time(row.next_due_at),
                    "last_success_at": format_time(row.last_success_at),
                },
                "snapshots": history[target_id],
            }
        )

    return {
        "post_id": str(post_id),
        "totals": {
            **totals(targets),
            **engagement.totals_fields(
                (
                    t["engagements"],
                    t["impressions"],
                    followers.get((row.integration_id, row.l_captured_at)),
                )
                for t, row in zip(targets, target_rows, strict=True)
            ),
        },
        "delta": totals(t["delta"] for t in targets),
        "targets": targets,
    }
