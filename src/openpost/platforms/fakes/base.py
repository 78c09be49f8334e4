"""What every fake platform shares, so that each platform module holds only its own wire
behaviour: injected faults, fixed rate windows, the request log, the clock, the ASGI app and
the command line that serves one.

A fake subclasses ``FakePlatform``, lists its routes in ``_routes`` and answers each request
through ``_serve``: that takes the first injected fault meant for the endpoint, waits the
fault's delay outside the lock (so a slow answer does not hold up other requests or the test
changing the fake's state), then lets the platform answer and logs the request, under the
lock. What a fault looks like on the wire stays with each platform's ``fault_response``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openpost.platforms.fakes import InProcessTransport

log = logging.getLogger("openpost.fakes")

E = TypeVar("E", bound=str)  # a fake's endpoint names
K = TypeVar("K", bound=str)  # the fault kinds a fake can inject
P = TypeVar("P")  # how a fake logs query parameters
R = TypeVar("R", bound="RecordedRequest[Any]")
Key = TypeVar("Key")  # what tells rate windows apart


@dataclass(frozen=True)
class RecordedRequest(Generic[P]):
    """One served request; each fake adds what its tests count by (token, context, cost)."""

    endpoint: str
    path: str
    params: P
    status: int


@dataclass
class Fault(Generic[K, E]):
    """An injected failure. ``detail`` carries what a platform's fault body needs beyond the
    kind and status (X: the usage cap's period)."""

    kind: K
    endpoint: E | None  # None: any endpoint
    times: int | None  # None: until cleared
    delay: float  # seconds before the answer
    status: int
    detail: str = ""

    @property
    def fails(self) -> bool:
        """Whether the answer is the fault's own; a ``slow`` fault answers normally."""
        return self.kind != "slow"


@dataclass
class Window:
    limit: int
    remaining: int
    reset: datetime

    @property
    def reset_epoch(self) -> int:
        return int(self.reset.timestamp())


class RateWindows(Generic[Key]):
    """Fixed rate windows, one per key, each opening with the first request after the last
    one ended. ``whole_seconds`` starts a window on the second, as platforms that report the
    reset in epoch seconds count it."""

    def __init__(self, length: timedelta, *, whole_seconds: bool = False) -> None:
        self.length = length
        self._whole_seconds = whole_seconds
        self._open: dict[Key, Window] = {}

    def spend(self, key: Key, limit: int, now: datetime) -> tuple[Window, bool]:
        """One request against ``key``'s window (``limit`` is used when a window opens):
        the window, and whether the request was within it."""
        start = now.replace(microsecond=0) if self._whole_seconds else now
        window = self._open.get(key)
        if window is None or start >= window.reset:
            window = self._open[key] = Window(limit, limit, start + self.length)
        if window.remaining <= 0:
            return window, False
        window.remaining -= 1
        return window, True

    def forget(self, which: Callable[[Key], bool] = lambda _key: True) -> None:
        """Close the windows of the keys ``which`` picks (all by default): a new one opens
        with the next request, under the limit of that moment."""
        for key in [k for k in self._open if which(k)]:
            del self._open[key]


class FakePlatform(Generic[E, K, R]):
    """A fake's state: the request log, the fault queue, the clock and the lock guarding
    them. ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(self, *, now: Callable[[], datetime]) -> None:
        self.requests: list[R] = []
        self._faults: list[Fault[K, E]] = []
        self._now = now
        self._lock = threading.RLock()

        async def not_found(_request: Request, _exc: Exception) -> Response:
            return self._not_found()

        self.app = Starlette(routes=self._routes(), exception_handlers={404: not_found})

    def _routes(self) -> list[Route]:
        raise NotImplementedError

    def _not_found(self) -> Response:
        """The platform's answer to a path it does not serve."""
        raise NotImplementedError

    def inject(
        self,
        kind: K,
        *,
        endpoint: E | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        status: int = 503,
    ) -> None:
        """Make the next ``times`` matching requests fail (``None``: until ``clear_faults``).

        ``delay`` seconds pass before the answer (``slow`` answers normally after it);
        ``status`` is the 5xx of ``server_error``.
        """
        self._add_fault(Fault(kind, endpoint, times, delay, status))

    def _add_fault(self, fault: Fault[K, E]) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls(self, endpoint: str | None = None) -> list[R]:
        return [r for r in self.requests if endpoint is None or r.endpoint == endpoint]

    def now(self) -> datetime:
        return self._now()

    def transport(self) -> InProcessTransport:
        return InProcessTransport(self.app)

    def _take_fault(self, endpoint: E) -> Fault[K, E] | None:
        for fault in self._faults:
            if fault.endpoint in (None, endpoint):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _serve(
        self,
        endpoint: E | None,
        answer: Callable[[Fault[K, E] | None], tuple[Response, R]],
    ) -> Response:
        """Answer one request: ``endpoint`` is what faults are matched against (``None``: no
        fault applies, e.g. an unauthenticated call); ``answer`` makes the response and its
        log entry from the fault taken, if any."""
        with self._lock:
            fault = self._take_fault(endpoint) if endpoint is not None else None
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        with self._lock:
            response, record = answer(fault)
            self.requests.append(record)
        return response


def route(path: str, serve: Callable[[Request], Awaitable[Response]]) -> Route:
    """A route to ``serve`` (Starlette only treats plain functions and methods as request
    handlers, not partials)."""

    async def endpoint(request: Request) -> Response:
        return await serve(request)

    return Route(path, endpoint)


def endpoint_routes(
    handle: Callable[[Request, E], Awaitable[Response]], paths: Mapping[str, E]
) -> list[Route]:
    """One route per path, each calling ``handle`` with the path's endpoint name."""

    def to(endpoint: E) -> Callable[[Request], Awaitable[Response]]:
        return lambda request: handle(request, endpoint)

    return [route(path, to(endpoint)) for path, endpoint in paths.items()]


def bad_gateway() -> Response:
    """What the proxy in front of an API sends when the API behind it does not answer."""
    return Response("<html><body>502 Bad Gateway</body></html>", 502, media_type="text/html")


def query_lists(request: Request) -> dict[str, list[str]]:
    """The query string with every value of a repeated parameter, in order."""
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


# ---- running one as a server --------------------------------------------------------------


def server_arguments(
    description: str,
    *,
    port: int,
    seed_help: str,
    seed_count: str = "posts",
    seed_default: int = 60,
) -> argparse.ArgumentParser:
    """The options every fake's server takes: ``--host``, ``--port``, ``--seed`` and
    ``--seed-<count>``; a platform adds its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--seed", action="store_true", help=seed_help)
    parser.add_argument(f"--seed-{seed_count}", type=int, default=seed_default)
    return parser


def run_server(app: Starlette, args: argparse.Namespace, what: str, path: str = "") -> None:
    """Serve ``app`` with uvicorn on ``args.host``/``args.port`` until interrupted."""
    logging.basicConfig(level=logging.INFO)
    log.info("%s on http://%s:%s%s", what, args.host, args.port, path)
    uvicorn.run(app, host=args.host, port=args.port, lifespan="off", ws="none")
