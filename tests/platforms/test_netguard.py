"""NetGuard: which user-given URLs the service may fetch, and the transport that enforces it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openpost.platforms.base import TransientError
from openpost.platforms.fakes import LiveServer
from openpost.platforms.netguard import NetGuard, UnsafeUrl, address_problem, normal_host

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class Resolver:
    """A DNS stand-in: names → addresses, counting lookups; unknown names fail."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, _port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


NAMES = {
    "mastodon.social": [PUBLIC_V4, PUBLIC_V6],
    "xn--bcher-kva.example": [PUBLIC_V4],
    "intranet.example": ["10.0.0.7"],
    "mixed.example": [PUBLIC_V4, "192.168.1.20"],
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "ula.example": ["fd12:3456:789a::1"],
    "empty.example": [],
}


def guard(**options: Any) -> NetGuard:
    return NetGuard(resolver=Resolver(NAMES), **options)


# ---- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        (PUBLIC_V4, None),
        (PUBLIC_V6, None),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),  # IPv4-mapped: judged by the IPv4 address
        ("64:ff9b::808:808", None),  # NAT64 of a public address
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:a00:1::1", "private"),  # 6to4 carrying 10.0.0.1
        ("192.0.2.1", "private"),  # documentation ranges are not public either
        ("2001:db8::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address under test, not a bind
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "shared"),
        ("fec0::1", "site-local"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_address_problems(address: str, problem: str | None) -> None:
    found = address_problem(address)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Mastodon.Social.", "mastodon.social"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_hosts_are_normalised(host: str, normal: str) -> None:
    assert normal_host(host) == normal


@pytest.mark.parametrize(
    "host", ["", "2130706433", "0x7f.1", "0177.0.0.1", "1.2.3", "a_b.example", "-a.example", "a..b"]
)
def test_impossible_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="host"):
        normal_host(host)


# ---- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "port"),
    [
        ("https://mastodon.social", "https://mastodon.social", 443),
        ("https://Mastodon.Social./", "https://mastodon.social", 443),
        ("https://mastodon.social:443/", "https://mastodon.social", 443),
        ("https://bücher.example", "https://xn--bcher-kva.example", 443),
        ("https://mastodon.social/prefix/", "https://mastodon.social/prefix", 443),
        (f"https://{PUBLIC_V4}", f"https://{PUBLIC_V4}", 443),
        (f"https://[{PUBLIC_V6}]", f"https://[{PUBLIC_V6}]", 443),
    ],
)
def test_public_https_urls_pass(url: str, base: str, port: int) -> None:
    target = guard().check_url(url)
    assert (target.base_url, target.port, target.scheme) == (base, port, "https")
    assert target.addresses


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://mastodon.social", "scheme"),
        ("ftp://mastodon.social", "scheme"),
        ("mastodon.social", "scheme"),
        ("https://user:secret@mastodon.social", "userinfo"),
        ("https://user@mastodon.social", "userinfo"),
        ("https://mastodon.social:8443", "port"),
        ("https://mastodon.social:80", "port"),
        ("https://mastodon.social/?next=1", "invalid"),
        ("https://mastodon.social/#top", "invalid"),
        ("https://", "invalid"),
        ("https://mastodon.social:99999", "invalid"),
        ("https://2130706433", "invalid_host"),
        ("https://0x7f.1", "invalid_host"),
        ("https://127.0.0.1", "address"),
        ("https://10.1.2.3", "address"),
        ("https://172.31.255.255", "address"),
        ("https://192.168.1.1", "address"),
        ("https://169.254.169.254", "address"),
        ("https://0.0.0.0", "address"),
        ("https://224.0.0.1", "address"),
        ("https://[::1]", "address"),
        ("https://[fe80::1]", "address"),
        ("https://[fc00::1]", "address"),
        ("https://[::ffff:10.0.0.1]", "address"),
        ("https://[::ffff:7f00:1]", "address"),
        ("https://intranet.example", "address"),
        ("https://mixed.example", "address"),  # one private answer is enough
        ("https://metadata.example", "address"),
        ("https://mapped.example", "address"),
        ("https://ula.example", "address"),
    ],
)
def test_unsafe_urls_are_refused(url: str, code: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        guard().check_url(url)
    error = caught.value
    assert error.code == f"url_unsafe_{code}"
    assert error.message.startswith("refused: ")
    assert error.transient is False
    assert "secret" not in error.message
    for answer in ("10.0.0.7", "192.168.1.20", "169.254.169.254", "127.0.0.1", "fd12"):
        if answer not in url:
            assert answer not in error.message  # internal DNS answers are never told


def test_localhost_is_refused_through_the_system_resolver() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        NetGuard().check_url("https://localhost")
    assert caught.value.code == "url_unsafe_address"
    assert "loopback" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8083",
        "https://[::1]:8443",
        "https://intranet.example",
        "http://localhost:9000/prefix",
    ],
)
def test_allow_private_lifts_address_scheme_and_port_rules(url: str) -> None:
    target = guard(allow_private=True).check_url(url.replace("localhost", "127.0.0.1"))
    assert target.base_url == url.replace("localhost", "127.0.0.1")


def test_allow_private_still_refuses_user_names() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        guard(allow_private=True).check_url("http://admin:pw@127.0.0.1:8083")
    assert caught.value.code == "url_unsafe_userinfo"


@pytest.mark.parametrize("name", ["nowhere.example", "empty.example"])
def test_names_that_do_not_resolve_are_transient(name: str) -> None:
    with pytest.raises(TransientError) as caught:
        guard(code_prefix="mastodon").check_url(f"https://{name}")
    assert caught.value.code == "mastodon_unresolvable"
    assert name in caught.value.message


def test_answers_are_cached_for_a_while() -> None:
    resolver = Resolver(NAMES)
    cached = NetGuard(resolver=resolver)
    cached.check_url("https://mastodon.social")
    cached.check_host("mastodon.social")
    assert resolver.lookups == ["mastodon.social"]
    uncached = NetGuard(resolver=resolver, cache_seconds=0)
    uncached.check_host("mastodon.social")
    uncached.check_host("mastodon.social")
    assert len(resolver.lookups) == 3
    literal = NetGuard(resolver=resolver)
    literal.check_host(PUBLIC_V4)
    assert len(resolver.lookups) == 3  # literals need no lookup


# ---- the transport ---------------------------------------------------------------------------


def test_transport_checks_every_request_before_handing_it_over() -> None:
    seen: list[str] = []

    def inner(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    resolver = Resolver({"flip.example": [PUBLIC_V4]})
    checker = NetGuard(resolver=resolver, cache_seconds=0)
    with httpx.Client(transport=checker.transport(httpx.MockTransport(inner))) as client:
        assert client.get("https://flip.example/api").status_code == 200
        resolver.table["flip.example"] = ["127.0.0.1"]  # DNS rebinding
        with pytest.raises(UnsafeUrl):
            client.get("https://flip.example/api")
        with pytest.raises(UnsafeUrl):
            client.get("http://flip.example/api")
    assert seen == ["https://flip.example/api"]


@pytest.fixture
def echo_server() -> Iterator[LiveServer]:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"host": request.headers.get("host")})

    with LiveServer(Starlette(routes=[Route("/", echo)])) as server:
        yield server


def test_transport_connects_to_the_checked_address_with_the_real_host_name(
    echo_server: LiveServer,
) -> None:
    # "pinned.test" exists only in our resolver: the request can only arrive if the
    # transport connects to the address the guard checked rather than resolving again.
    checker = NetGuard(allow_private=True, resolver=Resolver({"pinned.test": ["127.0.0.1"]}))
    with httpx.Client(transport=checker.transport()) as client:
        response = client.get(f"http://pinned.test:{echo_server.port}/")
    assert response.json() == {"host": f"pinned.test:{echo_server.port}"}
    assert response.request.url.host == "pinned.test"  # the caller's request is untouched
