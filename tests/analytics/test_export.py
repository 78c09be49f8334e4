"""GET /v1/analytics/export: the CSV export, both views, every filter and error path."""

from __future__ import annotations

import csv
import io
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from openpost.analytics import engagement_followers, export
from openpost.analytics.models import Snapshot
from openpost.analytics.writer import refresh_latest_pointers
from openpost.core import clock
from openpost.core.db import make_sessionmaker
from openpost.core.errors import NotFound
from openpost.core.ids import new_id
from openpost.posts.models import PostTarget
from openpost.retention.permits import permitted
from tests import builders
from tests.builders import World

NOW = datetime(2026, 4, 16, 10, 0, 0, tzinfo=UTC)
URL = "/v1/analytics/export"


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.set_clock(lambda: NOW)
    yield NOW
    clock.set_clock(None)


def get(client: TestClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return client.get(URL, params=params, headers=headers)


def table(response: httpx.Response) -> list[list[str]]:
    """The body parsed by Python's csv reader (header first)."""
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode(), newline=""), strict=True))


def records(response: httpx.Response) -> list[dict[str, str]]:
    header, *rows = table(response)
    return [dict(zip(header, row, strict=True)) for row in rows]


class Shop:
    """One workspace with a key, a twitter and a bluesky integration, two posts."""

    def __init__(self, session: Session) -> None:
        self.workspace = builders.make_workspace(session)
        self.headers = {"Authorization": f"Bearer {builders.make_key(session, self.workspace)}"}
        self.x = builders.make_integration(session, self.workspace, username="openpost")
        self.sky = builders.make_integration(
            session, self.workspace, platform="bluesky", username="=HYPERLINK(1)"
        )
        self.post, (self.x_target, self.sky_target) = builders.make_post(
            session,
            self.workspace,
            [self.x, self.sky],
            content='-launch day, "quotes" and\nnewlines',
            published_at=NOW - timedelta(days=3),
        )
        self.other_post, (self.other_target,) = builders.make_post(
            session,
            self.workspace,
            [self.x],
            content="second",
            published_at=NOW - timedelta(days=2),
        )
        self.session = session

    def snap(self, target: PostTarget, at: datetime, **metrics: Any) -> None:
        builders.add_snapshot(self.session, target, at, **metrics)

    def snapshot_ids(self) -> dict[tuple[uuid.UUID, datetime], str]:
        rows = self.session.execute(
            select(Snapshot.post_target_id, Snapshot.captured_at, Snapshot.id).where(
                Snapshot.workspace_id == self.workspace.id
            )
        )
        return {(t, at): str(i) for t, at, i in rows}


@pytest.fixture
def shop(session: Session, frozen: datetime) -> Shop:
    shop = Shop(session)
    x_data = {"retweet_count": 0, "impression_count": 100, "quote_count": 0}
    shop.snap(shop.x_target, NOW - timedelta(hours=5), impressions=100, likes=10, comments=1,
              shares=0, platform_data=x_data)  # fmt: skip
    x_data = {"retweet_count": 2, "impression_count": 150, "quote_count": 0}
    shop.snap(shop.x_target, NOW - timedelta(hours=1), impressions=150, likes=8, comments=3,
              shares=2, platform_data=x_data)  # fmt: skip
    shop.snap(shop.sky_target, NOW - timedelta(hours=2), impressions=None, likes=0, comments=None,
              shares=4, platform_data={"repost_count": 4, "note": "café, \"x\""})  # fmt: skip
    shop.snap(shop.other_target, NOW - timedelta(days=40), impressions=7, likes=1, comments=0,
              shares=0)  # fmt: skip
    session.commit()
    return shop


# ------------------------------------------------------------------------ format


def test_snapshots_csv_format_headers_and_every_cell(client: TestClient, shop: Shop) -> None:
    response = get(client, shop.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="openpost-analytics-snapshots-2026-04-16.csv"'
    )
    body = response.content
    assert body.startswith(b"snapshot_id,captured_at,post_id,post_target_id,integration_id,"
                           b"platform,username,post_url,impressions,likes,comments,shares,"
                           b"platform_data,provisional\r\n")  # fmt: skip
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # no bare LF: every record ends in CRLF

    ids = shop.snapshot_ids()
    x, sky, post = shop.x_target, shop.sky_target, shop.post
    at1, at2 = NOW - timedelta(hours=1), NOW - timedelta(hours=2)
    assert table(response)[1:] == [
        [ids[(x.id, at1)], "2026-04-16T09:00:00Z", str(post.id), str(x.id), str(shop.x.id),
         "twitter", "openpost", x.post_url or "", "150", "8", "3", "2",
         '{"impression_count":150,"quote_count":0,"retweet_count":2}', "false"],
        [ids[(sky.id, at2)], "2026-04-16T08:00:00Z", str(post.id), str(sky.id), str(shop.sky.id),
         "bluesky", "'=HYPERLINK(1)", sky.post_url or "", "", "0", "", "4",
         '{"note":"café, \\"x\\"","repost_count":4}', "false"],
        [ids[(x.id, NOW - timedelta(hours=5))], "2026-04-16T05:00:00Z", str(post.id), str(x.id),
         str(shop.x.id), "twitter", "openpost", x.post_url or "", "100", "10", "1", "0",
         '{"impression_count":100,"quote_count":0,"retweet_count":0}', "false"],
    ]  # fmt: skip
    # the raw bytes of the bluesky record: null is an empty cell, 0 stays 0, quoting per RFC 4180
    assert (
        f',bluesky,\'=HYPERLINK(1),{sky.post_url},,0,,4,"{{""note"":""café, \\""x\\"""",'
        f'""repost_count"":4}}",false\r\n'.encode()
    ) in body


def test_empty_export_is_just_the_header(client: TestClient, shop: Shop) -> None:
    response = get(client, shop.headers, since="2020-01-01T00:00:00Z", until="2020-02-01T00:00:00Z")
    assert response.content == (",".join(export.SNAPSHOT_COLUMNS) + "\r\n").encode()
    latest = get(client, shop.headers, view="latest", days=1, integration_id=str(shop.x.id),
                 post_id=str(shop.other_post.id))  # fmt: skip
    assert latest.content == (",".join(export.LATEST_COLUMNS) + "\r\n").encode()


def test_rows_are_newest_first_with_ties_broken_by_id_descending(
    client: TestClient, session: Session, shop: Shop
) -> None:
    same = NOW - timedelta(minutes=30)
    for target in (shop.x_target, shop.sky_target, shop.other_target):
        shop.snap(target, same)
    session.commit()
    rows = [
        (r["captured_at"], uuid.UUID(r["snapshot_id"])) for r in records(get(client, shop.headers))
    ]
    assert len(rows) == 6
    assert rows == sorted(rows, reverse=True)
    assert [at for at, _ in rows[:3]] == ["2026-04-16T09:30:00Z"] * 3


def test_export_holds_exactly_what_the_list_api_pages_through(
    client: TestClient, session: Session, shop: Shop
) -> None:
    for n in range(30):
        shop.snap(shop.other_target, NOW - timedelta(hours=10 + n), likes=n)
    session.commit()
    listed: list[str] = []
    params: dict[str, Any] = {"days": 30, "limit": 7}
    while True:
        page = client.get("/v1/analytics", params=params, headers=shop.headers).json()
        listed += [row["id"] for row in page["data"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    exported = [r["snapshot_id"] for r in records(get(client, shop.headers, days=30))]
    assert exported == listed
    assert len(exported) == 33


# ------------------------------------------------------------------------ latest view


def test_latest_view_one_row_per_target_with_deltas(client: TestClient, shop: Shop) -> None:
    response = get(client, shop.headers, view="latest")
    assert response.headers["content-disposition"] == (
        'attachment; filename="openpost-analytics-latest-2026-04-16.csv"'
    )
    header, *rows = table(response)
    assert tuple(header) == export.LATEST_COLUMNS
    assert header == [
        "post_id", "post_target_id", "integration_id", "platform", "username", "post_url",
        "target_status", "published_at", "captured_at", "previous_captured_at", "impressions",
        "likes", "comments", "shares", "delta_impressions", "delta_likes", "delta_comments",
        "delta_shares", "content", "provisional",
        "engagements", "engagement_rate", "engagement_rate_by_followers",
    ]  # fmt: skip
    content = '\'-launch day, "quotes" and\nnewlines'
    assert rows == [
        # two snapshots: latest minus previous; a fall in likes is a negative number, untouched
        [str(shop.post.id), str(shop.x_target.id), str(shop.x.id), "twitter", "openpost",
         shop.x_target.post_url, "published", "2026-04-13T10:00:00Z", "2026-04-16T09:00:00Z",
         "2026-04-16T05:00:00Z", "150", "8", "3", "2", "50", "-2", "2", "2", content, "false",
         "13", "0.086667", ""],
        # one snapshot: the delta is the whole value; not reported stays empty
        [str(shop.post.id), str(shop.sky_target.id), str(shop.sky.id), "bluesky",
         "'=HYPERLINK(1)", shop.sky_target.post_url, "published", "2026-04-13T10:00:00Z",
         "2026-04-16T08:00:00Z", "", "", "0", "", "4", "", "0", "", "4", content, "false",
         "4", "", ""],
    ]  # fmt: skip
    # the other post's only snapshot is 40 days old: outside the default 30 days
    wide = records(get(client, shop.headers, view="latest", days=60))
    assert [r["post_target_id"] for r in wide][-1] == str(shop.other_target.id)
    assert wide[-1]["content"] == "second"


def test_latest_delta_is_empty_where_either_side_is_not_reported(
    client: TestClient, session: Session, shop: Shop
) -> None:
    shop.snap(shop.sky_target, NOW - timedelta(minutes=10), impressions=5, likes=3, comments=None,
              shares=4)  # fmt: skip
    session.commit()
    (row,) = records(get(client, shop.headers, view="latest", integration_id=str(shop.sky.id)))
    assert (row["impressions"], row["likes"], row["comments"], row["shares"]) == ("5", "3", "", "4")
    deltas = [row[f"delta_{m}"] for m in ("impressions", "likes", "comments", "shares")]
    assert deltas == ["", "3", "", "0"]
    assert row["previous_captured_at"] == "2026-04-16T08:00:00Z"


def test_latest_skips_targets_without_snapshots_and_follows_the_pointer(
    client: TestClient, session: Session, shop: Shop
) -> None:
    builders.make_post(session, shop.workspace, [shop.x], content="never read")
    session.commit()
    rows = records(get(client, shop.headers, view="latest", days=365))
    assert len(rows) == 3
    assert "never read" not in {r["content"] for r in rows}


# ------------------------------------------------------------------------ filters


def test_integration_filter(client: TestClient, shop: Shop) -> None:
    rows = records(get(client, shop.headers, integration_id=str(shop.x.id), days=60))
    assert {r["integration_id"] for r in rows} == {str(shop.x.id)}
    assert len(rows) == 3
    latest = records(get(client, shop.headers, view="latest", integration_id=str(shop.sky.id)))
    assert [r["post_target_id"] for r in latest] == [str(shop.sky_target.id)]


def test_post_filter(client: TestClient, shop: Shop) -> None:
    rows = records(get(client, shop.headers, post_id=str(shop.post.id), days=60))
    assert {r["post_id"] for r in rows} == {str(shop.post.id)}
    assert len(rows) == 3
    other = records(get(client, shop.headers, post_id=str(shop.other_post.id), days=60))
    assert [r["post_target_id"] for r in other] == [str(shop.other_target.id)]
    latest = records(
        get(client, shop.headers, view="latest", post_id=str(shop.other_post.id), days=60)
    )
    assert [r["post_target_id"] for r in latest] == [str(shop.other_target.id)]


def test_both_filters_together(client: TestClient, shop: Shop) -> None:
    rows = records(get(client, shop.headers, post_id=str(shop.post.id),
                       integration_id=str(shop.sky.id)))  # fmt: skip
    assert [r["post_target_id"] for r in rows] == [str(shop.sky_target.id)]


def test_platform_filter_keeps_that_platforms_accounts(client: TestClient, shop: Shop) -> None:
    rows = records(get(client, shop.headers, platform="bluesky", days=60))
    assert [r["post_target_id"] for r in rows] == [str(shop.sky_target.id)]
    assert {
        r["platform"] for r in records(get(client, shop.headers, platform="twitter", days=60))
    } == {"twitter"}
    latest = records(get(client, shop.headers, view="latest", platform="twitter", days=60))
    assert {r["post_target_id"] for r in latest} == {
        str(shop.x_target.id),
        str(shop.other_target.id),
    }
    assert records(get(client, shop.headers, platform="youtube", days=60)) == []
    refused = get(client, shop.headers, platform="myspace")
    assert refused.status_code == 400
    assert "platform must be one of" in refused.json()["error"]


def test_search_keeps_posts_whose_text_contains_it(client: TestClient, shop: Shop) -> None:
    rows = records(get(client, shop.headers, search="SECOND", days=60))
    assert [r["post_target_id"] for r in rows] == [str(shop.other_target.id)]
    latest = records(get(client, shop.headers, view="latest", search="Launch Day", days=60))
    assert {r["post_target_id"] for r in latest} == {str(shop.x_target.id), str(shop.sky_target.id)}
    # LIKE wildcards are matched literally, not as patterns.
    assert records(get(client, shop.headers, search="%", days=60)) == []
    both = records(get(client, shop.headers, search="launch", platform="bluesky", days=60))
    assert [r["post_target_id"] for r in both] == [str(shop.sky_target.id)]


def test_days_bounds_the_range(client: TestClient, shop: Shop) -> None:
    assert len(records(get(client, shop.headers))) == 3
    assert len(records(get(client, shop.headers, days=1))) == 3
    assert len(records(get(client, shop.headers, days=41))) == 4
    assert len(records(get(client, shop.headers, days=39))) == 3


def test_since_until_take_any_offset_since_inclusive_until_exclusive(
    client: TestClient, shop: Shop
) -> None:
    # 2026-04-16T08:00:00Z written in +02:00 and -05:00
    rows = records(get(client, shop.headers, since="2026-04-16T10:00:00+02:00",
                       until="2026-04-16T04:00:00-05:00"))  # fmt: skip
    assert [r["captured_at"] for r in rows] == ["2026-04-16T08:00:00Z"]
    rows = records(get(client, shop.headers, since="2026-04-16T08:00:01Z"))
    assert [r["captured_at"] for r in rows] == ["2026-04-16T09:00:00Z"]
    rows = records(get(client, shop.headers, since="2026-03-01T00:00:00Z",
                       until="2026-04-16T05:00:00Z"))  # fmt: skip
    assert [r["captured_at"] for r in rows] == ["2026-03-07T10:00:00Z"]
    latest = records(get(client, shop.headers, view="latest", since="2026-04-16T08:30:00Z"))
    assert [r["post_target_id"] for r in latest] == [str(shop.x_target.id)]


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "week"}, "days"),
        ({"days": 7, "since": "2026-04-01T00:00:00Z"}, "days cannot be combined with since/until"),
        ({"until": "2026-04-01T00:00:00Z"}, "until needs since"),
        ({"since": "2026-04-02T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
         "since must be before until"),
        ({"since": "2026-04-02T00:00:00Z", "until": "2026-04-02T02:00:00+02:00"},
         "since must be before until"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-04-01T00:00:00"}, "since must carry a timezone offset"),
        ({"since": "2026-04-01T00:00:00Z", "until": "soon"}, "until"),
        ({"integration_id": "nope"}, "integration_id must be a UUID"),
        ({"post_id": "1234"}, "post_id must be a UUID"),
        ({"view": "all"}, "view"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    client: TestClient, shop: Shop, params: dict[str, Any], message: str
) -> None:
    response = get(client, shop.headers, **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_another_workspaces_ids_are_404(client: TestClient, world: World) -> None:
    for params, message in (
        ({"integration_id": str(world.b.integration.id)}, "integration not found"),
        ({"post_id": str(world.b.post.id)}, "post not found"),
        ({"post_id": str(uuid.uuid4())}, "post not found"),
        (
            {"integration_id": str(world.b.integration.id), "view": "latest"},
            "integration not found",
        ),
    ):
        response = get(client, world.a.headers, **params)
        assert response.status_code == 404, response.text
        assert response.json() == {"error": message}
    own = records(get(client, world.a.headers, post_id=str(world.a.post.id)))
    assert len(own) == 2


def test_each_workspace_exports_only_its_own_rows(client: TestClient, world: World) -> None:
    for tenant in (world.a, world.b):
        for view in ("snapshots", "latest"):
            rows = records(get(client, tenant.headers, view=view))
            assert {r["integration_id"] for r in rows} == {str(tenant.integration.id)}


def test_needs_a_valid_key(client: TestClient, world: World) -> None:
    assert client.get(URL).status_code == 401
    response = client.get(URL, headers={"Authorization": "Bearer op_live_" + "A" * 32})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key"}
    bad_params = client.get(URL, params={"days": 0})
    assert bad_params.status_code == 401


def test_openapi_documents_the_csv_and_its_columns(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][URL]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"text/csv"}
    assert set(operation["responses"]["404"]["content"]) == {"application/json"}
    for column in (*export.SNAPSHOT_COLUMNS, *export.LATEST_COLUMNS):
        assert f"{column}" in operation["description"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"range", "integration_id", "post_id", "view", "platform", "search", "as_of"}
    # days, since and until: one exploded object, whose schema says which go together
    (range_,) = (p for p in operation["parameters"] if p["name"] == "range")
    assert (range_["style"], range_["explode"]) == ("form", True)
    assert set(range_["schema"]["properties"]) == {"days", "since", "until"}
    assert range_["schema"]["dependentRequired"] == {"until": ["since"]}
    assert range_["schema"]["not"] == {"required": ["days", "since"]}


# ------------------------------------------------------------------------ streaming


def _many_snapshots(session: Session, shop: Shop, count: int) -> None:
    """``count`` snapshots over 40 targets, in one executemany."""
    targets = [shop.x_target, shop.sky_target, shop.other_target]
    while len(targets) < 40:
        _, made = builders.make_post(session, shop.workspace, [shop.x, shop.sky])
        targets += made
    values = [
        {
            "id": new_id(),
            "workspace_id": shop.workspace.id,
            "integration_id": target.integration_id,
            "post_target_id": target.id,
            "captured_at": NOW - timedelta(minutes=1 + n // len(targets)),
            "capture_key": f"bulk-{n}",
            "impressions": None if n % 7 == 0 else n,
            "likes": n % 5,
            "comments": 0,
            "shares": n % 3,
            "platform_data": {"n": n, "kind": "bulk"},
        }
        for n in range(count)
        for target in (targets[n % len(targets)],)
    ]
    # Core executemany: the writer's RETURNING insert is slow at this size on SQLite.
    session.connection().execute(insert(Snapshot.__table__), values)
    refresh_latest_pointers(session, {target.id: shop.workspace.id for target in targets})
    session.commit()


def test_a_large_export_streams_every_row_in_chunks(
    client: TestClient, engine: Engine, session: Session, shop: Shop
) -> None:
    _many_snapshots(session, shop, 20_000)
    chunks: list[bytes] = []
    with client.stream("GET", URL, params={"days": 1}, headers=shop.headers) as response:
        assert response.status_code == 200
        chunks = list(response.iter_bytes())
    body = b"".join(chunks)
    rows = list(csv.reader(io.StringIO(body.decode(), newline=""), strict=True))[1:]
    assert len(rows) == 20_003
    assert len({row[0] for row in rows}) == 20_003
    keys = [(row[1], uuid.UUID(row[0])) for row in rows]
    assert keys == sorted(keys, reverse=True)
    assert sum(row[8] == "" for row in rows) == 20_000 // 7 + 1 + 1  # n % 7 == 0, and bluesky
    assert len(body) > 4 * export.CHUNK_CHARS  # it had to stream in several pieces

    # the service hands out chunks of a few hundred KB, never one per row nor one in all
    factory = make_sessionmaker(engine)
    request = export.parse_request(now=NOW, days=1)
    with factory() as check:
        stream = export.open_export(check, factory, shop.workspace.id, request, now=NOW)
    tracemalloc.start()
    try:
        sizes = [len(chunk) for chunk in stream.chunks]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(body) / 3  # never the whole file in memory (a quick check, not a bound)
    assert len(sizes) >= 4
    assert all(size < 2 * export.CHUNK_CHARS + 50_000 for size in sizes)
    assert sum(sizes) == len(body)
    assert stream.progress.rows == 20_003


def test_an_abandoned_stream_gives_its_connection_back(
    engine: Engine, session: Session, shop: Shop
) -> None:
    _many_snapshots(session, shop, 3_000)
    session.close()
    factory = make_sessionmaker(engine)
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    with factory() as check:
        stream = export.open_export(
            check, factory, shop.workspace.id, export.parse_request(now=NOW, days=1), now=NOW
        )
    first = next(stream.chunks)
    assert first.startswith(b"snapshot_id,")
    assert engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
    stream.chunks.close()  # what dropping the response does when a client goes away
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


def test_the_stream_outlives_the_session_that_checked_it(engine: Engine, shop: Shop) -> None:
    factory = make_sessionmaker(engine)
    with factory() as check:
        stream = export.open_export(
            check, factory, shop.workspace.id, export.parse_request(now=NOW, view="latest"), now=NOW
        )
    body = b"".join(stream.chunks)
    assert body.count(b"\r\n") == 3  # the header and two targets
    assert body.count(b"\n") == 5  # and each row's content keeps its LF, quoted


def test_bad_ids_fail_before_any_byte_is_streamed(engine: Engine, world: World) -> None:
    factory = make_sessionmaker(engine)
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    request = export.parse_request(now=NOW, post_id=str(world.b.post.id))
    with factory() as check, pytest.raises(NotFound, match="post not found"):
        export.open_export(check, factory, world.a.workspace.id, request, now=NOW)
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


def test_a_target_deleted_mid_export_neither_breaks_nor_garbles_it(
    engine: Engine, session: Session, shop: Shop
) -> None:
    _many_snapshots(session, shop, 3_000)
    _, (doomed,) = builders.make_post(session, shop.workspace, [shop.sky])
    for hours in range(20, 25):
        shop.snap(doomed, NOW - timedelta(hours=hours))
    session.commit()
    factory = make_sessionmaker(engine)
    with factory() as check:
        stream = export.open_export(
            check, factory, shop.workspace.id, export.parse_request(now=NOW, days=1), now=NOW
        )
    first = next(stream.chunks)
    with factory() as other:  # as a workspace deletion does, under its permit
        with permitted(other, "workspace delete"):
            other.execute(delete(PostTarget).where(PostTarget.id == doomed.id))
        other.commit()
    body = first + b"".join(stream.chunks)
    rows = list(csv.reader(io.StringIO(body.decode(), newline=""), strict=True))[1:]
    assert all(len(row) == len(export.SNAPSHOT_COLUMNS) for row in rows)
    kept = [row for row in rows if row[3] != str(doomed.id)]
    assert len(kept) == 3_003
    # A snapshot-isolated read may still return the deleted target's rows, but whole.
    assert all(row[2] and row[6] for row in rows)


def test_latest_engagement_rate_by_followers_through_the_seam(
    client: TestClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §9.5: followers at each row's latest reading come through
    ``engagement_followers.followers_at``; where it knows them, the rate follows."""

    def followers_at(
        session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID], at: datetime
    ) -> dict[uuid.UUID, int | None]:
        return {i: 1300 for i in ids if i == shop.x.id}

    monkeypatch.setattr(engagement_followers, "followers_at", followers_at)
    rows = records(get(client, shop.headers, view="latest"))
    by_platform = {r["platform"]: r for r in rows}
    x, sky = by_platform["twitter"], by_platform["bluesky"]
    assert (x["engagements"], x["engagement_rate"], x["engagement_rate_by_followers"]) == (
        "13",
        "0.086667",
        "0.010000",
    )
    assert (sky["engagements"], sky["engagement_rate"], sky["engagement_rate_by_followers"]) == (
        "4",
        "",
        "",
    )
