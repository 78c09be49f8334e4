"""The demo workspace (SPEC §4): synthetic accounts, 90 days of posts and their history.

``seed_demo`` creates a ``test`` workspace named "Demo workspace" (Europe/Berlin) or reuses
the oldest one of that name, and gives it:

- one synthetic integration per platform in ``ACCOUNTS`` (ids from the simulator's
  ``lookup_account``, so they are the same on every run and every machine);
- ``POST_COUNT`` posts published in Berlin business hours over the 90 days before the
  workspace was created (a few within the last day, two older than 90 days and frozen),
  about half of them on several platforms. One post's content carries ``<script>``, another
  starts with ``=HYPERLINK(``, so HTML and CSV escaping get exercised downstream;
- each target's snapshot history: the readings a punctual collector would have taken
  (``refresh.tiers.capture_schedule``) with the simulator's values at those instants, all
  written through ``analytics.writer.append_snapshots`` with capture keys
  ``demo:<captured_at>`` (the collector's own keys never collide with them). X targets
  follow SPEC §5.2 as the collector does: readings stop at the freshness window (72 h),
  and the target is then ``frozen`` (the 50-post cap never binds at the demo's posting
  rate). One Bluesky target was deleted on the platform 12 days after publication: its
  history stops there, its outcome is ``not_found``;
- refresh states as after those readings: last attempt and success at the last reading,
  next due from the tiers, outcome ``ok`` (``frozen`` once nothing is ever due again);
- a daily account snapshot per integration for the same 90 days and up to now, with its
  account-read state (``accounts.demo``, SPEC §9.4);
- a discovery state per integration as discovery leaves it (SPEC §3.4): its ``since_id``
  cursor at the seeding time, checked just now, next due after the discovery interval. So
  the collector's first pass imports nothing the demo already "knows": without it, every
  integration got a state due at once and a cursor-less first read of the simulator's feed
  (up to each platform's cap, 450 posts in all), each post with one reading that counted
  its whole lifetime as today's growth. After that the feed's new posts (each synthetic
  account posts every 6-48 h) arrive one by one, as on a live account;
- a fresh API key named "demo key" on every run (a key's plaintext cannot be recovered)
  and the owner login ``demo@openpost.local`` / ``openpost-demo``.

**Idempotent.** Post times are anchored to the workspace's ``created_at``, so a second run
finds the same posts (by integration and platform post id) and writes no duplicate. A later
run tops each history up to the new ``now`` (only readings after a target's newest
snapshot), as if the collector had kept running. Only the API key is new each time.

The seeder uses ``platforms.synthetic`` directly: it generates test-mode data and calls no
platform API (``refresh`` stays the only caller of real platform clients).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpost.accounts.demo import seed_account_history
from openpost.accounts.models import AccountSnapshot
from openpost.analytics.models import Snapshot
from openpost.analytics.writer import Reading, append_snapshots
from openpost.auth.service import create_key
from openpost.core.ids import new_id
from openpost.core.timefmt import format_time
from openpost.integrations.models import Integration, Platform
from openpost.platforms.base import Account
from openpost.platforms.specs import LIVE, SPECS
from openpost.platforms.synthetic.client import (
    SyntheticClient,
    make_post_id,
    post_url,
    published_at_of,
    simulate,
    simulate_account,
)
from openpost.posts.models import Post, PostSource, PostTarget, TargetStatus
from openpost.refresh.models import DiscoveryState, Outcome, RefreshState
from openpost.refresh.state import new_state
from openpost.refresh.tiers import DEFAULT_POLICY, TierPolicy, capture_schedule, next_due_at
from openpost.workspaces.models import Workspace, WorkspaceMode
from openpost.workspaces.service import add_member, create_workspace, find_user, verify_password

DEMO_NAME = "Demo workspace"
DEMO_TIMEZONE = "Europe/Berlin"
DEMO_EMAIL = "demo@openpost.local"
DEMO_PASSWORD = "openpost-demo"  # noqa: S105 - the documented demo login, not a secret
DEMO_KEY_NAME = "demo key"
POST_COUNT = 96
X_FRESHNESS = timedelta(hours=72)
DISCOVERY_INTERVAL = timedelta(minutes=60)  # the setting's default

# (platform, handle, display name, how likely a post goes there)
ACCOUNTS = (
    (Platform.twitter.value, "openpost", "OpenPost", 0.6),
    (Platform.linkedin.value, "openpost-analytics", "OpenPost Analytics", 0.35),
    (Platform.bluesky.value, "openpost.bsky.social", "OpenPost", 0.35),
    (Platform.mastodon.value, "openpost@mastodon.social", "OpenPost", 0.25),
    (Platform.threads.value, "openpost.app", "OpenPost", 0.15),
    (Platform.youtube.value, "openposthq", "OpenPost HQ", 0.1),
    (Platform.tiktok.value, "openpost.app", "OpenPost", 0.08),
)
DISCOVERABLE = LIVE  # platforms whose accounts list their own posts
_SEED = 20260416
_WRITE_BATCH = 5000

_OPENERS = (
    "Just shipped:",
    "New on the blog:",
    "Quick tip:",
    "This week in analytics:",
    "Customer story:",
    "Behind the scenes:",
    "Reminder:",
    "Thread:",
)
_SUBJECTS = (
    "scheduled reports now land in your inbox every Monday at 9",
    "why impressions alone don't tell you what worked",
    "how a three-person agency tracks 40 client accounts",
    "post when your audience is awake, not when you are",
    "the first 24 hours decide most of a post's reach",
    "exporting your metrics to a spreadsheet in one click",
    "what we learned from 10,000 posts about posting times",
    "our API now pages through snapshots with cursors",
    "comparing engagement across X, Bluesky and Mastodon",
    "a better way to report deltas to your clients",
    "live Q&A with the team this Thursday",
    "we're hiring a backend engineer (remote, EU time zones)",
)
_CLOSERS = ("", " 📈", " Link in bio.", " Thoughts?", " #analytics", " #socialmedia")
_TAGS = ("launch", "blog", "tips", "events", "hiring", "case-study", "video")
_SPECIAL_CONTENT = {
    5: "Testing the embed widget: <script>alert(1)</script> should show up as plain text.",
    11: '=HYPERLINK("https://openpost.example/pricing","See our pricing") for teams.',
}
_FRESH_AGES = (timedelta(minutes=25), timedelta(hours=3, minutes=10), timedelta(hours=9))
_FROZEN_DAYS = (93, 97)
# One post's Bluesky copy is deleted on the platform 12 days after publication.
_DELETED_PLATFORM = Platform.bluesky.value
_DELETED_AFTER = timedelta(days=12)
_MIN_POSTS = len(_FRESH_AGES) + len(_FROZEN_DAYS) + 4


@dataclass(frozen=True, slots=True)
class DemoResult:
    workspace_id: uuid.UUID
    key: str
    email: str
    password: str | None  # None when the demo user already has a password of its own
    created: bool
    integrations: int
    posts: int
    targets: int
    snapshots_written: int
    snapshots_total: int


@dataclass(frozen=True, slots=True)
class PlannedPost:
    index: int
    published_at: datetime
    content: str
    tags: list[str]
    platforms: list[str]
    source: str
    deleted_on: str | None  # the platform that deletes its copy 12 days in


@dataclass(frozen=True, slots=True)
class _Tracked:
    target: PostTarget
    platform: str
    published_at: datetime
    platform_post_id: str
    deleted_at: datetime | None


def plan_posts(anchor: datetime, count: int = POST_COUNT) -> list[PlannedPost]:
    """The demo's posts, newest first: a pure function of the anchor time and count."""
    if count < _MIN_POSTS:
        raise ValueError(f"the demo needs at least {_MIN_POSTS} posts")
    deleted_index = count * 5 // 12  # about a month old
    rng = random.Random(_SEED)  # noqa: S311 - reproducible demo data, not security
    zone = ZoneInfo(DEMO_TIMEZONE)
    local_today = anchor.astimezone(zone).date()
    platforms = [account[0] for account in ACCOUNTS]
    weights = [account[3] for account in ACCOUNTS]
    middle = count - len(_FRESH_AGES) - len(_FROZEN_DAYS)
    plans = []
    for index in range(count):
        if index < len(_FRESH_AGES):
            published = anchor - _FRESH_AGES[index]
        elif index >= len(_FRESH_AGES) + middle:
            days = _FROZEN_DAYS[index - len(_FRESH_AGES) - middle]
            published = datetime.combine(local_today - timedelta(days=days), time(10, 30), zone)
        else:
            spread = (index - len(_FRESH_AGES)) / (middle - 1)
            day = local_today - timedelta(days=1 + int(88 * spread**1.15))
            at = time(rng.randint(8, 19), rng.randint(0, 59), rng.randint(0, 59))
            published = min(datetime.combine(day, at, zone), anchor - timedelta(hours=25))
        chosen = [p for p, w in zip(platforms, weights, strict=True) if rng.random() < w]
        if not chosen:
            chosen = rng.choices(platforms, weights)
        if index == deleted_index and _DELETED_PLATFORM not in chosen:
            chosen.append(_DELETED_PLATFORM)
        content = f"{rng.choice(_OPENERS)} {rng.choice(_SUBJECTS)}.{rng.choice(_CLOSERS)}"
        discovered = len(chosen) == 1 and chosen[0] in DISCOVERABLE and rng.random() < 0.3
        plans.append(
            PlannedPost(
                index=index,
                published_at=published.astimezone(UTC).replace(microsecond=0),
                content=_SPECIAL_CONTENT.get(index, content),
                tags=rng.sample(_TAGS, rng.randint(0, 2)),
                platforms=chosen,
                source=(PostSource.discovered if discovered else PostSource.api).value,
                deleted_on=_DELETED_PLATFORM if index == deleted_index else None,
            )
        )
    return plans


def _demo_workspace(session: Session, now: datetime) -> tuple[Workspace, bool]:
    workspace = session.scalars(
        select(Workspace)
        .where(Workspace.name == DEMO_NAME, Workspace.mode == WorkspaceMode.test.value)
        .order_by(Workspace.created_at, Workspace.id)
    ).first()
    if workspace is not None:
        return workspace, False
    workspace = create_workspace(session, DEMO_NAME, mode="test", timezone=DEMO_TIMEZONE)
    workspace.created_at = now
    session.flush()
    return workspace, True


def _integrations(session: Session, workspace: Workspace) -> dict[str, tuple[Integration, Account]]:
    existing = {
        (i.platform, i.external_account_id): i
        for i in session.scalars(
            select(Integration).where(Integration.workspace_id == workspace.id)
        )
    }
    result = {}
    for platform, handle, display_name, _weight in ACCOUNTS:
        account = SyntheticClient(platform).lookup_account(handle)
        integration = existing.get((platform, account.external_account_id))
        if integration is None:
            integration = Integration(
                workspace_id=workspace.id,
                platform=platform,
                external_account_id=account.external_account_id,
                username=account.username,
                display_name=display_name,
                synthetic=True,
                created_at=workspace.created_at,
            )
            session.add(integration)
        result[platform] = (integration, account)
    session.flush()
    return result


def _track(
    session: Session,
    workspace: Workspace,
    accounts: dict[str, tuple[Integration, Account]],
    post_count: int,
) -> list[_Tracked]:
    """Create the planned posts and targets that do not exist yet; return every target."""
    existing = {
        (t.integration_id, t.platform_post_id): t
        for t in session.scalars(select(PostTarget).where(PostTarget.workspace_id == workspace.id))
    }
    tracked = []
    for plan in plan_posts(workspace.created_at, post_count):
        planned = []
        for offset, platform in enumerate(plan.platforms):
            integration, account = accounts[platform]
            published = plan.published_at + timedelta(seconds=20 * offset)
            platform_post_id = make_post_id(platform, account, published, plan.index + 1)
            found = existing.get((integration.id, platform_post_id))
            integration.created_at = min(integration.created_at, published)  # see below
            planned.append((platform, integration, account, published, platform_post_id, found))
        post_id = next((found.post_id for *_, found in planned if found is not None), None)
        if post_id is None:
            post_id = new_id()
            session.add(
                Post(
                    id=post_id,
                    workspace_id=workspace.id,
                    content=plan.content,
                    tags=plan.tags,
                    source=plan.source,
                    published_at=plan.published_at,
                    created_at=plan.published_at,
                )
            )
        for platform, integration, account, published, platform_post_id, found in planned:
            target = found or PostTarget(
                workspace_id=workspace.id,
                post_id=post_id,
                integration_id=integration.id,
                status=TargetStatus.published.value,
                platform_post_id=platform_post_id,
                post_url=post_url(platform, account, platform_post_id),
                published_at=published,
            )
            session.add(target)
            deleted_at = published + _DELETED_AFTER if platform == plan.deleted_on else None
            tracked.append(_Tracked(target, platform, published, platform_post_id, deleted_at))
    session.flush()
    return tracked


def _discovery_states(
    session: Session,
    workspace: Workspace,
    accounts: dict[str, tuple[Integration, Account]],
    now: datetime,
    interval: timedelta,
) -> None:
    """Each integration's discovery cursor at ``now``, as if discovery had just run.

    The cursor is a post id of the account's layout that encodes ``now``: the simulator's
    feed (``SyntheticClient.discover``) lists only posts published after it. A cursor that
    is already later (the collector ran since) is kept.
    """
    states = {
        state.integration_id: state
        for state in session.scalars(
            select(DiscoveryState).where(DiscoveryState.workspace_id == workspace.id)
        )
    }
    for platform, (integration, account) in accounts.items():
        state = states.get(integration.id)
        if state is None:
            state = DiscoveryState(
                integration_id=integration.id,
                workspace_id=workspace.id,
                consecutive_failures=0,
                discovered=0,
            )
            session.add(state)
        seen = published_at_of(platform, state.since_id) if state.since_id else None
        if seen is None or seen < now:
            state.since_id = make_post_id(platform, account, now, 0)
        state.last_attempt_at = state.last_success_at = now
        state.next_due_at = now + interval
        state.outcome = Outcome.ok.value
        state.error_code = state.error_message = None
        state.consecutive_failures = 0
    session.flush()


def _newest_captures(session: Session, workspace_id: uuid.UUID) -> dict[uuid.UUID, datetime]:
    query = (
        select(Snapshot.post_target_id, func.max(Snapshot.captured_at))
        .where(Snapshot.workspace_id == workspace_id)
        .group_by(Snapshot.post_target_id)
    )
    return dict(session.execute(query).all())


def readings_due(
    platform: str,
    published_at: datetime,
    now: datetime,
    *,
    deleted_at: datetime | None = None,
    x_freshness: timedelta = X_FRESHNESS,
    tiers: TierPolicy = DEFAULT_POLICY,
) -> list[datetime]:
    """When a punctual collector would have read a demo target, up to ``now``."""
    until = min(now, deleted_at) if deleted_at else now
    times = capture_schedule(published_at, until, tiers)
    if _capped(platform):
        times = [t for t in times if t - published_at < x_freshness]
    return times


def _capped(platform: str) -> bool:
    """Re-read only within a freshness window (X's: one app token for every workspace)."""
    spec = SPECS.get(platform)
    return spec is not None and spec.cap is not None


def _settle(
    session: Session,
    item: _Tracked,
    last: datetime | None,
    now: datetime,
    x_freshness: timedelta,
    tiers: TierPolicy,
) -> None:
    """The target's refresh state as the collector would have left it."""
    target = item.target
    state = session.get(RefreshState, target.id)
    if state is None:
        state = new_state(target.id, target.workspace_id, now)
        session.add(state)
    due = next_due_at(item.published_at, last, tiers)
    if _capped(item.platform) and due is not None and due - item.published_at >= x_freshness:
        due = None
    state.last_attempt_at = last
    state.last_success_at = last
    state.error_code = state.error_message = None
    state.consecutive_failures = 0
    if last is None:
        state.outcome, state.next_due_at = Outcome.pending.value, item.published_at
    elif item.deleted_at is not None and due is not None and due <= now:
        target.status = TargetStatus.deleted.value
        target.deleted_at = due
        state.last_attempt_at = due
        state.outcome, state.next_due_at = Outcome.not_found.value, None
        state.error_code = "not_found"
        state.error_message = "the platform reports this post deleted"
    else:
        state.next_due_at = due
        state.outcome = (Outcome.frozen if due is None else Outcome.ok).value


def _connected_before_history(session: Session, integrations: list[Integration]) -> None:
    """Each integration "connected" by its first reading, as in real collection, so that an
    answer as of any day of the history finds it (SPEC §9.6): posts' readings start at
    publication (``_track`` moves ``created_at`` back to the earliest post), account readings
    where ``seed_account_history`` starts them (below)."""
    session.flush()
    by_id = {integration.id: integration for integration in integrations}
    for integration_id, first in session.execute(
        select(AccountSnapshot.integration_id, func.min(AccountSnapshot.captured_at))
        .where(AccountSnapshot.integration_id.in_(list(by_id)))
        .group_by(AccountSnapshot.integration_id)
    ):
        integration = by_id[integration_id]
        integration.created_at = min(integration.created_at, first)


def seed_demo(
    session: Session,
    now: datetime,
    *,
    x_freshness: timedelta = X_FRESHNESS,
    tiers: TierPolicy = DEFAULT_POLICY,
    post_count: int = POST_COUNT,
    discovery_interval: timedelta = DISCOVERY_INTERVAL,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Create the demo workspace, or top it up to ``now``. Does not commit.

    ``x_freshness``, ``tiers`` and ``discovery_interval`` are the collection settings the
    history should follow;
    ``post_count`` scales the plan (tests seed a small demo); ``progress(done, total)`` is
    called as targets are processed.
    """
    workspace, created = _demo_workspace(session, now)
    accounts = _integrations(session, workspace)
    _discovery_states(session, workspace, accounts, now, discovery_interval)
    # SPEC §9.4: a daily account snapshot per account (``accounts.demo``).
    seed_account_history(
        session, [i for i, _ in accounts.values()], workspace.created_at, now, simulate_account
    )
    tracked = _track(session, workspace, accounts, post_count)
    _connected_before_history(session, [i for i, _ in accounts.values()])
    newest = _newest_captures(session, workspace.id)

    written = 0
    batch: list[Reading] = []
    settle: list[tuple[_Tracked, datetime | None]] = []
    for done, item in enumerate(tracked, start=1):
        times = readings_due(
            item.platform,
            item.published_at,
            now,
            deleted_at=item.deleted_at,
            x_freshness=x_freshness,
            tiers=tiers,
        )
        seen = newest.get(item.target.id)
        new_times = [t for t in times if seen is None or t > seen]
        for moment in new_times:
            reading = simulate(item.platform, item.platform_post_id, item.published_at, moment)
            batch.append(
                Reading(
                    workspace_id=workspace.id,
                    integration_id=item.target.integration_id,
                    post_target_id=item.target.id,
                    captured_at=moment,
                    capture_key=f"demo:{format_time(moment)}",
                    impressions=reading.impressions,
                    likes=reading.likes,
                    comments=reading.comments,
                    shares=reading.shares,
                    platform_data=reading.platform_data,
                )
            )
        if new_times or seen is None:
            settle.append((item, times[-1] if times else None))
        if len(batch) >= _WRITE_BATCH:
            written += append_snapshots(session, batch)
            batch = []
        if progress is not None:
            progress(done, len(tracked))
    written += append_snapshots(session, batch)
    for item, last in settle:
        _settle(session, item, last, now, x_freshness, tiers)

    _, key = create_key(session, workspace, DEMO_KEY_NAME)
    add_member(session, workspace, email=DEMO_EMAIL, password=DEMO_PASSWORD, role="owner")
    user = find_user(session, DEMO_EMAIL)
    password_ok = user is not None and verify_password(user.password_hash, DEMO_PASSWORD)
    session.flush()
    total = session.scalar(
        select(func.count()).select_from(Snapshot).where(Snapshot.workspace_id == workspace.id)
    )
    return DemoResult(
        workspace_id=workspace.id,
        key=key,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD if password_ok else None,
        created=created,
        integrations=len(accounts),
        posts=len({item.target.post_id for item in tracked}),
        targets=len(tracked),
        snapshots_written=written,
        snapshots_total=total or 0,
    )
