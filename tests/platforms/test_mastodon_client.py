"""MastodonClient against fake instances: mapping, deleted statuses, the pre-4.3 fallback,
errors, rate windows, discovery paging, and the URL guard in front of every instance."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from openpost.config import Settings
from openpost.platforms.base import (
    Account,
    MalformedResponse,
    NotFound,
    PermissionRequired,
    PlatformClient,
    PlatformError,
    RateLimited,
    RateWindow,
    TransientError,
)
from openpost.platforms.fakes import LiveServer
from openpost.platforms.mastodon.client import InstanceMemory, MastodonClient
from openpost.platforms.mastodon.fake import FakeAccount, FakeMastodon, seed
from openpost.platforms.mastodon.reading import plain_text
from openpost.platforms.netguard import UnsafeUrl
from tests.platforms.support import NOW, Clock

DOMAIN = "mastodon.example"
ON = {"instance": DOMAIN}
PUBLIC = {DOMAIN: "93.184.215.14", "old.example": "93.184.215.15", "new.example": "93.184.215.16"}


pytestmark = pytest.mark.usefixtures("frozen_clock")


def resolver(table: dict[str, str]) -> Any:
    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return [table[host]]

    return resolve


class HostRouter(httpx.BaseTransport):
    """Sends each request to the fake instance named by its host."""

    def __init__(self, fakes: dict[str, FakeMastodon]) -> None:
        self._routes = {host: fake.transport() for host, fake in fakes.items()}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._routes[request.url.host].handle_request(request)


@pytest.fixture
def fake() -> FakeMastodon:
    return FakeMastodon(domain=DOMAIN)


@pytest.fixture
def alice(fake: FakeMastodon) -> FakeAccount:
    return fake.add_account("alice", display_name="Alice", account_id="109000000000000042")


def make_client(
    transport: httpx.BaseTransport, table: dict[str, str] = PUBLIC, **options: Any
) -> MastodonClient:
    return MastodonClient(
        transport=transport, resolver=resolver(table), memory=InstanceMemory(), **options
    )


@pytest.fixture
def client(fake: FakeMastodon) -> Iterator[MastodonClient]:
    with make_client(fake.transport()) as mastodon:
        yield mastodon


def status(fake: FakeMastodon, account: FakeAccount, hours_ago: float = 1, **counts: Any) -> str:
    return fake.add_status(account, created_at=NOW - timedelta(hours=hours_ago), **counts).id


def as_account(account: FakeAccount) -> Account:
    return Account(account.id, f"{account.username}@{DOMAIN}", account.display_name)


def test_is_a_platform_client(client: MastodonClient) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.batch_size) == ("mastodon", 20)
    assert MastodonClient.instance_of("alice@Mastodon.Example") == DOMAIN
    assert MastodonClient.instance_of("@bob@social.example:8443") == "social.example:8443"


def test_built_from_settings_with_one_base_url_for_every_instance(
    fake: FakeMastodon, alice: FakeAccount
) -> None:
    settings = Settings(
        env="test",
        mastodon_api_base_url="http://127.0.0.1:8083/",
        mastodon_allow_private_addresses=True,
    )
    with MastodonClient.from_settings(
        settings, transport=fake.transport(), memory=InstanceMemory()
    ) as client:
        found = client.lookup_account("alice@anywhere.example")
    assert found.username == "alice@anywhere.example"
    assert fake.requests[0].path == "/api/v1/accounts/lookup"
    strict = Settings(env="test", mastodon_api_base_url="http://127.0.0.1:8083")
    with (
        MastodonClient.from_settings(strict, transport=fake.transport()) as refused,
        pytest.raises(UnsafeUrl),
    ):
        refused.lookup_account("alice@anywhere.example")
    assert len(fake.requests) == 1


# ---- lookup_account ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "alice@mastodon.example",
        "@alice@mastodon.example",
        " @Alice@Mastodon.Example. ",
        "https://mastodon.example/@alice",
    ],
)
def test_lookup_resolves_the_account_id_on_its_instance(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount, typed: str
) -> None:
    assert client.lookup_account(typed) == Account(alice.id, "alice@mastodon.example", "Alice")
    (request,) = fake.requests
    assert request.params["acct"][0].lower() == "alice"


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        ("alice", "mastodon_invalid_handle"),
        ("@alice", "mastodon_invalid_handle"),
        ("two words@mastodon.example", "mastodon_invalid_handle"),
        ("alice@", "mastodon_invalid_instance"),
        ("alice@bad_host!", "mastodon_invalid_instance"),
        ("alice@mastodon.example/path", "mastodon_invalid_instance"),
        ("alice@2130706433", "mastodon_invalid_instance"),
    ],
)
def test_lookup_refuses_impossible_handles_without_a_call(
    client: MastodonClient, fake: FakeMastodon, handle: str, code: str
) -> None:
    with pytest.raises(NotFound) as caught:
        client.lookup_account(handle)
    assert caught.value.code == code
    assert fake.requests == []


def test_lookup_of_missing_and_suspended_accounts(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    with pytest.raises(NotFound) as missing:
        client.lookup_account("nobody@mastodon.example")
    assert missing.value.code == "mastodon_account_not_found"
    alice.suspended = True
    with pytest.raises(NotFound) as suspended:
        client.lookup_account("alice@mastodon.example")
    assert suspended.value.code == "mastodon_suspended"


def test_lookup_on_a_host_that_is_not_mastodon() -> None:
    parked = httpx.MockTransport(lambda _r: httpx.Response(404, html="<h1>for sale</h1>"))
    with make_client(parked) as client, pytest.raises(NotFound) as caught:
        client.lookup_account("alice@mastodon.example")
    assert caught.value.code == "mastodon_not_mastodon"


# ---- fetch_metrics --------------------------------------------------------------------------


def test_metrics_are_normalised_and_raw_counts_kept(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    status_id = status(fake, alice, favourites=112, reblogs=98, replies=7, quotes=3)
    result = client.fetch_metrics([status_id], credentials=ON)
    reading = result.readings[status_id]
    assert (reading.impressions, reading.likes, reading.comments, reading.shares) == (
        None,
        112,
        7,
        98,
    )
    assert reading.platform_data == {
        "replies_count": 7,
        "reblogs_count": 98,
        "favourites_count": 112,
    }
    (request,) = fake.requests
    assert (request.path, request.params) == ("/api/v1/statuses", {"id[]": [status_id]})


def test_quotes_count_is_added_to_shares_where_the_instance_reports_it(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    fake.version = "4.5.0"
    status_id = status(fake, alice, reblogs=4, quotes=3)
    reading = client.fetch_metrics([status_id], credentials=ON).readings[status_id]
    assert reading.shares == 7
    assert reading.platform_data["quotes_count"] == 3
    zero = status(fake, alice)
    assert client.fetch_metrics([zero], credentials=ON).readings[zero].shares == 0


def test_deleted_unknown_and_private_statuses_are_reported_deleted(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    ids = [status(fake, alice, hours_ago=5 - n, favourites=n) for n in range(4)]
    fake.delete_status(ids[1])
    private = fake.add_status(alice, visibility="private").id
    unknown = "109999999999999999999"

    result = client.fetch_metrics([ids[3], ids[1], unknown, ids[0], private], credentials=ON)

    assert {k: r.likes for k, r in result.readings.items()} == {ids[3]: 3, ids[0]: 0}
    assert result.deleted == {ids[1], unknown, private}
    assert result.errors == {}
    assert len(fake.requests) == 1


def test_counters_are_read_afresh(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    status_id = status(fake, alice, favourites=1)
    assert client.fetch_metrics([status_id], credentials=ON).readings[status_id].likes == 1
    fake.set_counts(status_id, favourites_count=50, reblogs_count=2)
    reading = client.fetch_metrics([status_id], credentials=ON).readings[status_id]
    assert (reading.likes, reading.shares) == (50, 2)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda c: c.pop("favourites_count"), id="missing-favourites"),
        pytest.param(lambda c: c.pop("replies_count"), id="missing-replies"),
        pytest.param(lambda c: c.update(reblogs_count="12"), id="string"),
        pytest.param(lambda c: c.update(replies_count=1.5), id="float"),
        pytest.param(lambda c: c.update(favourites_count=False), id="bool"),
        pytest.param(lambda c: c.update(reblogs_count=None), id="null"),
        pytest.param(lambda c: c.update(favourites_count=-3), id="negative"),
        pytest.param(lambda c: c.update(quotes_count="1"), id="bad-quotes"),
    ],
)
def test_a_malformed_counter_fails_that_status_only(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount, corrupt: Any
) -> None:
    fake.version = "4.5.1"
    good = status(fake, alice, favourites=2)
    bad = status(fake, alice, favourites=3)
    corrupt(fake.statuses[bad].counts)
    result = client.fetch_metrics([good, bad], credentials=ON)
    assert result.readings[good].likes == 2
    assert bad not in result.readings
    assert bad not in result.deleted
    error = result.errors[bad]
    assert isinstance(error, MalformedResponse)
    assert error.code == "mastodon_malformed"
    assert "count" in error.message


def test_n_ids_cost_ceil_n_over_20_requests(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    ids = [status(fake, alice, hours_ago=i / 10, favourites=i) for i in range(50)]
    readings = {}
    for start in range(0, len(ids), client.batch_size):
        batch = ids[start : start + client.batch_size]
        readings.update(client.fetch_metrics(batch, credentials=ON).readings)
    assert {k: r.likes for k, r in readings.items()} == {k: i for i, k in enumerate(ids)}
    assert len(fake.calls("statuses")) == math.ceil(50 / 20) == 3
    assert [len(r.params["id[]"]) for r in fake.requests] == [20, 20, 10]


def test_refusals_before_any_call(client: MastodonClient, fake: FakeMastodon) -> None:
    with pytest.raises(ValueError, match="at most 20"):
        client.fetch_metrics([str(10**17 + n) for n in range(21)], credentials=ON)
    with pytest.raises(ValueError, match="instance"):
        client.fetch_metrics(["1"])
    result = client.fetch_metrics(["", "12.5", "../1", "x" * 65], credentials=ON)
    assert {e.code for e in result.errors.values()} == {"mastodon_invalid_id"}
    assert len(result.errors) == 4
    assert client.fetch_metrics([], credentials=ON).readings == {}
    assert fake.requests == []


# ---- instances older than 4.3 ------------------------------------------------------------------


def test_old_instances_are_read_one_status_per_call_and_remembered(
    alice: FakeAccount, frozen_clock: Clock
) -> None:
    old = FakeMastodon(domain="old.example", version="4.2.10")
    new = FakeMastodon(domain="new.example", version="4.3.0")
    writer = old.add_account("writer")
    ids = [
        old.add_status(writer, created_at=NOW - timedelta(hours=n), favourites=n).id
        for n in range(3)
    ]
    old.delete_status(ids[2])
    poster = new.add_account("poster")
    fresh = new.add_status(poster, favourites=9).id
    with make_client(HostRouter({"old.example": old, "new.example": new})) as client:
        first = client.fetch_metrics(ids, credentials={"instance": "old.example"})
        assert {k: r.likes for k, r in first.readings.items()} == {ids[0]: 0, ids[1]: 1}
        assert first.deleted == {ids[2]}
        assert [r.endpoint for r in old.requests] == ["statuses", "status", "status", "status"]
        assert old.requests[0].status == 404

        again = client.fetch_metrics(ids[:2], credentials={"instance": "old.example"})
        assert set(again.readings) == set(ids[:2])
        assert [r.endpoint for r in old.requests[4:]] == ["status", "status"]  # no probe

        other = client.fetch_metrics([fresh], credentials={"instance": "new.example"})
        assert other.readings[fresh].likes == 9
        assert [r.endpoint for r in new.requests] == ["statuses"]

        old.version = "4.3.1"  # upgraded: tried again once the memory lapses
        frozen_clock.now = NOW + timedelta(hours=25)
        client.fetch_metrics(ids[:2], credentials={"instance": "old.example"})
        assert [r.endpoint for r in old.requests[6:]] == ["statuses"]


def test_fallback_never_calls_a_bare_404_a_deletion() -> None:
    def parked(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/statuses/7":
            return httpx.Response(404, json={"error": "Record not found"})
        return httpx.Response(404, html="<h1>Not here</h1>")

    with make_client(httpx.MockTransport(parked)) as client:
        result = client.fetch_metrics(["7", "8"], credentials=ON)
    assert result.deleted == {"7"}
    assert result.errors["8"].code == "mastodon_not_mastodon"


# ---- HTTP errors, credentials, the rate window --------------------------------------------------


def _raises(client: MastodonClient, ids: list[str], **options: Any) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        client.fetch_metrics(ids, credentials={**ON, **options})
    assert caught.value.__cause__ is None
    return caught.value


@pytest.mark.parametrize(
    ("fault", "status_code", "kind", "code"),
    [
        ("server_error", 503, TransientError, "mastodon_server_error"),
        ("server_error", 500, TransientError, "mastodon_server_error"),
        ("unauthorized", 401, PermissionRequired, "mastodon_forbidden"),
        ("forbidden", 403, PermissionRequired, "mastodon_forbidden"),
        ("not_json", 200, MalformedResponse, "mastodon_malformed"),
        ("wrong_shape", 200, MalformedResponse, "mastodon_malformed"),
    ],
)
def test_error_answers_map_to_platform_errors(
    client: MastodonClient,
    fake: FakeMastodon,
    alice: FakeAccount,
    fault: Any,
    status_code: int,
    kind: type[PlatformError],
    code: str,
) -> None:
    status_id = status(fake, alice)
    fake.inject(fault, status=status_code)
    error = _raises(client, [status_id])
    assert (type(error), error.code) == (kind, code)
    assert fake.requests[-1].status == status_code
    assert client.fetch_metrics([status_id], credentials=ON).readings


def test_slow_answer_times_out_as_transient(fake: FakeMastodon, alice: FakeAccount) -> None:
    status_id = status(fake, alice)
    fake.inject("slow", delay=2.0)
    with make_client(fake.transport(), timeout=0.05) as impatient:
        error = _raises(impatient, [status_id])
    assert (type(error), error.code) == (TransientError, "mastodon_timeout")


def test_instances_that_require_sign_in_take_an_access_token(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    fake.require_token = True
    fake.tokens.add("user-token")
    hidden = fake.add_status(alice, visibility="private", favourites=4).id
    error = _raises(client, [hidden])
    assert (type(error), error.outcome) == (PermissionRequired, "permission_required")
    assert "requires an authenticated user" in error.message
    result = client.fetch_metrics([hidden], credentials={**ON, "access_token": "user-token"})
    assert result.readings[hidden].likes == 4
    assert fake.requests[-1].token == "user-token"
    assert type(_raises(client, [hidden], access_token="stale")) is PermissionRequired


def test_rate_window_and_429_until_the_iso_reset(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    assert client.rate_window() is None
    status_id = status(fake, alice)
    reset = NOW + timedelta(minutes=5)
    client.fetch_metrics([status_id], credentials=ON)
    assert client.rate_window() == RateWindow(limit=300, remaining=299, reset_at=reset)
    fake.set_rate_limit(1)
    client.fetch_metrics([status_id], credentials=ON)
    error = _raises(client, [status_id])
    assert type(error) is RateLimited
    assert (error.code, error.retry_at) == ("mastodon_rate_limited", reset)
    assert client.rate_windows() == {DOMAIN: RateWindow(limit=1, remaining=0, reset_at=reset)}


# ---- discovery -------------------------------------------------------------------------------


def test_discovery_returns_own_statuses_and_threads_newest_first(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    bob = fake.add_account("bob")
    theirs = fake.add_status(bob, created_at=NOW - timedelta(hours=20))
    own = [
        fake.add_status(
            alice,
            content=f"<p>Hello &amp; welcome<br>line {n}</p>",
            created_at=NOW - timedelta(hours=10 - n),
            favourites=n,
        )
        for n in range(3)
    ]
    thread = fake.add_status(alice, reply_to=own[0], created_at=NOW - timedelta(hours=2))
    fake.add_status(alice, reply_to=theirs, created_at=NOW - timedelta(hours=1))
    fake.boost(alice, theirs, created_at=NOW - timedelta(minutes=30))
    fake.add_status(alice, visibility="private", created_at=NOW - timedelta(minutes=10))

    page = client.discover(as_account(alice), since_id=None, limit=50)

    assert [p.platform_post_id for p in page.posts] == [thread.id] + [s.id for s in own[::-1]]
    assert page.newest_id == thread.id
    newest = page.posts[1]
    assert newest.post_url == f"https://{DOMAIN}/@alice/{own[2].id}"
    assert newest.published_at == NOW - timedelta(hours=8)
    assert newest.content == "Hello & welcome\nline 2"
    assert newest.reading is not None
    assert (newest.reading.likes, newest.reading.impressions) == (2, None)
    (request,) = fake.requests
    assert request.path == f"/api/v1/accounts/{alice.id}/statuses"
    assert request.params == {
        "limit": ["40"],
        "exclude_reblogs": ["true"],
        "exclude_replies": ["true"],
    }


@pytest.mark.parametrize(
    ("posts", "limit", "pages"),
    [(100, 90, [40, 40, 10]), (30, 90, [40]), (80, 80, [40, 40]), (12, 3, [3]), (0, 50, [40])],
)
def test_discovery_follows_link_paging_but_never_past_its_limit(
    client: MastodonClient,
    fake: FakeMastodon,
    alice: FakeAccount,
    posts: int,
    limit: int,
    pages: list[int],
) -> None:
    made = [status(fake, alice, hours_ago=posts - n) for n in range(posts)]
    page = client.discover(as_account(alice), since_id=None, limit=limit)
    assert [p.platform_post_id for p in page.posts] == made[::-1][:limit]
    assert [int(r.params["limit"][0]) for r in fake.requests] == pages
    assert "max_id" not in fake.requests[0].params
    assert [r.params.get("max_id") for r in fake.requests[1:]] == [
        [made[::-1][sum(pages[: i + 1]) - 1]] for i in range(len(pages) - 1)
    ]
    assert page.newest_id == (made[-1] if made else None)


def test_discovery_since_id_reads_only_what_is_new_across_pages(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    for n in range(30):
        status(fake, alice, hours_ago=200 - n)
    first = client.discover(as_account(alice), since_id=None, limit=10)
    later = [status(fake, alice, hours_ago=100 - n) for n in range(45)]

    second = client.discover(as_account(alice), since_id=first.newest_id, limit=100)
    assert [p.platform_post_id for p in second.posts] == later[::-1]
    assert second.newest_id == later[-1]
    assert [r.params.get("since_id") for r in fake.requests[1:]] == [[first.newest_id]] * 2

    third = client.discover(as_account(alice), since_id=second.newest_id, limit=100)
    assert (third.posts, third.newest_id) == ([], second.newest_id)
    assert client.discover(as_account(alice), since_id=None, limit=0).posts == []
    assert len(fake.requests) == 4
    with pytest.raises(ValueError, match="status id"):
        client.discover(as_account(alice), since_id="at://x", limit=10)


def test_discovery_keeps_a_status_whose_counters_are_malformed(
    client: MastodonClient, fake: FakeMastodon, alice: FakeAccount
) -> None:
    bad = status(fake, alice)
    fake.statuses[bad].counts["favourites_count"] = "many"
    page = client.discover(as_account(alice), since_id=None, limit=50)
    assert [(p.platform_post_id, p.reading) for p in page.posts] == [(bad, None)]


def test_discovery_of_unknown_and_unreadable_accounts(
    client: MastodonClient, fake: FakeMastodon
) -> None:
    ghost = Account("123", f"ghost@{DOMAIN}", "Ghost")
    with pytest.raises(NotFound) as gone:
        client.discover(ghost, since_id=None, limit=50)
    assert gone.value.code == "mastodon_account_not_found"
    with pytest.raises(NotFound) as no_instance:
        client.discover(Account("123", "ghost", "Ghost"), since_id=None, limit=50)
    assert no_instance.value.code == "mastodon_invalid_handle"
    fake.inject("wrong_shape")
    with pytest.raises(MalformedResponse):
        client.discover(ghost, since_id=None, limit=50)


def test_html_content_becomes_plain_text() -> None:
    html = '<p>One <a href="https://x.example"><span>link</span></a></p><p>Two<br />three &lt;3</p>'
    assert plain_text(html) == "One link\n\nTwo\nthree <3"


# ---- the URL guard in front of every instance --------------------------------------------------


@pytest.mark.parametrize(
    ("handle", "table", "code"),
    [
        ("alice@intranet.example", {"intranet.example": "10.0.0.5"}, "mastodon_unsafe_address"),
        (
            "alice@metadata.example",
            {"metadata.example": "169.254.169.254"},
            "mastodon_unsafe_address",
        ),
        ("alice@rebind.example", {"rebind.example": "::ffff:127.0.0.1"}, "mastodon_unsafe_address"),
        ("alice@v6.example", {"v6.example": "fd00::1"}, "mastodon_unsafe_address"),
        ("alice@127.0.0.1", {}, "mastodon_unsafe_address"),
        ("alice@[::1]", {}, "mastodon_unsafe_address"),
        ("alice@localhost", None, "mastodon_unsafe_address"),
        ("alice@mastodon.example:8443", PUBLIC, "mastodon_unsafe_port"),
        ("https://mastodon.example:444/@alice", PUBLIC, "mastodon_unsafe_port"),
    ],
)
def test_instances_on_internal_addresses_are_refused_before_any_request(
    fake: FakeMastodon, handle: str, table: dict[str, str] | None, code: str
) -> None:
    kwargs: dict[str, Any] = {"resolver": resolver(table)} if table is not None else {}
    with MastodonClient(transport=fake.transport(), **kwargs) as client:
        with pytest.raises(UnsafeUrl) as caught:
            client.lookup_account(handle)
        with pytest.raises(UnsafeUrl):
            client.fetch_metrics(["1"], credentials={"instance": client.instance_of(handle)})
    assert caught.value.code == code
    assert caught.value.transient is False
    assert "10.0.0.5" not in caught.value.message
    assert fake.requests == []


def test_an_instance_that_does_not_resolve_is_transient(fake: FakeMastodon) -> None:
    with make_client(fake.transport(), table={}) as client, pytest.raises(TransientError) as caught:
        client.lookup_account("alice@nowhere.example")
    assert caught.value.code == "mastodon_unresolvable"
    assert fake.requests == []


# ---- over a real socket ----------------------------------------------------------------------


def test_seeded_instance_through_a_real_server() -> None:
    fake = FakeMastodon()
    seed(fake, posts=30)
    with (
        LiveServer(fake.app) as server,
        MastodonClient(base_url=server.url, allow_private=True) as client,
    ):
        account = client.lookup_account("openpost@mastodon.example")
        page = client.discover(account, since_id=None, limit=100)
        ids = [p.platform_post_id for p in page.posts[:20]]
        result = client.fetch_metrics(ids, credentials={"instance": "mastodon.example"})
    assert len(page.posts) == 31  # 30 statuses and a self-reply: no boost, reply or private one
    assert set(result.readings) == set(ids)
    assert client.rate_window() is not None
