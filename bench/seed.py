"""Fast, realistic benchmark data, written through the real schema.

Shape (deterministic for a given size):
- four workspaces holding 50 %, 25 %, 15 % and 10 % of the posts, with ten integrations
  between them on ten platforms; the first workspace is the one the benchmarks query;
- posts published uniformly over the last 400 days, each on 1-3 of its workspace's
  integrations;
- each target read on the refresh tiers of SPEC §5.1 (every 30 min for a day, every 6 h to
  7 days, daily to 90 days, then frozen: 155 readings; X targets stop at 72 h, 56 readings),
  with a few minutes of jitter; counters grow along a saturating curve per target;
- metrics a platform does not report are NULL (Bluesky and Mastodon impressions, YouTube and
  Pinterest shares), and ``platform_data`` carries each platform's own counter names.

The schema comes from ``openpost.core.migrate.upgrade`` (real indexes, real append-only
trigger). Small tables go in through SQLAlchemy Core ``executemany``; snapshots, the bulk,
go straight through the driver (``sqlite3.executemany`` per simulated day, PostgreSQL
``COPY``) in capture order, which is how a live database grows. Refresh states point at
each target's two newest snapshots. ``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``) closes.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import math
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, text

from bench.database import BenchDatabase, Meta
from openpost.auth.keys import hash_key
from openpost.auth.models import ApiKey
from openpost.config import Settings
from openpost.core.db import make_engine
from openpost.core.migrate import alembic_config, upgrade
from openpost.integrations.models import Integration
from openpost.models import RefreshState  # where every version keeps it (bench --commit)
from openpost.posts.models import Post, PostTarget
from openpost.refresh.tiers import capture_schedule
from openpost.workspaces.models import Workspace

HOUR = 3600
DAY = 86400
SPAN_DAYS = 400
SEED = 20260416

# (name, share of posts, platforms of its integrations)
WORKSPACES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Northwind Agency", 0.50, ("twitter", "bluesky", "linkedin", "youtube")),
    ("Acme Studio", 0.25, ("twitter", "mastodon", "instagram")),
    ("Blue Harbor", 0.15, ("threads", "facebook")),
    ("Solo Creator", 0.10, ("tiktok",)),
)
NOT_REPORTED: dict[str, frozenset[str]] = {
    "bluesky": frozenset({"impressions"}),
    "mastodon": frozenset({"impressions"}),
    "youtube": frozenset({"shares"}),
    "pinterest": frozenset({"shares"}),
}
URLS = {
    "twitter": "https://x.com/{user}/status/{pid}",
    "bluesky": "https://bsky.app/profile/{user}.bsky.social/post/{pid}",
    "mastodon": "https://mastodon.social/@{user}/{pid}",
    "youtube": "https://www.youtube.com/watch?v={pid}",
    "linkedin": "https://www.linkedin.com/feed/update/urn:li:share:{pid}",
    "instagram": "https://www.instagram.com/p/{pid}/",
    "threads": "https://www.threads.net/@{user}/post/{pid}",
    "facebook": "https://www.facebook.com/{user}/posts/{pid}",
    "tiktok": "https://www.tiktok.com/@{user}/video/{pid}",
    "pinterest": "https://www.pinterest.com/pin/{pid}/",
}

X_FRESHNESS = Settings.model_fields["x_freshness_window_hours"].default * HOUR


def schedule(platform: str) -> tuple[int, ...]:
    """Seconds after the first reading at which a punctual collector reads a target:
    ``refresh.tiers.capture_schedule`` until frozen (X: until its freshness window ends)."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    times = capture_schedule(start, start + timedelta(days=3650))
    offsets = (int((t - start).total_seconds()) for t in times)
    stop = X_FRESHNESS if platform == "twitter" else None
    return tuple(o for o in offsets if stop is None or o < stop)


SCHEDULES = {platform: schedule(platform) for platform in URLS}


def bench_key(index: int) -> str:
    """The API key of workspace ``index``: deterministic, so reruns need no secrets file."""
    digest = hashlib.sha256(f"openpost-bench-workspace-{index}".encode()).digest()[:24]
    return "op_live_" + base64.urlsafe_b64encode(digest).decode()


def uuid7_bits(millis: int, rand: int) -> str:
    """A version-7 UUID (the layout of ``openpost.core.ids.new_id``) as 32 hex digits."""
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62
    return f"{value | (rand & (2**62 - 1)):032x}"


def uuid7_hex(millis: int, rng: random.Random) -> str:
    return uuid7_bits(millis, rng.getrandbits(74))


@dataclass(slots=True)
class Target:
    id: str
    post_id: str
    workspace_id: str
    integration_id: str
    platform: str
    published: int
    first_read: int
    reach: float
    tau_seconds: float
    like_rate: float
    comment_ratio: float
    share_ratio: float
    times: tuple[int, ...]
    done: int = 0
    latest: str | None = None
    previous: str | None = None
    latest_at: int | None = None
    next_at: int | None = None


@dataclass(slots=True)
class IntegrationPlan:
    id: str
    workspace_id: str
    platform: str
    username: str


@dataclass
class Plan:
    now: int
    workspaces: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    integrations: list[IntegrationPlan] = field(default_factory=list)
    posts: list[tuple[str, str, int, str]] = field(default_factory=list)  # id, ws, pub, source
    targets: list[Target] = field(default_factory=list)  # ordered by published time
    drill_down_post: str = ""


def make_plan(snapshots: int, now: int, rng: random.Random) -> Plan:
    """Workspaces, integrations, posts and targets whose readings add up to ``snapshots``."""
    plan = Plan(now=now)
    created = (now - (SPAN_DAYS + 20) * DAY) * 1000
    by_workspace: list[list[IntegrationPlan]] = []
    for index, (name, _share, platforms) in enumerate(WORKSPACES):
        workspace_id = uuid7_hex(created + index, rng)
        plan.workspaces.append((workspace_id, name))
        mine = []
        for platform in platforms:
            username = f"{name.split()[0].lower()}_{platform}"
            mine.append(
                IntegrationPlan(uuid7_hex(created + 10, rng), workspace_id, platform, username)
            )
        by_workspace.append(mine)
        plan.integrations.extend(mine)

    # The drill-down post the per-post benchmark reads: three targets, ten days old.
    anchor = (now - 10 * DAY, 0, by_workspace[0][:3])
    expected = sum(bisect.bisect_right(SCHEDULES[i.platform], 10 * DAY - 600) for i in anchor[2])
    posts: list[tuple[int, int, list[IntegrationPlan]]] = [anchor]
    weights = [share for _, share, _ in WORKSPACES]
    while expected < snapshots:
        published = now - int(rng.random() * SPAN_DAYS * DAY)
        workspace = rng.choices(range(len(WORKSPACES)), weights)[0]
        choices = by_workspace[workspace]
        count = min(len(choices), rng.choice((1, 1, 2, 2, 3)))
        chosen = rng.sample(choices, count)
        for integration in chosen:
            times = SCHEDULES[integration.platform]
            expected += bisect.bisect_right(times, now - published - 600)
        posts.append((published, workspace, chosen))
    posts.sort(key=lambda post: post[0])

    for published, workspace, chosen in posts:
        post_id = uuid7_hex(published * 1000, rng)
        if chosen is anchor[2] and published == anchor[0]:
            plan.drill_down_post = post_id
        source = "discovered" if rng.random() < 0.3 else "api"
        plan.posts.append((post_id, plan.workspaces[workspace][0], published, source))
        for integration in chosen:
            plan.targets.append(
                Target(
                    id=uuid7_hex(published * 1000, rng),
                    post_id=post_id,
                    workspace_id=integration.workspace_id,
                    integration_id=integration.id,
                    platform=integration.platform,
                    published=published,
                    first_read=published + rng.randint(10, 600),
                    reach=rng.lognormvariate(7.0, 1.3),
                    tau_seconds=rng.uniform(4, 36) * HOUR,
                    like_rate=rng.uniform(0.01, 0.06),
                    comment_ratio=rng.uniform(0.03, 0.15),
                    share_ratio=rng.uniform(0.02, 0.2),
                    times=SCHEDULES[integration.platform],
                )
            )
    return plan


def platform_data(platform: str, imp: int, likes: int, comments: int, shares: int) -> bytes:
    """Each platform's own counters, under its own names, as stored JSON."""
    if platform == "twitter":
        reposts = shares * 3 // 4
        data: dict[str, Any] = {
            "impression_count": imp,
            "like_count": likes,
            "reply_count": comments,
            "retweet_count": reposts,
            "quote_count": shares - reposts,
            "bookmark_count": likes // 12,
        }
    elif platform == "bluesky":
        data = {"likeCount": likes, "replyCount": comments, "repostCount": shares, "quoteCount": 0}
    elif platform == "mastodon":
        data = {"favourites_count": likes, "replies_count": comments, "reblogs_count": shares}
    elif platform in ("youtube", "tiktok", "instagram", "threads"):
        kind = "plays" if platform == "tiktok" else "views"
        data = {"views": imp, "likes": likes, "comments": comments, "impressions_kind": kind}
        if platform != "youtube":
            data["shares"] = shares
    else:
        data = {"impressions": imp, "reactions": likes, "comments": comments, "shares": shares}
    return orjson.dumps(data)


Row = tuple[str, str, str, str, int | None, int | None, int | None, int | None, str, str, str]


def readings(plan: Plan, time_suffix: str, rng: random.Random) -> Iterator[list[Row]]:
    """Every snapshot of ``plan``, one simulated UTC day at a time, in capture order.

    Rows are (id, workspace_id, integration_id, post_target_id, impressions, likes,
    comments, shares, platform_data, captured_at, capture_key) with ``captured_at`` as
    text: ``YYYY-MM-DD HH:MM:SS`` + ``time_suffix`` (SQLAlchemy's SQLite storage form is
    ``.000000``; PostgreSQL takes ``+00``). The capture key names the target's time slot.
    """
    targets = plan.targets
    if not targets:
        return
    day = targets[0].published - targets[0].published % DAY
    upcoming = 0
    active: list[Target] = []
    while day <= plan.now:
        end = min(day + DAY, plan.now + 1)
        while upcoming < len(targets) and targets[upcoming].published < end:
            active.append(targets[upcoming])
            upcoming += 1
        prefix = time.strftime("%Y-%m-%d", time.gmtime(day))
        batch: list[Row] = []
        still: list[Target] = []
        for target in active:
            _read_day(target, day, end, prefix, time_suffix, rng, batch)
            if target.done < len(target.times):
                still.append(target)
        active = still
        batch.sort(key=lambda row: (row[9], row[0]))
        yield batch
        day += DAY


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _read_day(
    target: Target,
    day: int,
    end: int,
    prefix: str,
    suffix: str,
    rng: random.Random,
    out: list[Row],
) -> None:
    """Append ``target``'s readings captured in [day, end) to ``out``."""
    times = target.times
    missing = NOT_REPORTED.get(target.platform, frozenset())
    no_impressions = "impressions" in missing
    no_shares = "shares" in missing
    random_float = rng.random
    while target.done < len(times):
        slot = target.first_read + times[target.done]
        at = target.next_at
        if at is None:
            at = target.next_at = slot + (int(random_float() * 241) if target.done else 0)
        if at >= end:
            return
        target.next_at = None
        latent = target.reach * (1.0 - math.exp((target.published - at) / target.tau_seconds))
        imp = int(latent)
        likes = int(latent * target.like_rate)
        comments = int(likes * target.comment_ratio)
        shares = int(likes * target.share_ratio)
        bits = rng.getrandbits(84)
        snapshot_id = uuid7_bits(at * 1000 + (bits >> 74) % 1000, bits)
        slot_key = (
            f"{prefix}T{_clock(slot - day)}Z"
            if slot >= day
            else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(slot))
        )
        out.append(
            (
                snapshot_id,
                target.workspace_id,
                target.integration_id,
                target.id,
                None if no_impressions else imp,
                likes,
                comments,
                None if no_shares else shares,
                platform_data(target.platform, imp, likes, comments, shares).decode(),
                f"{prefix} {_clock(at - day)}{suffix}",
                slot_key,
            )
        )
        target.previous, target.latest, target.latest_at = target.latest, snapshot_id, at
        target.done += 1


def _dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _uuid(hex_id: str) -> uuid.UUID:
    return uuid.UUID(hex=hex_id)


def _insert_small_tables(conn: Connection, plan: Plan) -> None:
    created = _dt(plan.now - (SPAN_DAYS + 20) * DAY)
    conn.execute(
        insert(Workspace),
        [
            {
                "id": _uuid(wid),
                "name": name,
                "timezone": "UTC",
                "mode": "live",
                "created_at": created,
            }
            for wid, name in plan.workspaces
        ],
    )
    conn.execute(
        insert(ApiKey),
        [
            {
                "id": uuid.uuid4(),
                "workspace_id": _uuid(wid),
                "name": "bench",
                "key_hash": hash_key(bench_key(index)),
                "last4": bench_key(index)[-4:],
                "created_at": created,
                "last_used_at": None,
                "revoked_at": None,
            }
            for index, (wid, _) in enumerate(plan.workspaces)
        ],
    )
    conn.execute(
        insert(Integration),
        [
            {
                "id": _uuid(i.id),
                "workspace_id": _uuid(i.workspace_id),
                "platform": i.platform,
                "external_account_id": str(int(i.id[-10:], 16)),
                "username": i.username,
                "display_name": i.username.replace("_", " ").title(),
                "status": "active",
                "synthetic": False,
                "credentials_encrypted": None,
                "analytics_enabled": True,
                "created_at": created,
            }
            for i in plan.integrations
        ],
    )
    conn.execute(
        insert(Post),
        [
            {
                "id": _uuid(pid),
                "workspace_id": _uuid(wid),
                "content": f"Benchmark post {n}: launch notes, a thread and a link to the blog.",
                "tags": ["bench", f"campaign-{n % 12}"],
                "status": "published",
                "source": source,
                "published_at": _dt(published),
                "created_at": _dt(published),
            }
            for n, (pid, wid, published, source) in enumerate(plan.posts)
        ],
    )
    usernames = {i.id: i.username for i in plan.integrations}
    conn.execute(
        insert(PostTarget),
        [
            {
                "id": _uuid(t.id),
                "workspace_id": _uuid(t.workspace_id),
                "post_id": _uuid(t.post_id),
                "integration_id": _uuid(t.integration_id),
                "status": "published",
                "platform_post_id": str(1_800_000_000_000_000_000 + n),
                "post_url": URLS[t.platform].format(
                    user=usernames[t.integration_id], pid=1_800_000_000_000_000_000 + n
                ),
                "published_at": _dt(t.published),
            }
            for n, t in enumerate(plan.targets)
        ],
    )


def _insert_refresh_states(conn: Connection, plan: Plan) -> None:
    rows = []
    for t in plan.targets:
        frozen = t.done >= len(t.times)
        next_due = None if frozen else _dt(t.first_read + t.times[t.done])
        last = _dt(t.latest_at) if t.latest_at is not None else None
        rows.append(
            {
                "post_target_id": _uuid(t.id),
                "workspace_id": _uuid(t.workspace_id),
                "last_attempt_at": last,
                "last_success_at": last,
                "next_due_at": next_due,
                "outcome": "frozen" if frozen else ("ok" if t.latest else "pending"),
                "error_code": None,
                "error_message": None,
                "consecutive_failures": 0,
                "latest_snapshot_id": _uuid(t.latest) if t.latest else None,
                "previous_snapshot_id": _uuid(t.previous) if t.previous else None,
            }
        )
    for start in range(0, len(rows), 20_000):
        conn.execute(insert(RefreshState), rows[start : start + 20_000])


SNAPSHOT_COLUMNS = (
    "id, workspace_id, integration_id, post_target_id, impressions, likes, comments, shares, "
    "platform_data, captured_at, capture_key"
)


def _write_snapshots_sqlite(db: BenchDatabase, plan: Plan, rng: random.Random) -> int:
    conn = sqlite3.connect(db.path, isolation_level=None)
    try:
        # Bulk-load settings for this connection only; the file returns to WAL below.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        insert = f"INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        written = 0
        pending = 0
        conn.execute("BEGIN")
        for batch in readings(plan, ".000000", rng):
            conn.executemany(insert, batch)
            written += len(batch)
            pending += len(batch)
            if pending >= 500_000:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                pending = 0
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return written


def _write_snapshots_postgresql(db: BenchDatabase, plan: Plan, rng: random.Random) -> int:
    written = 0
    with db.connect() as conn:
        conn.execute("SET synchronous_commit = off")
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY snapshots ({SNAPSHOT_COLUMNS}) FROM STDIN") as copy,
        ):
            for batch in readings(plan, "+00", rng):
                for row in batch:
                    copy.write_row(row)
                written += len(batch)
    return written


def schema_head() -> str:
    """The newest migration of the code being measured (a mismatch means: seed again)."""
    engine = make_engine("sqlite://")
    try:
        script = ScriptDirectory.from_config(alembic_config(engine))
        return ",".join(sorted(script.get_heads()))
    finally:
        engine.dispose()


def bring_schema_up_to_date(db: BenchDatabase, meta: Meta, say: Callable[[str], None]) -> Meta:
    """Migrate a database seeded by older code to this code's schema, as an operator would
    (``upgrade`` then ``ANALYZE``), rather than seeding it again."""
    head = schema_head()
    if meta.schema_revision == head:
        return meta
    started = time.perf_counter()
    engine = make_engine(db.url)
    try:
        upgrade(engine)
        _analyze(engine)
    finally:
        engine.dispose()
    say(f"  migrated {db.name} to {head} in {time.perf_counter() - started:.1f} s")
    meta.schema_revision = head
    db.write_meta(meta)
    return meta


def _analyze(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def seed(db: BenchDatabase, *, say: Callable[[str], None] = print, now: int | None = None) -> Meta:
    """Create ``db`` afresh and fill it with about ``db.snapshots`` snapshots."""
    started = time.perf_counter()
    now = now if now is not None else int(time.time())
    rng = random.Random(SEED + db.snapshots)
    plan = make_plan(db.snapshots, now, rng)
    say(f"seeding {db.engine} {db.name}: {len(plan.posts):,} posts, {len(plan.targets):,} targets")

    db.create_empty()
    engine = make_engine(db.url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            _insert_small_tables(conn, plan)
    finally:
        engine.dispose()

    write = _write_snapshots_sqlite if db.engine == "sqlite" else _write_snapshots_postgresql
    written = write(db, plan, rng)
    say(f"  {written:,} snapshots in {time.perf_counter() - started:.1f} s")

    engine = make_engine(db.url)
    try:
        with engine.begin() as conn:
            _insert_refresh_states(conn, plan)
        _analyze(engine)
    finally:
        engine.dispose()

    seconds = time.perf_counter() - started
    say(f"  done in {seconds:.1f} s ({written / seconds:,.0f} snapshots/s overall)")
    meta = Meta(
        engine=db.engine,
        requested=db.snapshots,
        snapshots=written,
        seeded_at=_dt(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed_seconds=round(seconds, 1),
        rows={
            "workspaces": len(plan.workspaces),
            "integrations": len(plan.integrations),
            "posts": len(plan.posts),
            "post_targets": len(plan.targets),
            "snapshots": written,
        },
        workspace_id=plan.workspaces[0][0],
        api_key=bench_key(0),
        integration_id=_filtered_integration(plan),
        post_id=str(_uuid(plan.drill_down_post)),
        other_keys=[bench_key(i) for i in range(1, len(plan.workspaces))],
        schema_revision=schema_head(),
    )
    db.write_meta(meta)
    return meta


def _filtered_integration(plan: Plan) -> str:
    """The benchmarked workspace's integration with the fewest snapshots in the last 30
    days (but some): the most selective ``integration_id`` filter."""
    workspace = plan.workspaces[0][0]
    since = plan.now - 30 * DAY
    counts = {i.id: 0 for i in plan.integrations if i.workspace_id == workspace}
    for t in plan.targets:
        if t.integration_id in counts:
            counts[t.integration_id] += sum(
                1 for offset in t.times[: t.done] if t.first_read + offset >= since
            )
    present = [key for key, count in counts.items() if count]
    return str(_uuid(min(present, key=lambda key: (counts[key], key))))
