"""FastAPI dependencies shared by every router: the session, the caller, request checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from openpost.auth.ratelimit import KeyRateLimiter
from openpost.auth.service import Caller, authenticate
from openpost.config import Settings
from openpost.core.errors import BadRequest, UnsupportedMediaType
from openpost.core.web import add_response_headers


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
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    add_response_headers(request, limiter.hit(str(caller.key_id)))
    return caller


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def require_json(request: Request) -> None:
    """POST bodies are JSON (else 415) whose strings hold no NUL character (else 400).

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
