"""CSV export of a workspace's analytics (SPEC §3.3), shared by the API, the CLI and the dashboard.

``open_export`` checks everything first (bad input is a 400, another workspace's id a 404)
and only then hands back ``CsvExport.chunks``: a lazy iterator of UTF-8 bytes that opens its
own session, reads through a server-side cursor in batches and closes it when the iterator
ends or is abandoned. Memory stays flat however many rows there are.

Selection
  ``days`` (1-365, default 30): ``captured_at`` ≥ now - days, the rows ``GET /v1/analytics``
  pages through. Or ``since`` [+ ``until``]: RFC 3339 with any offset, ``since`` ≤
  ``captured_at`` < ``until`` (half-open; ``until`` defaults to no upper bound, ``since`` must
  be before ``until``). ``days`` together with ``since``/``until`` is a 400, as is ``until``
  without ``since``. ``integration_id`` and ``post_id`` narrow the rows (malformed: 400;
  not in the workspace: 404), as do ``platform`` (a platform code: only its accounts' rows)
  and ``search`` (only posts whose text contains it, case-insensitively; at most 200
  characters): the dashboard's platform filter and post search.

``view=snapshots`` (default): every snapshot in range, newest first (``captured_at`` desc,
then ``id`` desc), columns ``SNAPSHOT_COLUMNS``:
  snapshot_id, captured_at, post_id, post_target_id, integration_id, platform, username,
  post_url, impressions, likes, comments, shares, platform_data (compact JSON, sorted keys),
  provisional (``true``/``false``: captured inside the platform's settle time after the
  target's published_at, SPEC §9.2; ``analytics.provisional``).

``view=latest``: one row per post target whose latest snapshot was captured in range, newest
latest snapshot first, read through the refresh state's latest/previous pointers (no history
scan). Columns ``LATEST_COLUMNS``:
  post_id, post_target_id, integration_id, platform, username, post_url, target_status,
  published_at, captured_at (of the latest snapshot), previous_captured_at (of the one before,
  empty if none), impressions, likes, comments, shares (latest values), delta_impressions,
  delta_likes, delta_comments, delta_shares (latest minus previous; the whole value when there
  is one snapshot; empty where either side is not reported), content (the post's text),
  provisional (of the latest snapshot), then engagements, engagement_rate,
  engagement_rate_by_followers (SPEC §9.5; ``export_engagement``).

``view=accounts``: every account snapshot in range (``openpost.accounts.export``).

``as_of`` (SPEC §9.6): the file as it was then: ``days`` counts back from it, no reading
captured after it, and ``view=latest`` reads each target's two newest readings by then
(two index probes per target) and its status then, instead of the refresh state's pointers.

Format: RFC 4180 (comma, CRLF after every record including the header, fields with a comma,
quote, CR or LF quoted, quotes doubled), UTF-8 without a byte-order mark. An empty cell means
"not reported"; 0 is a measured zero. Times are RFC 3339 UTC with ``Z``. Free-text cells
(username, post_url, platform_data, content) that begin with ``= + - @``, TAB or CR get a
leading ``'`` so spreadsheets do not run them as formulas; numbers are never altered.

Speed: a snapshot row reaches Python as four strings. The database writes the id and time
cells and the four metric cells (in C, faster than building UUID and datetime objects);
each target's six cells are formatted once and cached; per row Python only rewrites
platform_data (orjson) and joins the record. Rows come straight off the driver's cursor in
batches; records are joined by hand (the csv module costs ~10 µs a row here).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Select, String, Text, case, cast, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from openpost.analytics import export_engagement
from openpost.analytics.arithmetic import delta
from openpost.analytics.models import METRICS, Snapshot
from openpost.analytics.provisional import deadline_text, is_provisional
from openpost.analytics.service import require_integration
from openpost.core.as_of import parse_as_of
from openpost.core.errors import BadRequest, NotFound
from openpost.core.ids import parse_uuid
from openpost.core.timefmt import parse_time
from openpost.integrations.models import Integration, Platform
from openpost.posts.models import Post, PostTarget, TargetStatus
from openpost.refresh.models import RefreshState

MEDIA_TYPE = "text/csv; charset=utf-8"

OPENAPI_DESCRIPTION = (
    """
Streams a CSV file (RFC 4180: comma-separated, CRLF line ends, fields with a comma, quote,
CR or LF quoted, quotes doubled; UTF-8; a header row) as
`openpost-analytics-<view>-<UTC date>.csv`. There is no row cap.

**Range**: `days` (1-365, default 30) takes snapshots with `captured_at` within the last
`days` days, as `GET /v1/analytics` does. Or `since` (inclusive) with an optional `until`
(exclusive), RFC 3339 with any offset; `since` must be before `until`. `days` together
with `since`/`until` is a 400, as is `until` alone. `integration_id` and `post_id` narrow
the rows (malformed: 400; not in this workspace: 404). `platform` (a platform code such as
`bluesky`) keeps only that platform's accounts, and `search` only the posts whose text
contains it (case-insensitive, at most 200 characters): the dashboard's filters.

**view=snapshots** (default): every snapshot in range, newest first (`captured_at`
descending, then `snapshot_id` descending). Columns: `snapshot_id, captured_at, post_id,
post_target_id, integration_id, platform, username, post_url, impressions, likes,
comments, shares, platform_data, provisional` (`platform_data`: compact JSON with sorted
keys; `provisional`: `true` when the reading was captured within the platform's settle time
after the target's `published_at`, else `false`).

**view=latest**: one row per post target whose latest snapshot was captured in range,
newest first. Columns: `post_id, post_target_id, integration_id, platform, username,
post_url, target_status, published_at, captured_at` (of the latest snapshot),
`previous_captured_at` (of the one before; empty if none), `impressions, likes, comments,
shares` (latest), `delta_impressions, delta_likes, delta_comments, delta_shares` (latest
minus previous; the whole value when there is one snapshot; empty where either side is
not reported), `content` (the post's text), `provisional` (of the latest snapshot),
then """
    + export_engagement.DESCRIPTION
    + """.

**view=accounts**: every account snapshot (SPEC 9.4) in range, newest first. Columns:
`snapshot_id, captured_at, integration_id, platform, username, followers, following, posts,
platform_data`. `integration_id` and `platform` narrow the rows; `post_id` and `search`
do not apply to accounts and are a 400 with this view.

An empty cell means "not reported"; `0` is a measured zero. Times are RFC 3339 UTC with
`Z`. Text cells (username, post_url, platform_data, content) that start with `=`, `+`,
`-`, `@`, TAB or CR get a leading `'` so spreadsheets do not run them as formulas; numbers
are never altered.
"""
)
DEFAULT_DAYS = 30

SNAPSHOT_COLUMNS = (
    "snapshot_id",
    "captured_at",
    "post_id",
    "post_target_id",
    "integration_id",
    "platform",
    "username",
    "post_url",
    "impressions",
    "likes",
    "comments",
    "shares",
    "platform_data",
    "provisional",  # SPEC §9.2; after the spec's columns so theirs keep their positions
)
LATEST_COLUMNS = (
    "post_id",
    "post_target_id",
    "integration_id",
    "platform",
    "username",
    "post_url",
    "target_status",
    "published_at",
    "captured_at",
    "previous_captured_at",
    *METRICS,
    *(f"delta_{metric}" for metric in METRICS),
    "content",
    "provisional",
    *export_engagement.LATEST_ENGAGEMENT_COLUMNS,  # SPEC §9.5
)

# Rows fetched per round trip, and the size a chunk reaches before it is handed out.
FETCH_ROWS = 1000
CHUNK_CHARS = 256 * 1024

Row = Sequence[Any]
AnySelect = Select[*tuple[Any, ...]]


class View(StrEnum):
    snapshots = "snapshots"
    latest = "latest"
    accounts = "accounts"  # SPEC §9.4: account snapshots (``openpost.accounts.export``)


# ------------------------------------------------------------------- cells and records

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
_NEEDS_QUOTES = re.compile(r'[",\r\n]').search
_SORT_KEYS = orjson.OPT_SORT_KEYS


def csv_text(value: str | None) -> str:
    """One free-text cell, safe for spreadsheets and quoted per RFC 4180.

    A value starting with ``= + - @``, TAB or CR gets a leading ``'`` so a spreadsheet shows
    it rather than running it as a formula; a value holding a comma, a quote, CR or LF is
    wrapped in quotes with its quotes doubled. ``None`` is an empty cell.
    """
    if not value:
        return ""
    if value[0] in FORMULA_TRIGGERS:
        value = "'" + value
    if _NEEDS_QUOTES(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_number(value: int | None) -> str:
    """A metric cell: the integer as it is (never neutralised), empty when not reported."""
    return "" if value is None else str(value)


def csv_json(raw: str | None) -> str:
    """Stored ``platform_data`` (JSON text) → compact JSON with sorted keys, as a text cell."""
    if raw is None or raw == "{}":
        return "{}"
    value = orjson.loads(raw)
    if type(value) is dict and value:
        # Starts with "{" (no formula) and holds a quote (always quoted): csv_text's result.
        return '"' + orjson.dumps(value, option=_SORT_KEYS).decode().replace('"', '""') + '"'
    if value is None or value == {}:
        return "{}"
    return csv_text(orjson.dumps(value, option=_SORT_KEYS).decode())


def csv_record(cells: Iterable[str]) -> str:
    """Cells already made by ``csv_text``/``csv_number`` (or known safe), CRLF-terminated."""
    return ",".join(cells) + "\r\n"


# -------------------------------------------------------------- cells made in SQL
# Ids, times and metrics reach Python as finished cell text: building UUID or datetime
# objects costs more than everything else in a row, and the database formats them in C.


class _CsvCell(FunctionElement[str]):
    type = String()
    inherit_cache = True


class _Uuid(_CsvCell):
    """A UUID column as canonical text (``8-4-4-4-12``, lowercase)."""

    name = "csv_uuid"
    inherit_cache = True


class _Time(_CsvCell):
    """A UTC timestamp column as ``YYYY-MM-DDTHH:MM:SSZ`` (what ``format_time`` writes)."""

    name = "csv_time"
    inherit_cache = True


class _Key(_CsvCell):
    """A UUID column as the cheapest text the engine has (a lookup key, not output)."""

    name = "csv_key"
    inherit_cache = True


class _Joined(_CsvCell):
    """Cells joined with commas; NULL cells (not reported) become empty."""

    name = "csv_joined"
    inherit_cache = True


def _arg(element: _CsvCell, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_Uuid)
@compiles(_Key)
def _uuid_postgresql(element: _CsvCell, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_arg(element, compiler, **kw)} AS TEXT)"


@compiles(_Uuid, "sqlite")
def _uuid_sqlite(element: _Uuid, compiler: SQLCompiler, **kw: Any) -> str:
    column = _arg(element, compiler, **kw)  # stored as 32 lowercase hex digits
    parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    return " || '-' || ".join(f"substr({column}, {start}, {size})" for start, size in parts)


@compiles(_Key, "sqlite")
def _key_sqlite(element: _Key, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(element, compiler, **kw)


@compiles(_Time)
def _time_postgresql(element: _Time, compiler: SQLCompiler, **kw: Any) -> str:
    column = _arg(element, compiler, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


@compiles(_Time, "sqlite")
def _time_sqlite(element: _Time, compiler: SQLCompiler, **kw: Any) -> str:
    column = _arg(element, compiler, **kw)  # stored as naive UTC: YYYY-MM-DD HH:MM:SS.ffffff
    return f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || 'Z'"


@compiles(_Joined)
def _joined(element: _Joined, compiler: SQLCompiler, **kw: Any) -> str:
    return " || ',' || ".join(
        f"COALESCE(CAST({compiler.process(cell, **kw)} AS TEXT), '')" for cell in element.clauses
    )


# --------------------------------------------------------------------- the request


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """A validated export selection (times are aware UTC)."""

    view: View
    since: datetime
    until: datetime | None
    integration_id: uuid.UUID | None
    post_id: uuid.UUID | None
    platform: str | None = None
    search: str | None = None
    as_of: datetime | None = None
    """SPEC §9.6: the export as it was then (readings captured at or before it)."""


MAX_SEARCH = 200


def parse_request(
    *,
    now: datetime,
    days: int | None = None,
    since: str | None = None,
    until: str | None = None,
    integration_id: str | None = None,
    post_id: str | None = None,
    view: str | None = None,
    platform: str | None = None,
    search: str | None = None,
    as_of: str | None = None,
) -> ExportRequest:
    """Check and convert the raw parameters; any problem is a 400 naming the field."""
    at = parse_as_of(as_of, now)
    if at is not None:
        now = at  # ``days`` counts back from as_of
    view = View.snapshots.value if view is None else view
    if view not in View.__members__:
        raise BadRequest("view must be 'snapshots', 'latest' or 'accounts'")
    if since is None and until is not None:
        raise BadRequest("until needs since")
    if since is not None:
        if days is not None:
            raise BadRequest("days cannot be combined with since/until")
        start = parse_time(since, "since")
        end = parse_time(until, "until") if until is not None else None
        if end is not None and start >= end:
            raise BadRequest("since must be before until")
    else:
        days = DEFAULT_DAYS if days is None else days
        if not 1 <= days <= 365:
            raise BadRequest("days must be between 1 and 365")
        start, end = now - timedelta(days=days), None
    if platform is not None and platform not in Platform.__members__:
        raise BadRequest(f"platform must be one of {', '.join(Platform)}")
    search = (search or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH:
        raise BadRequest(f"search is at most {MAX_SEARCH} characters")
    return ExportRequest(
        view=View(view),
        since=start,
        until=end,
        integration_id=parse_uuid(integration_id, "integration_id") if integration_id else None,
        post_id=parse_uuid(post_id, "post_id") if post_id else None,
        platform=platform or None,
        search=search,
        as_of=at,
    )


@dataclass(slots=True)
class ExportProgress:
    """How many rows the stream has turned into records so far (for progress displays)."""

    rows: int = 0


@dataclass(frozen=True, slots=True)
class CsvExport:
    """A checked export: its file name, and its bytes, produced as ``chunks`` is iterated."""

    filename: str
    chunks: Iterator[bytes]
    progress: ExportProgress

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "Cache-Control": "no-store",
        }


def open_export(
    session: Session,
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    request: ExportRequest,
    *,
    now: datetime,
) -> CsvExport:
    """Check the request's ids against the workspace (404), then return the lazy stream.

    ``session`` serves the checks; the stream opens its own session from ``factory`` when it
    is first iterated, so it outlives the caller's unit of work.
    """
    from openpost.accounts import export as accounts_export  # it imports this module

    if request.view is View.accounts:
        accounts_export.check(request)  # post filters: a 400 before any id is looked up
    if request.integration_id is not None:
        require_integration(session, workspace_id, request.integration_id, as_of=request.as_of)
    if request.post_id is not None:
        created = session.scalar(
            select(Post.created_at).where(
                Post.id == request.post_id, Post.workspace_id == workspace_id
            )
        )
        if created is None or (request.as_of is not None and created > request.as_of):
            raise NotFound("post not found")
    day = (request.as_of or now).strftime("%Y-%m-%d")
    filename = (
        f"openpost-analytics-{request.view.value}-{'as-of-' if request.as_of else ''}{day}.csv"
    )
    progress = ExportProgress()
    if request.view is View.accounts:
        chunks = accounts_export.stream(factory, workspace_id, request, progress)
        return CsvExport(filename, chunks, progress)
    return CsvExport(filename, _stream(factory, workspace_id, request, progress), progress)


# ------------------------------------------------------------------------ the queries


def _snapshot_query(workspace_id: uuid.UUID, request: ExportRequest) -> AnySelect:
    """Per row: ``snapshot_id,captured_at``, the target's key, the four metric cells joined,
    and platform_data. The target's six cells come from ``_TargetCells``, not a join."""
    query = (
        select(
            _Joined(_Uuid(Snapshot.id), _Time(Snapshot.captured_at)),
            _Key(Snapshot.post_target_id),
            _Joined(*(getattr(Snapshot, metric) for metric in METRICS)),
            cast(Snapshot.platform_data, Text),
        )
        .where(Snapshot.workspace_id == workspace_id, Snapshot.captured_at >= request.since)
        .order_by(Snapshot.captured_at.desc(), Snapshot.id.desc())
    )
    if request.until is not None:
        query = query.where(Snapshot.captured_at < request.until)
    if request.as_of is not None:
        query = query.where(Snapshot.captured_at <= request.as_of)
    if request.integration_id is not None:
        query = query.where(Snapshot.integration_id == request.integration_id)
    if request.post_id is not None:
        targets = select(PostTarget.id).where(
            PostTarget.post_id == request.post_id, PostTarget.workspace_id == workspace_id
        )
        query = query.where(Snapshot.post_target_id.in_(targets))
    if request.platform is not None:
        accounts = select(Integration.id).where(
            Integration.workspace_id == workspace_id, Integration.platform == request.platform
        )
        query = query.where(Snapshot.integration_id.in_(accounts))
    if request.search is not None:
        matching = (
            select(PostTarget.id)
            .join(Post, Post.id == PostTarget.post_id)
            .where(
                PostTarget.workspace_id == workspace_id,
                Post.content.icontains(request.search, autoescape=True),
            )
        )
        query = query.where(Snapshot.post_target_id.in_(matching))
    return query


def _newest(as_of: datetime, offset: int) -> Any:
    """The id of the target's newest reading captured by ``as_of`` (``offset`` 1: the one
    before it): one probe of ``ix_snapshots_target_time`` per target."""
    reading = aliased(Snapshot, name=f"newest{offset}")
    return (
        select(reading.id)
        .where(reading.post_target_id == PostTarget.id, reading.captured_at <= as_of)
        .order_by(reading.captured_at.desc(), reading.id.desc())
        .limit(1)
        .offset(offset)
        .scalar_subquery()
    )


def _latest_query(workspace_id: uuid.UUID, request: ExportRequest) -> AnySelect:
    """Now: through the refresh state's pointers. As of a time: each target's two newest
    readings by then, and its status then (``deleted`` once collection had learned so)."""
    latest = aliased(Snapshot, name="latest")
    previous = aliased(Snapshot, name="previous")
    as_of = request.as_of
    status: Any = PostTarget.status
    if as_of is not None:
        status = case(
            (PostTarget.deleted_at <= as_of, TargetStatus.deleted.value),
            (PostTarget.status == TargetStatus.deleted.value, TargetStatus.published.value),
            else_=PostTarget.status,
        )
    query = select(
        _Joined(_Uuid(PostTarget.post_id), _Uuid(PostTarget.id), _Uuid(PostTarget.integration_id)),
        Integration.platform,
        Integration.username,
        PostTarget.post_url,
        status,
        _Joined(
            _Time(PostTarget.published_at),
            _Time(latest.captured_at),
            _Time(previous.captured_at),
        ),
        previous.id.is_not(None),
        *(getattr(latest, metric) for metric in METRICS),
        *(getattr(previous, metric) for metric in METRICS),
        Post.content,
    )
    if as_of is None:
        query = (
            query.select_from(RefreshState)
            .join(latest, latest.id == RefreshState.latest_snapshot_id)
            .outerjoin(previous, previous.id == RefreshState.previous_snapshot_id)
            .join(PostTarget, PostTarget.id == RefreshState.post_target_id)
            .where(RefreshState.workspace_id == workspace_id)
        )
    else:
        query = (
            query.select_from(PostTarget)
            .join(latest, latest.id == _newest(as_of, 0))
            .outerjoin(previous, previous.id == _newest(as_of, 1))
            .where(PostTarget.workspace_id == workspace_id)
        )
    query = (
        query.join(Integration, Integration.id == PostTarget.integration_id)
        .join(Post, Post.id == PostTarget.post_id)
        .where(latest.captured_at >= request.since)
        .order_by(latest.captured_at.desc(), latest.id.desc())
    )
    if request.until is not None:
        query = query.where(latest.captured_at < request.until)
    if request.integration_id is not None:
        query = query.where(PostTarget.integration_id == request.integration_id)
    if request.post_id is not None:
        query = query.where(PostTarget.post_id == request.post_id)
    if request.platform is not None:
        query = query.where(Integration.platform == request.platform)
    if request.search is not None:
        query = query.where(Post.content.icontains(request.search, autoescape=True))
    return query


# ------------------------------------------------------------------- rows → records


class _TargetCells:
    """``post_id,post_target_id,integration_id,platform,username,post_url`` per target.

    A snapshot row carries only its target's key; these six cells are read and formatted
    once per target, one query per batch of unseen targets, and kept in a bounded cache
    (emptied when full) so memory stays flat however many targets there are. Beside them,
    ``deadlines``: the end of each target's settle window as time text (``""`` without a
    published_at, which no captured_at sorts before), for the ``provisional`` cell.
    """

    LIMIT = 20_000

    def __init__(self, connection: Connection, workspace_id: uuid.UUID) -> None:
        self.connection = connection
        self.workspace_id = workspace_id
        self.cells: dict[str, str] = {}
        self.deadlines: dict[str, str] = {}

    def covering(self, keys: set[str]) -> dict[str, str]:
        missing = keys - self.cells.keys()
        if not missing:
            return self.cells
        if len(self.cells) + len(missing) > self.LIMIT:
            self.cells.clear()
            self.deadlines.clear()
            missing = keys
        rows = self.connection.execute(
            select(
                _Key(PostTarget.id),
                _Joined(
                    _Uuid(PostTarget.post_id),
                    _Uuid(PostTarget.id),
                    _Uuid(PostTarget.integration_id),
                ),
                Integration.platform,
                Integration.username,
                PostTarget.post_url,
                _Time(PostTarget.published_at),
            )
            .join(Integration, Integration.id == PostTarget.integration_id)
            .where(
                PostTarget.workspace_id == self.workspace_id,
                PostTarget.id.in_([uuid.UUID(key) for key in missing]),
            )
        )
        for key, ids, platform, username, post_url, published in rows:
            self.cells[key] = ",".join(
                (ids, csv_text(platform), csv_text(username), csv_text(post_url))
            )
            self.deadlines[key] = deadline_text(platform, published) or ""
        return self.cells


def _snapshot_records(rows: Sequence[Row], targets: _TargetCells) -> str:
    """A batch of snapshot rows as CSV records: the export's hot loop."""
    cells = targets.covering({row[1] for row in rows})
    deadlines = targets.deadlines
    js = csv_json
    # ``head`` is ``snapshot_id,captured_at``: its last 20 characters are the time text.
    try:
        return "".join(
            [
                f"{head},{cells[key]},{metrics},{js(data)},"
                f"{'true' if head[-20:] < deadlines[key] else 'false'}\r\n"
                for head, key, metrics, data in rows
            ]
        )
    except KeyError:
        # A target deleted while the export runs: its snapshots go with it (cascade).
        return _snapshot_records([row for row in rows if row[1] in cells], targets)


def _latest_records(rows: Sequence[Row], followers: dict[Any, int]) -> str:
    lines = []
    text, number = csv_text, csv_number
    for ids, platform, username, url, status, times, has_previous, *metrics, content in rows:
        now = dict(zip(METRICS, metrics[:4], strict=True))
        before = dict(zip(METRICS, metrics[4:], strict=True)) if has_previous else None
        change = delta(now, before)
        published, captured, _ = times.split(",")
        provisional = is_provisional(captured, deadline_text(platform, published or None))
        cells = (
            ids,
            text(platform),
            text(username),
            text(url),
            text(status),
            times,
            *(number(value) for value in metrics[:4]),
            *(number(change[metric]) for metric in METRICS),
            text(content),
            "true" if provisional else "false",
            *export_engagement.cells(
                metrics[:4], export_engagement.reading_of(ids, times), followers
            ),
        )
        lines.append(csv_record(cells))
    return "".join(lines)


def _stream(
    factory: sessionmaker[Session],
    workspace_id: uuid.UUID,
    request: ExportRequest,
    progress: ExportProgress,
) -> Iterator[bytes]:
    """The header, then every record, as UTF-8 chunks of about ``CHUNK_CHARS``.

    Runs in its own session on a server-side cursor (``stream_results``). Rows are read
    from the driver's cursor in ``FETCH_ROWS`` batches, past SQLAlchemy's Row objects
    (about 1 µs a row an export has no use for); SQLAlchemy holds back at most the one
    row it prefetches, taken first through ``fetchone``. Leaving the ``with`` blocks (rows
    exhausted, an error, or the consumer dropping the iterator) closes cursor and session.
    """
    latest = request.view is View.latest
    parts = [csv_record(LATEST_COLUMNS if latest else SNAPSHOT_COLUMNS)]
    size = len(parts[0])
    with factory() as session:
        connection = session.connection()
        targets = _TargetCells(connection, workspace_id)
        statement = (
            _latest_query(workspace_id, request)
            if latest
            else _snapshot_query(workspace_id, request)
        )
        options = {"stream_results": True, "max_row_buffer": FETCH_ROWS}
        with connection.execute(statement, execution_options=options) as result:
            first = result.fetchone()
            cursor = result.cursor
            rows: Sequence[Row] = []
            if first is not None:
                rows = [tuple(first), *cursor.fetchmany(FETCH_ROWS - 1)]
            while rows:
                block = (
                    _latest_records(
                        rows, export_engagement.batch_followers(session, workspace_id, rows)
                    )
                    if latest
                    else _snapshot_records(rows, targets)
                )
                progress.rows += len(rows)
                parts.append(block)
                size += len(block)
                if size >= CHUNK_CHARS:
                    yield "".join(parts).encode()
                    parts.clear()
                    size = 0
                rows = cursor.fetchmany(FETCH_ROWS)
    if parts:
        yield "".join(parts).encode()
