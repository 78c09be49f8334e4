"""The contract every platform client implements, and the errors it may raise.

A client turns platform API calls into ``MetricReading``s. It knows nothing of workspaces,
targets or the database: ``refresh`` maps readings onto targets and stores them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One post's counters as the platform reported them, already normalised.

    ``None`` means the platform does not report that counter; 0 means it measured zero.
    ``platform_data`` keeps the platform's own counters under their own names.
    """

    platform_post_id: str
    impressions: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    platform_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    """A platform account, as resolved from a handle."""

    external_account_id: str
    username: str
    display_name: str


@dataclass(frozen=True, slots=True)
class AccountReading:
    """One account's own counters as the platform reported them (SPEC §9.4).

    ``None``: the platform does not report that counter (never 0 for "unknown").
    ``platform_data`` keeps the platform's own account counters under their own names.
    """

    external_account_id: str
    followers: int | None
    following: int | None
    posts: int | None
    platform_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountBatch:
    """The answer to one batched account read: ``readings`` by external account id,
    ``missing`` the ids the platform reports gone, ``errors`` per-id failures, ``calls`` the
    requests it took (counted against the same windows and budgets as post reads)."""

    readings: dict[str, AccountReading]
    missing: set[str] = field(default_factory=set)
    errors: dict[str, PlatformError] = field(default_factory=dict)
    calls: int = 1


@dataclass(frozen=True, slots=True)
class DiscoveredPost:
    platform_post_id: str
    post_url: str
    published_at: datetime
    content: str
    reading: MetricReading | None = None
    # The platform's own preview image of the post (an attached photo, a video's still),
    # where it gives one: shown on the dashboard, from hosts its spec lists.
    preview_url: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoveryPage:
    """The account's posts newer than the cursor given, newest first, and the new cursor.

    ``calls`` counts the requests the read took: what a per-call quota (YouTube's) charges.
    """

    posts: list[DiscoveredPost]
    newest_id: str | None
    calls: int = 1


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answer to one batched metrics read.

    ``readings`` by platform post id; ``deleted`` lists ids the platform reports gone;
    ``errors`` holds per-id failures of a partial response (the rest still succeeded).
    ``calls`` counts the requests the read took (0 when every id was refused before any
    call; more than 1 when a client had to ask again: X's public re-read of posts refused
    private fields, Mastodon's one-status-per-call fallback on instances before 4.3).
    """

    readings: dict[str, MetricReading]
    deleted: set[str] = field(default_factory=set)
    errors: dict[str, PlatformError] = field(default_factory=dict)
    calls: int = 1


WindowScope = Literal["credential", "app"]


@dataclass(frozen=True, slots=True)
class RateWindow:
    """A rate-limit window as the platform's answer describes it.

    - ``scope``: whose window it is. ``credential``: the credential the call used (X's app
      token, a Mastodon instance, an owner's token: one account); ``app``: the operator's
      app across every credential of the platform (Meta's ``X-App-Usage``), so a spent one
      pauses the whole platform.
    - ``rolling``: the window slides (calls in the last 24 hours, say) and the platform
      gives no reset time: a spent window pauses for this long.
    A window reported as a percentage used (Meta's usage headers) is ``from_usage``.
    """

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    scope: WindowScope = "credential"
    rolling: timedelta | None = None

    @classmethod
    def from_usage(
        cls,
        percent: float,
        *,
        regain_at: datetime | None = None,
        scope: WindowScope = "credential",
        rolling: timedelta | None = None,
    ) -> RateWindow:
        """A window the platform reports as how much of it is used, in percent: limit 100,
        remaining what is left (whole percents, never below 0); ``regain_at`` when access
        comes back once it is spent."""
        used = min(max(math.ceil(percent), 0), 100)
        return cls(100, 100 - used, regain_at, scope, rolling)

    @property
    def spent(self) -> bool:
        return self.remaining == 0

    def pause_until(self, now: datetime) -> datetime | None:
        """When a spent window lets calls through again (``None``: not spent, or unknown)."""
        if not self.spent:
            return None
        if self.reset_at is not None:
            return self.reset_at if self.reset_at > now else None
        return now + self.rolling if self.rolling is not None else None


class PlatformError(Exception):
    """A failure talking to a platform. ``message`` is safe to store and show."""

    outcome = "failed"
    transient = False

    def __init__(
        self, message: str, *, code: str = "platform_error", retry_at: datetime | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at


class RateLimited(PlatformError):
    """The platform's window is spent; nothing more until ``retry_at``."""

    outcome = "rate_limited"
    transient = True


class BudgetExhausted(PlatformError):
    """A paid budget is spent (X 402 credits-depleted, 429 usage-capped, YouTube quota)."""

    outcome = "rate_limited"
    transient = True


class PermissionRequired(PlatformError):
    """The credentials no longer allow the read: the integration needs reconnecting."""

    outcome = "permission_required"


class NotFound(PlatformError):
    """The account or post does not exist (or is no longer visible)."""

    outcome = "not_found"


class TransientError(PlatformError):
    """5xx, timeouts, connection failures: retry later with backoff."""

    transient = True


class MalformedResponse(PlatformError):
    """The platform answered with something we cannot read safely."""


class Unsupported(PlatformError):
    outcome = "unsupported"


@runtime_checkable
class PlatformClient(Protocol):
    """What ``refresh`` needs of a platform.

    ``requests`` counts the requests this client has sent since it was made (what a caller
    subtracts to learn what one call to it cost: a lookup YouTube charges for, say).
    """

    platform: str
    batch_size: int

    @property
    def requests(self) -> int:
        """Requests sent since the client was made."""
        ...

    def lookup_account(self, handle: str) -> Account:
        """Resolve a public handle to the platform's account id."""
        ...

    def fetch_metrics(
        self, post_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> BatchResult:
        """Read counters of up to ``batch_size`` posts in as few calls as the API allows."""
        ...

    def discover(
        self,
        account: Account,
        *,
        since_id: str | None,
        limit: int,
        credentials: dict[str, Any] | None = None,
    ) -> DiscoveryPage:
        """The account's posts newer than ``since_id`` (at most ``limit``), newest first."""
        ...

    def rate_window(self) -> RateWindow | None:
        """The rate window seen on the last response, if the platform reports one."""
        ...


@runtime_checkable
class AccountReader(Protocol):
    """A client that also reads accounts' own counters (SPEC §9.4): up to
    ``account_batch_size`` external account ids per call to ``fetch_accounts``, in as few
    requests as the API allows (X users lookup 100, Bluesky ``getProfiles`` 25, YouTube
    ``channels.list`` 50; one per account where the platform has no batch)."""

    account_batch_size: int

    def fetch_accounts(
        self, account_ids: Sequence[str], *, credentials: dict[str, Any] | None = None
    ) -> AccountBatch:
        """The accounts' followers, following and post counts (``credentials``: the
        owner's, as for ``fetch_metrics``)."""
        ...


def windows_of(client: PlatformClient) -> tuple[RateWindow, ...]:
    """Every rate window the client saw on its last response. A client whose platform reports
    several on one answer (one for the app and one per business object, as Meta's do) lists
    them from ``rate_windows()``; one that keeps a window per endpoint (a mapping: X,
    Mastodon, TikTok, Pinterest) or reports one gives its last through ``rate_window()``."""
    several = getattr(client, "rate_windows", None)
    if callable(several):
        found = several()
        if isinstance(found, list | tuple):
            return tuple(found)
    window = client.rate_window()
    return (window,) if window is not None else ()
