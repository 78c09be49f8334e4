"""FastAPI dependencies shared by every router: the session, the caller, request checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from openpost.auth.ratelimit import KeyRateLimiter
from openpost.auth.service import Caller, authenticate
from openpost.config import Settings
from openpost.core.errors import AppError, BadRequest, UnsupportedMediaType
from openpost.core.outage import StorageOutage
from openpost.core.web import add_response_headers, error_response


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sessionmaker(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    session = get_sessionmaker(request)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit above runs before the response goes out, so a failed
# commit is a failed request rather than a 200 for data that was never stored.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def get_caller(
    request: Request,
    session: DbSession,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Caller:
    caller = authenticate(session, authorization)
    add_response_headers(request, count_request(request.app.state, str(caller.key_id)))
    return caller


async def key_before_body(request: Request) -> Response | None:
    """The key check, for a /v1 request whose body could not be parsed: FastAPI parses a
    JSON body before it solves any dependency, so without this a caller with no valid key
    would learn "not valid JSON" (400) before "Invalid API key" (401). Runs only on that
    failure path; an authenticated caller's request counts against its limit as usual."""
    if request.url.path != "/v1" and not request.url.path.startswith("/v1/"):
        return None

    def check() -> Response | None:
        with get_sessionmaker(request)() as session:
            try:
                caller = authenticate(session, request.headers.get("authorization"))
                add_response_headers(request, count_request(request.app.state, str(caller.key_id)))
            except AppError as exc:  # 401, or 429 over the limit
                return error_response(exc.status_code, exc.message, exc.headers)
            finally:
                session.rollback()  # the failing request stores nothing (last_used_at included)
        return None

    return await run_in_threadpool(check)


def count_request(state: Any, key: str) -> dict[str, str]:
    """One request against the key's limit: in the shared storage, or in this process's
    memory while that storage cannot be reached (docs/decisions/0005)."""
    limiter: KeyRateLimiter = state.rate_limiter
    outage: StorageOutage = state.rate_limit_outage
    if not outage.errors:  # counted in memory already
        return limiter.hit(key)
    if outage.available():
        try:
            headers = limiter.hit(key)
        except outage.errors as exc:
            outage.failed(exc)
        else:
            outage.recovered()
            return headers
    local: KeyRateLimiter = state.local_rate_limiter
    return local.hit(key)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def require_json(request: Request, _caller: CurrentCaller) -> None:
    """POST bodies are JSON (else 415) whose strings hold no NUL character (else 400).

    After the key (``_caller``, solved once per request): an unauthenticated caller gets
    401 whatever it sent.

    PostgreSQL text cannot store NUL, so one would otherwise fail at the database as a 500.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType
    body = await request.body()  # already read and cached by FastAPI
    if b"\\u0000" in body:  # JSON can only carry NUL escaped; parse only then
        try:
            where = _nul_in(json.loads(body), "")
        except (ValueError, RecursionError):
            return  # FastAPI's own body validation answers that
        if where is not None:
            raise BadRequest(f"{where or 'body'} must not contain NUL characters")


def _nul_in(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) in ``value`` that holds a NUL.

    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                if "\x00" in key:
                    return where
                pending.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            for index in reversed(range(len(item))):
                pending.append((f"{where}.{index}" if where else str(index), item[index]))
    return None
