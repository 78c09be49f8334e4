"""``view=accounts`` of the CSV export (SPEC §9.4): every account snapshot in range, newest
first (``captured_at`` desc, then id desc), in the same format as the other views
(``analytics.export``: RFC 4180, UTF-8, empty cell = not reported, 0 = a measured zero,
RFC 3339 UTC times, text cells guarded against spreadsheet formulas).

Columns ``ACCOUNT_COLUMNS``: snapshot_id, captured_at, integration_id, platform, username,
followers, following, posts, platform_data (compact JSON, sorted keys).

The range, ``integration_id`` and ``platform`` select as for post snapshots; ``post_id`` and
``search`` select posts, which an account snapshot is not about: with this view they are a
400 (``check``), never silently ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session, sessionmaker

from openpost.accounts.models import AccountSnapshot
from openpost.core.errors import BadRequest
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration

if TYPE_CHECKING:
    from openpost.analytics.export import ExportProgress, ExportRequest

ACCOUNT_COLUMNS = (
    "snapshot_id",
    "captured_at",
    "integration_id",
    "platform",
    "username",
    "followers",
    "following",
    "posts",
    "platform_data",
)


def check(request: ExportRequest) -> None:
    if request.post_id is not None:
        raise BadRequest("post_id does not apply to view=accounts")
    if request.search is not None:
        raise BadRequest("search does not apply to view=accounts")


def _query(workspace_id: uuid.UUID, request: ExportRequest) -> Any:
    query = (
        select(
            AccountSnapshot.id,
            AccountSnapshot.captured_at,
            AccountSnapshot.integration_id,
            Integration.platform,
            Integration.username,
            AccountSnapshot.followers,
            AccountSnapshot.following,
            AccountSnapshot.posts,
            cast(AccountSnapshot.platform_data, Text),
        )
        .join(Integration, Integration.id == AccountSnapshot.integration_id)
        .where(
            AccountSnapshot.workspace_id == workspace_id,
            AccountSnapshot.captured_at >= request.since,
        )
        .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
    )
    if request.until is not None:
        query = query.where(AccountSnapshot.captured_at < request.until)
    if request.as_of is not None:
        query = query.where(AccountSnapshot.captured_at <= request.as_of)
    if request.integration_id is not None:
        query = query.where(AccountSnapshot.integration_id == request.integration_id)
    if request.platform is not None:
        query = query.where(Integration.platform == request.platform)
    return query


def stream(
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    request: ExportRequest,
    progress: ExportProgress,
) -> Iterator[bytes]:
    """The header, then every record, as UTF-8 chunks (its own session, a server-side
    cursor, batches of ``FETCH_ROWS``), as the post views stream."""
    from openpost.analytics.export import (
        CHUNK_CHARS,
        FETCH_ROWS,
        csv_json,
        csv_number,
        csv_record,
        csv_text,
    )

    parts = [csv_record(ACCOUNT_COLUMNS)]
    size = len(parts[0])
    with factory() as session:
        options = {"stream_results": True, "max_row_buffer": FETCH_ROWS}
        result = session.connection().execute(
            _query(workspace_id, request), execution_options=options
        )
        with result:
            while rows := result.fetchmany(FETCH_ROWS):
                block = "".join(
                    csv_record(
                        (
                            str(row[0]),
                            format_time(row[1]) or "",
                            str(row[2]),
                            csv_text(row[3]),
                            csv_text(row[4]),
                            csv_number(row[5]),
                            csv_number(row[6]),
                            csv_number(row[7]),
                            csv_json(_object_text(row[8])),
                        )
                    )
                    for row in rows
                )
                progress.rows += len(rows)
                parts.append(block)
                size += len(block)
                if size >= CHUNK_CHARS:
                    yield "".join(parts).encode()
                    parts.clear()
                    size = 0
    if parts:
        yield "".join(parts).encode()


def _object_text(raw: str | None) -> str | None:
    """The stored JSON text, re-read if the driver gave something else (never NaN out)."""
    if raw is None:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return raw
