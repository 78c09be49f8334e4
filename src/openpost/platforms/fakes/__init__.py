"""Faithful fakes of the platforms' APIs, one ASGI app per platform, and two ways to reach
them: in-process through ``InProcessTransport`` (the test seam of a sync httpx client) or
over a real socket with ``LiveServer`` (uvicorn on a loopback port, for end-to-end tests).

A fake reproduces what the real API does that a client must handle (shapes, partial
errors, rate-limit headers, paid-budget errors, pagination, string ids) and keeps a request
log so that tests can count calls. Each is also runnable as a server:
``python -m openpost.platforms.x.fake --port 8081``. What the fakes share (faults, rate
windows, the request log, the server's command line) is in ``fakes.base``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

ASGIApp = Any  # an ASGI application callable; httpx and uvicorn each type it their own way


class InProcessTransport(httpx.BaseTransport):
    """Runs an ASGI app in the calling thread, one event loop per request.

    It honours the client's read timeout the way a socket would: an app that takes longer
    than the timeout raises ``httpx.ReadTimeout``. Do not use it from inside a running
    event loop (the fakes' callers are sync clients).
    """

    def __init__(self, app: ASGIApp) -> None:
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None

        async def exchange() -> tuple[int, httpx.Headers, bytes]:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(inner)
            content = await response.aread()
            return response.status_code, response.headers, content

        try:
            status, headers, content = asyncio.run(asyncio.wait_for(exchange(), read_timeout))
        except TimeoutError:
            raise httpx.ReadTimeout("the fake did not answer in time", request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)


class LiveServer:
    """Serves an ASGI app with uvicorn on a free loopback port, in a background thread.

    ``with LiveServer(app) as server: httpx.get(server.url + "/…")``.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1") -> None:
        self._app = app
        self._host = host
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def __enter__(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, lifespan="off", ws="none", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-server", daemon=True
        )
        self._socket, self._server, self._thread = sock, server, thread
        thread.start()
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        if not server.started:
            self.__exit__(None, None, None)
            raise RuntimeError("the fake server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
