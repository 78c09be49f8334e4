"""Dashboard members: login, the session behind the cookie, CSRF tokens, login throttling.

Services never commit; the request owns the transaction.

- The cookie holds 32 random bytes (URL-safe base64); the database holds their SHA-256.
- Every request re-reads the member's role, so a role change or a removal takes effect on
  the member's next click, and a removed member's session stops working.
- Each session has its own CSRF token; every form carries it and every POST compares it
  in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openpost.core import clock
from openpost.core.errors import BadRequest, TooManyRequests
from openpost.core.outage import StorageOutage
from openpost.dashboard.models import DashboardSession
from openpost.workspaces.models import Member, Role, User, Workspace
from openpost.workspaces.service import find_user, hash_password, verify_password

T = TypeVar("T")

# Verifying against this when the email is unknown makes a miss cost as much as a wrong
# password, so response times do not tell which emails have an account.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))

MANAGE_ROLES = (Role.owner.value, Role.admin.value)
REFRESH_ROLES = (Role.owner.value, Role.admin.value, Role.editor.value)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at the dashboard: one member of one workspace."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    member_id: uuid.UUID
    role: str
    workspace_id: uuid.UUID
    workspace_name: str
    timezone: str
    mode: str
    csrf_token: str

    @property
    def can_refresh(self) -> bool:
        return self.role in REFRESH_ROLES

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGE_ROLES

    @property
    def is_owner(self) -> bool:
        return self.role == Role.owner.value


def check_password(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, or ``None`` (same cost either way)."""
    try:
        user = find_user(session, email)
    except BadRequest:  # not even an email address
        user = None
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def memberships(session: Session, user_id: uuid.UUID) -> list[tuple[uuid.UUID, str, str]]:
    """(workspace id, name, role) of every workspace the user belongs to, oldest first."""
    rows = session.execute(
        select(Workspace.id, Workspace.name, Member.role)
        .join(Member, Member.workspace_id == Workspace.id)
        .where(Member.user_id == user_id)
        .order_by(Member.created_at, Workspace.id)
    ).all()
    return [(row.id, row.name, row.role) for row in rows]


def start_session(
    session: Session, user: User, workspace_id: uuid.UUID, lifetime: timedelta
) -> str:
    """A new login for ``user`` in ``workspace_id``; returns the cookie's token.

    The user's expired sessions are swept on the way.
    """
    now = clock.now()
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.user_id == user.id, DashboardSession.expires_at <= now
        )
    )
    token = new_token()
    session.add(
        DashboardSession(
            token_hash=hash_token(token),
            user_id=user.id,
            workspace_id=workspace_id,
            csrf_token=new_token(),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def resolve(session: Session, token: str | None) -> Viewer | None:
    """The member behind a cookie token, or ``None`` if it is unknown, expired or the
    membership is gone."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(
            DashboardSession.id.label("session_id"),
            DashboardSession.csrf_token,
            DashboardSession.expires_at,
            User.id.label("user_id"),
            User.email,
            Member.id.label("member_id"),
            Member.role,
            Workspace.id.label("workspace_id"),
            Workspace.name,
            Workspace.timezone,
            Workspace.mode,
        )
        .join(User, User.id == DashboardSession.user_id)
        .join(
            Member,
            (Member.user_id == DashboardSession.user_id)
            & (Member.workspace_id == DashboardSession.workspace_id),
        )
        .join(Workspace, Workspace.id == DashboardSession.workspace_id)
        .where(DashboardSession.token_hash == hash_token(token))
    ).first()
    if row is None or row.expires_at <= clock.now():
        return None
    return Viewer(
        session_id=row.session_id,
        user_id=row.user_id,
        email=row.email,
        member_id=row.member_id,
        role=row.role,
        workspace_id=row.workspace_id,
        workspace_name=row.name,
        timezone=row.timezone,
        mode=row.mode,
        csrf_token=row.csrf_token,
    )


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(
            delete(DashboardSession).where(DashboardSession.token_hash == hash_token(token))
        )


def switch_workspace(session: Session, viewer: Viewer, workspace_id: uuid.UUID) -> bool:
    """Point the viewer's session at another workspace they belong to."""
    if workspace_id not in {w for w, _, _ in memberships(session, viewer.user_id)}:
        return False
    row = session.get(DashboardSession, viewer.session_id)
    if row is None:
        return False
    row.workspace_id = workspace_id
    session.flush()
    return True


class LoginThrottle:
    """At most ``max_failures`` failed logins per (email, client address) in a moving
    window. Counters live where the API's rate limits do: this process's memory, or Redis
    (``OPENPOST_RATE_LIMIT_STORAGE_URL``) to share them across processes. While Redis cannot
    be reached (``outage``), this process's memory counts instead: logins keep working and
    stay throttled per process (docs/decisions/0005).

    Checking and counting are one step: ``attempt`` takes a slot in the window before the
    password is checked (a Lua script in Redis, a lock in memory), and a success gives the
    slots back. So however many wrong passwords arrive at once, at most ``max_failures`` of
    them are checked; a check-then-count would let every concurrent one through."""

    def __init__(
        self,
        max_failures: int,
        window_minutes: int,
        storage_url: str = "",
        outage: StorageOutage | None = None,
    ) -> None:
        self.item = RateLimitItemPerMinute(max_failures, window_minutes)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_url or "memory://"))
        self.local = MovingWindowRateLimiter(storage_from_string("memory://"))
        self.outage = outage if outage is not None else StorageOutage(storage_url)
        # ``limits``' memory storage locks per key, but makes a key's lock on first use
        # without a lock of its own: two first attempts at once could each make one.
        self._memory_lock = threading.Lock()

    @staticmethod
    def _key(email: str, address: str) -> str:
        return hashlib.sha256(f"{email.strip().lower()}|{address}".encode()).hexdigest()

    def _limiter(self) -> MovingWindowRateLimiter:
        return self.limiter if self.outage.available() else self.local

    def _call(self, operation: Callable[[MovingWindowRateLimiter], T]) -> T:
        """``operation`` on the shared limiter, or on the local one while it is down."""
        limiter = self._limiter()
        if limiter is self.local or not self.outage.errors:
            with self._memory_lock:
                return operation(limiter)
        try:
            result = operation(limiter)
        except self.outage.errors as exc:
            self.outage.failed(exc)
            with self._memory_lock:
                return operation(self.local)
        self.outage.recovered()
        return result

    def attempt(self, email: str, address: str) -> int | None:
        """Count one attempt, atomically with the check: ``None`` if it may go ahead (it
        counts as a failure until ``succeeded``), else the seconds until one may."""
        key = self._key(email, address)

        def take(limiter: MovingWindowRateLimiter) -> int | None:
            if limiter.hit(self.item, "login", key):
                return None
            reset_at, _ = limiter.get_window_stats(self.item, "login", key)
            return max(1, math.ceil(reset_at - time.time()))

        return self._call(take)

    def succeeded(self, email: str, address: str) -> None:
        key = self._key(email, address)
        self._call(lambda limiter: limiter.clear(self.item, "login", key))


class LoginFailed(BadRequest):
    message = "That email and password do not match."


def log_in(
    session: Session,
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    address: str,
    lifetime: timedelta,
) -> str:
    """Check the password (unless throttled) and start a session in the member's first
    workspace; returns the cookie's token. Raises ``TooManyRequests`` or ``LoginFailed``.

    A user who belongs to no workspace cannot log in (there is nothing to show)."""
    wait = throttle.attempt(email, address)  # counted now, given back on success
    if wait is not None:
        minutes = -(-wait // 60)
        raise TooManyRequests(
            f"Too many failed logins for this email. Try again in {minutes} "
            + ("minutes." if minutes != 1 else "minute."),
            headers={"Retry-After": str(wait)},
        )
    user = check_password(session, email, password)
    workspaces = memberships(session, user.id) if user else []
    if user is None or not workspaces:
        raise LoginFailed
    throttle.succeeded(email, address)
    return start_session(session, user, workspaces[0][0], lifetime)
