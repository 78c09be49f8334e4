"""URL safety for hosts that users choose (a Mastodon instance, later any user-given endpoint).

A user who can make the service fetch ``https://<anything>/…`` could point it at the
service's own network (a metadata endpoint, a database admin page, a router). ``NetGuard``
refuses such targets before any request is sent:

- only ``https`` (``http`` only when private addresses are allowed);
- no user name or password in the URL, no query or fragment in a base URL;
- only the scheme's default port (others only when private addresses are allowed);
- the host is a DNS name (letters, digits, hyphens; the last label not numeric, so no
  ``2130706433`` or ``0x7f.1`` spellings of an address) or a literal IP address;
- every address the host resolves to (``socket.getaddrinfo``, or an injected resolver) must
  be a public unicast address: private, loopback, link-local, multicast, reserved,
  unspecified, shared (CGNAT), site-local and documentation ranges are refused, IPv4 and
  IPv6 alike, and an IPv6 address that embeds an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``,
  NAT64 ``64:ff9b::/96``, 6to4, Teredo) is judged by that IPv4 address too. If any address
  is refused, the host is refused.

``allow_private=True`` (``OPENPOST_MASTODON_ALLOW_PRIVATE_ADDRESSES``) lifts the address,
scheme and port rules, for tests that reach a fake on 127.0.0.1 and for operators whose
instances live on their own network. User names in URLs stay refused.

Checking a name and then letting the HTTP library resolve it again would leave a gap (DNS
rebinding: the second answer may differ). ``NetGuard.transport()`` closes it: the transport
it returns checks every request's host and connects to the very addresses it checked (the
TLS handshake still names and verifies the real host). Answers are cached for
``cache_seconds`` so a batch of requests costs one lookup.

Messages name the host (the user typed it) but never the address it resolved to, so the
guard cannot be used to map internal DNS.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from openpost.platforms.base import PlatformError, TransientError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: the IP addresses a name resolves to, as strings."""

DEFAULT_PORTS = {"https": 443, "http": 80}
CACHE_SECONDS = 60.0

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


class UnsafeUrl(PlatformError):
    """The URL or its host is not one the service may fetch. Not transient: it is refused
    until the user (or the host's DNS) changes it."""


@dataclass(frozen=True, slots=True)
class SafeTarget:
    """A checked base URL: where to connect, and which addresses were checked."""

    base_url: str  # scheme://host[:port][/path], no trailing slash
    scheme: str
    host: str  # ASCII, lower case, no brackets
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, from the operating system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def address_problem(address: str | IPAddress) -> str | None:
    """Why the service must not connect to ``address`` (a short phrase), or ``None``."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped (link-local) address"
        translated = _translated_ipv4(ip)
        if translated is not None:  # the packet goes to that IPv4 address: judge it alone
            return address_problem(translated)
        for embedded in _tunnelled_ipv4(ip):
            if problem := address_problem(embedded):
                return problem
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


def _translated_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped or NAT64 address stands for."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a 6to4 or Teredo address carries."""
    found = [ip.sixtofour, *(ip.teredo or ())]
    return [v4 for v4 in found if v4 is not None]


def normal_host(host: str) -> str:
    """``host`` as an ASCII, lower-case DNS name or canonical IP literal (no brackets).

    Raises ``ValueError`` with a message fit to show when it is neither.
    """
    text = host.strip().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        raise ValueError("has no host")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        ascii_host = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("is not a valid host name") from None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("is not a valid host name")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise ValueError("is not a valid host name (a number is not a domain)")
    return ascii_host


class NetGuard:
    """Checks URLs and hosts against the rules above; see the module docs."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        cache_seconds: float = CACHE_SECONDS,
        code_prefix: str = "url",
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver or system_resolver
        self._cache_seconds = cache_seconds
        self._prefix = code_prefix
        self._cache: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> SafeTarget:
        """Check a base URL (``https://host[:port][/path]``) and resolve its host."""
        text = url.strip()
        try:
            parts = urlsplit(text)
            port = parts.port
            hostname = parts.hostname
        except ValueError:
            raise self._refuse(f"{_shown(text)} is not a valid URL", "invalid") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise self._refuse(f"{_shown(text)} is not an https URL", "scheme")
        if parts.username is not None or parts.password is not None:
            raise self._refuse("a URL may not carry a user name or password", "userinfo")
        if parts.query or parts.fragment:
            raise self._refuse(f"{_shown(text)} may not have a query or fragment", "invalid")
        if not hostname:
            raise self._refuse(f"{_shown(text)} has no host", "invalid")
        path = parts.path.rstrip("/")
        target = self.check_host(hostname, port=port, scheme=scheme)
        return SafeTarget(
            base_url=target.base_url + path,
            scheme=target.scheme,
            host=target.host,
            port=target.port,
            addresses=target.addresses,
        )

    def check_host(
        self, host: str, *, port: int | None = None, scheme: str = "https", resolve: bool = True
    ) -> SafeTarget:
        """Check a host (a name or IP literal) and the addresses it resolves to
        (``resolve=False``: only an IP literal's own address; a name is left for the
        guarded transport to resolve and check when a request is made)."""
        try:
            name = normal_host(host)
        except ValueError as exc:
            raise self._refuse(f"{_shown(host)} {exc}", "invalid_host") from None
        if scheme != "https" and not self.allow_private:
            raise self._refuse(f"{_shown(name)} must be reached over https", "scheme")
        default = DEFAULT_PORTS.get(scheme)
        if default is None:
            raise self._refuse(f"{_shown(scheme)} is not an allowed scheme", "scheme")
        if port is not None and port != default and not self.allow_private:
            raise self._refuse(
                f"{_shown(name)}: only the standard https port is allowed, not {port}", "port"
            )
        effective = port if port is not None else default
        if not resolve and not _is_ip(name):
            return SafeTarget(f"{scheme}://{name}", scheme, name, effective, ())
        addresses = self._addresses(name, effective)
        if not self.allow_private:
            for address in addresses:
                if problem := address_problem(address):
                    raise self._refuse(f"{_shown(name)} is (or resolves to) {problem}", "address")
        netloc = f"[{name}]" if ":" in name else name
        if effective != default:
            netloc += f":{effective}"
        return SafeTarget(
            base_url=f"{scheme}://{netloc}",
            scheme=scheme,
            host=name,
            port=effective,
            addresses=addresses,
        )

    def transport(self, inner: httpx.BaseTransport | None = None) -> GuardedTransport:
        """A transport that checks every request's host first. Without ``inner`` it opens
        real connections, pinned to the checked addresses; with one (a test's fake), it
        checks and then hands the request over unchanged."""
        return GuardedTransport(self, inner)

    def _addresses(self, name: str, port: int) -> tuple[str, ...]:
        try:
            return (str(ipaddress.ip_address(name)),)
        except ValueError:
            pass
        key = (name, port)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        try:
            found = tuple(dict.fromkeys(self._resolver(name, port)))
        except (OSError, UnicodeError):
            raise TransientError(
                f"could not resolve {_shown(name)}", code=f"{self._prefix}_unresolvable"
            ) from None
        if not found:
            raise TransientError(
                f"{_shown(name)} resolves to no address", code=f"{self._prefix}_unresolvable"
            )
        with self._lock:
            self._cache[key] = (now + self._cache_seconds, found)
        return found

    def _refuse(self, message: str, reason: str) -> UnsafeUrl:
        return UnsafeUrl(f"refused: {message}", code=f"{self._prefix}_unsafe_{reason}")


class GuardedTransport(httpx.BaseTransport):
    """Checks each request's host with a ``NetGuard``; see ``NetGuard.transport``."""

    def __init__(self, guard: NetGuard, inner: httpx.BaseTransport | None = None) -> None:
        self._guard = guard
        self._inner = inner
        self._pinned: dict[str, httpx.HTTPTransport] = {}  # one pool per host name
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        target = self._guard.check_host(url.host, port=url.port, scheme=url.scheme)
        if self._inner is not None:
            return self._inner.handle_request(request)
        # Connect to the checked address; the Host header (copied from the original
        # request) and the TLS server name stay the real host, so certificates are verified
        # against it. The caller's request is left as it was (logs show the host name).
        # One pool per host: a connection verified for one host is never reused for
        # another that shares its address.
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=target.addresses[0]),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": target.host},
        )
        with self._lock:
            transport = self._pinned.get(target.host)
            if transport is None:
                transport = self._pinned[target.host] = httpx.HTTPTransport()
        return transport.handle_request(pinned)

    def close(self) -> None:
        with self._lock:
            pinned, self._pinned = list(self._pinned.values()), {}
        for transport in pinned:
            transport.close()
        if self._inner is not None:
            self._inner.close()


def _shown(text: str, limit: int = 120) -> str:
    """User-given text inside our message: one line, trimmed."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
