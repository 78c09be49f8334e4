"""The dependency of the hot read endpoints: two thread-pool hops a request instead of four.

With ``DbSession`` + ``CurrentCaller`` and a sync endpoint, FastAPI hops from the event loop
to a worker thread and back for the session's start, the key check, the endpoint and the
session's end; each hop costs a wake-up of the loop, which showed in the API's fixed cost.
Here the key check (``deps.get_caller``, unchanged: 401, rate limit, headers) is one hop and
``Reader.run`` does the endpoint's work, the commit and the close in a second.

The key is still checked while FastAPI solves dependencies, so a caller without a valid key
gets 401 before any 400 about its parameters, as with ``CurrentCaller``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from openpost.auth.service import Caller
from openpost.core import unavailable
from openpost.deps import get_caller, get_sessionmaker

T = TypeVar("T")


class Reader:
    """The request's session and caller, until ``run`` has used and closed the session."""

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.open = True

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a worker thread, then commit (roll back if it raised), close."""
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        try:
            result = work(self.session)
        except BaseException:
            self.session.rollback()
            self.open = False
            self.session.close()
            raise
        try:
            self.session.commit()
        except Exception as exc:
            # A read's one write is the key's last-used time (once a minute): when the
            # database cannot write (SQLite's disk full, a lock held past the timeout),
            # the answer that was read is still right. Anything else is raised.
            self.session.rollback()
            if not unavailable.is_database_unavailable(exc):
                raise
            unavailable.note(exc, "commit of a read (the key's last-used time is not stored)")
        finally:
            self.open = False
            self.session.close()
        return result


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def get_reader(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> AsyncIterator[Reader]:
    session = get_sessionmaker(request)()  # no I/O until the first statement
    try:
        caller = await run_in_threadpool(get_caller, request, session, authorization)
    except BaseException:
        await run_in_threadpool(_discard, session)
        raise
    reader = Reader(session, caller)
    try:
        yield reader
    finally:
        if reader.open:  # the endpoint failed (or was refused) before ``run``
            await run_in_threadpool(_discard, session)


# scope="function": the session is closed before the response goes out, as with DbSession.
CurrentReader = Annotated[Reader, Depends(get_reader, scope="function")]
