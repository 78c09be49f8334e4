"""FastAPI dependencies shared by every router: the session, the caller, request checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from openpost.auth.ratelimit import KeyRateLimiter
from openpost.auth.service import Caller, authenticate
from openpost.config import Settings
from openpost.core.errors import UnsupportedMediaType
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


def require_json(request: Request) -> None:
    """POST bodies are JSON: anything else is a 415 before the body is even read."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType
