"""A faithful fake of the Bluesky AppView endpoints OpenPost reads.

XRPC methods (all ``GET /xrpc/<nsid>``): ``com.atproto.identity.resolveHandle``,
``app.bsky.actor.getProfile``, ``app.bsky.feed.getPosts`` and
``app.bsky.feed.getAuthorFeed``, with the lexicons' shapes (``postView`` with ``uri``,
``cid``, ``author``, ``record``, the counts and ``indexedAt``; ``feedViewPost`` with
``reason`` for reposts and ``reply`` refs), the AppView's behaviour where a client must
handle it (``getPosts`` silently leaves out deleted or unknown posts and does not resolve
handles inside URIs; the author feed is ordered by time with a ``<ms>::<cid>`` cursor and
its ``filter`` values; a page may come back with fewer items than asked), its error bodies
(``{"error": "InvalidRequest", "message": "Profile not found"}``, ``AccountTakedown``,
``AccountDeactivated``, ``RateLimitExceeded``), and ``ratelimit-*`` headers (which the real
AppView may omit: ``rate_headers=False``).

Tests drive a ``FakeBluesky``: add accounts, posts, replies and reposts, change counters (or
put anything in them), delete posts, take accounts down, lower the rate limit, and
``inject`` faults (5xx, slow, non-JSON or wrong-shaped bodies). ``requests`` logs every
call for counting.

Run it as a server: ``python -m openpost.platforms.bluesky.fake --port 8082 --seed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpost.core import clock
from openpost.platforms.bluesky import fake_wire as wire
from openpost.platforms.fakes import base
from openpost.platforms.fakes.base import Fault

RESOLVE_HANDLE = "com.atproto.identity.resolveHandle"
GET_PROFILE = "app.bsky.actor.getProfile"
GET_POSTS = "app.bsky.feed.getPosts"
GET_AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
GET_PROFILES = "app.bsky.actor.getProfiles"
METHODS = (RESOLVE_HANDLE, GET_PROFILE, GET_POSTS, GET_AUTHOR_FEED, GET_PROFILES)
MAX_URIS = 25
MAX_ACTORS = 25
DEFAULT_RATE_LIMIT = 3000  # the PDS figure; the AppView publishes none
WINDOW = timedelta(minutes=5)

FaultKind = Literal["server_error", "not_json", "wrong_shape", "slow"]


@dataclass
class FakeActor:
    did: str
    handle: str
    display_name: str
    created_at: datetime
    followers: int = 0
    follows: int = 12
    deactivated: bool = False
    takendown: bool = False


@dataclass
class FakePost:
    uri: str
    cid: str
    author_did: str
    rkey: str
    text: str
    created_at: datetime
    indexed_at: datetime
    reply_parent: str | None = None
    reply_root: str | None = None
    # The AppView's counts, by their lexicon names. Tests may put anything in here (a
    # string, a missing key) to make the fake answer with a malformed post.
    counts: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class FakeRepost:
    uri: str
    cid: str
    by_did: str
    subject_uri: str
    created_at: datetime


@dataclass(frozen=True)
class RecordedRequest(base.RecordedRequest[dict[str, list[str]]]):
    """``endpoint`` is the XRPC method's NSID."""


class FakeBluesky(base.FakePlatform[str, FaultKind, RecordedRequest]):
    """The fake's whole state; ``app`` serves it, ``transport()`` reaches it in-process."""

    def __init__(self, *, now: Callable[[], datetime] = clock.now) -> None:
        self.actors: dict[str, FakeActor] = {}
        self.posts: dict[str, FakePost] = {}
        self.reposts: list[FakeRepost] = []
        self.rate_limit = DEFAULT_RATE_LIMIT
        self.rate_headers = True
        self._window = base.RateWindows[None](WINDOW, whole_seconds=True)
        self._clock_ids = itertools.count(1)
        super().__init__(now=now)

    # ---- arranging -------------------------------------------------------------------

    def add_account(
        self, handle: str, *, display_name: str | None = None, did: str | None = None
    ) -> FakeActor:
        with self._lock:
            joined = datetime(2023, 5, 1, tzinfo=UTC) + timedelta(days=len(self.actors))
            actor = FakeActor(
                did=did or wire.did_for(handle),
                handle=handle.lower(),
                display_name=display_name if display_name is not None else handle.split(".")[0],
                created_at=joined,
            )
            self.actors[actor.did] = actor
            return actor

    def add_post(
        self,
        actor: FakeActor,
        *,
        text: str = "",
        created_at: datetime | None = None,
        rkey: str | None = None,
        reply_to: FakePost | None = None,
        likes: int = 0,
        reposts: int = 0,
        replies: int = 0,
        quotes: int = 0,
        bookmarks: int | None = 0,
    ) -> FakePost:
        with self._lock:
            when = created_at or self._now()
            key = rkey or wire.tid(when, next(self._clock_ids))
            uri = f"at://{actor.did}/{wire.POST}/{key}"
            counts: dict[str, Any] = {
                "replyCount": replies,
                "repostCount": reposts,
                "likeCount": likes,
                "quoteCount": quotes,
            }
            if bookmarks is not None:
                counts["bookmarkCount"] = bookmarks
            post = FakePost(
                uri=uri,
                cid=wire.cid_for(uri),
                author_did=actor.did,
                rkey=key,
                text=text or f"post {len(self.posts) + 1} by {actor.handle}",
                created_at=when,
                indexed_at=when + timedelta(milliseconds=850),
                reply_parent=reply_to.uri if reply_to else None,
                reply_root=(reply_to.reply_root or reply_to.uri) if reply_to else None,
                counts=counts,
            )
            self.posts[uri] = post
            return post

    def repost(
        self, actor: FakeActor, post: FakePost, *, created_at: datetime | None = None
    ) -> FakeRepost:
        with self._lock:
            when = created_at or self._now()
            uri = f"at://{actor.did}/{wire.REPOST}/{wire.tid(when, next(self._clock_ids))}"
            made = FakeRepost(uri, wire.cid_for(uri), actor.did, post.uri, when)
            self.reposts.append(made)
            return made

    def set_counts(self, uri: str, **counts: Any) -> None:
        """Change a post's counts by their lexicon names (``likeCount=5``)."""
        with self._lock:
            self.posts[uri].counts.update(counts)

    def delete_post(self, uri: str) -> None:
        with self._lock:
            self.posts[uri].deleted = True

    def set_rate_limit(self, limit: int) -> None:
        """Requests allowed per 5-minute window; a new window starts with the next call."""
        with self._lock:
            self.rate_limit = limit
            self._window.forget()

    # ---- serving -----------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [base.route("/xrpc/{nsid}", self.handle)]

    def _not_found(self) -> Response:
        return JSONResponse({"error": "NotFound", "message": "Not Found"}, status_code=404)

    async def handle(self, request: Request) -> Response:
        endpoint = request.path_params["nsid"]
        params = base.query_lists(request)

        def answer(fault: Fault[FaultKind, str] | None) -> tuple[Response, RecordedRequest]:
            response = self._answer(endpoint, params, fault)
            path, status = request.url.path, response.status_code
            return response, RecordedRequest(endpoint, path, params, status)

        return await self._serve(endpoint if endpoint in METHODS else None, answer)

    def _answer(
        self, endpoint: str, params: dict[str, list[str]], fault: Fault[FaultKind, str] | None
    ) -> Response:
        if endpoint not in METHODS:
            return wire.xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
        if fault is not None and fault.fails:
            return wire.fault_response(fault.kind, status=fault.status)
        window, allowed = self._window.spend(None, self.rate_limit, self._now())
        headers: dict[str, str] = {}
        if self.rate_headers:
            headers = {
                "ratelimit-limit": str(window.limit),
                "ratelimit-remaining": str(window.remaining),
                "ratelimit-reset": str(window.reset_epoch),
                "ratelimit-policy": f"{window.limit};w={int(WINDOW.total_seconds())}",
            }
        if not allowed:
            return wire.xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        if endpoint == RESOLVE_HANDLE:
            status, payload = self._resolve_handle(params)
        elif endpoint == GET_PROFILE:
            status, payload = self._get_profile(params)
        elif endpoint == GET_POSTS:
            status, payload = self._get_posts(params)
        elif endpoint == GET_PROFILES:
            status, payload = self._get_profiles(params)
        else:
            status, payload = self._get_author_feed(params)
        return JSONResponse(payload, status_code=status, headers=headers)

    def _actor(self, identifier: str) -> FakeActor | None:
        if identifier.startswith("did:"):
            return self.actors.get(identifier)
        lowered = identifier.lower()
        return next((a for a in self.actors.values() if a.handle == lowered), None)

    def _visible(self, actor: FakeActor | None) -> bool:
        return actor is not None and not actor.takendown and not actor.deactivated

    def _resolve_handle(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        handle = _one(params, "handle")
        if handle is None:
            return wire.invalid('Error: Params must have the property "handle"')
        if not wire.HANDLE.match(handle):
            return wire.invalid("Error: handle must be a valid handle")
        actor = self._actor(handle)
        if actor is None or actor.takendown:
            return wire.invalid("Unable to resolve handle")
        return 200, {"did": actor.did}

    def _get_profile(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        identifier = _actor_param(params)
        if isinstance(identifier, tuple):
            return identifier
        actor = self._actor(identifier)
        if actor is None:
            return wire.invalid("Profile not found")
        if actor.takendown:
            return 400, {"error": "AccountTakedown", "message": "Account has been suspended"}
        if actor.deactivated:
            return 400, {"error": "AccountDeactivated", "message": "Account is deactivated"}
        count = sum(p.author_did == actor.did and not p.deleted for p in self.posts.values())
        return 200, wire.profile_detailed(actor, posts=count, indexed_at=self._now())

    def _get_profiles(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        """``getProfiles?actors=…&actors=…`` (1 to 25 DIDs or handles): the detailed views
        of those that exist and are visible; the others are left out, as the AppView does."""
        actors = params.get("actors", [])
        if not actors:
            return wire.invalid('Error: Params must have the property "actors"')
        if len(actors) > MAX_ACTORS:
            return wire.invalid(f"Error: actors must not have more than {MAX_ACTORS} elements")
        for identifier in actors:
            if not (wire.HANDLE.match(identifier) or wire.DID.match(identifier)):
                return wire.invalid("Error: actors/0 must be a valid did or a handle")
        profiles = []
        for identifier in dict.fromkeys(actors):
            actor = self._actor(identifier)
            if actor is None or not self._visible(actor):
                continue
            count = sum(p.author_did == actor.did and not p.deleted for p in self.posts.values())
            profiles.append(wire.profile_detailed(actor, posts=count, indexed_at=self._now()))
        return 200, {"profiles": profiles}

    def _get_posts(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        uris = params.get("uris", [])
        if not uris:
            return wire.invalid('Error: Params must have the property "uris"')
        if len(uris) > MAX_URIS:
            return wire.invalid(f"Error: uris must not have more than {MAX_URIS} elements")
        for index, uri in enumerate(uris):
            if not wire.valid_at_uri(uri):
                return wire.invalid(f"Error: uris/{index} must be a valid at-uri")
        views = []
        for uri in dict.fromkeys(uris):
            view = self._view(uri)  # a handle inside the URI finds nothing, as on the AppView
            if view is not None:
                views.append(view)
        return 200, {"posts": views}

    def _view(self, uri: str) -> dict[str, Any] | None:
        post = self.posts.get(uri)
        if post is None or post.deleted:
            return None
        author = self.actors.get(post.author_did)
        if author is None or not self._visible(author):
            return None
        return wire.post_view(post, author, self.posts)

    def _get_author_feed(self, params: dict[str, list[str]]) -> tuple[int, Any]:
        identifier = _actor_param(params)
        if isinstance(identifier, tuple):
            return identifier
        raw_limit = _one(params, "limit") or "50"
        try:
            limit = int(raw_limit)
        except ValueError:
            return wire.invalid("Error: limit must be an integer")
        if limit < 1:
            return wire.invalid("Error: limit can not be less than 1")
        if limit > 100:
            return wire.invalid("Error: limit can not be greater than 100")
        actor = self._actor(identifier)
        if actor is None or not self._visible(actor):
            return wire.invalid("Profile not found")
        feed_filter = _one(params, "filter") or "posts_with_replies"
        cursor = _one(params, "cursor")
        after = wire.decode_cursor(cursor) if cursor else None
        if cursor and after is None:
            return 200, {"feed": []}  # a clearly bad cursor: an empty page
        items = self._feed_items(actor, feed_filter)
        if after is not None:
            items = [i for i in items if (_ms(i[0]), i[1]) < after]
        page = items[:limit]
        feed = [item[2]() for item in page]
        payload: dict[str, Any] = {"feed": feed}
        if len(page) == limit:
            payload["cursor"] = wire.encode_cursor(page[-1][0], page[-1][1])
        return 200, payload

    def _feed_items(
        self, actor: FakeActor, feed_filter: str
    ) -> list[tuple[datetime, str, Callable[[], dict[str, Any]]]]:
        """(sort time, cid, render) for the actor's feed, newest first."""
        items: list[tuple[datetime, str, Callable[[], dict[str, Any]]]] = []
        own_only = feed_filter in ("posts_with_media", "posts_with_video")
        for post in self.posts.values():
            if post.author_did != actor.did or post.deleted:
                continue
            if post.reply_parent is not None:
                root = self.posts.get(post.reply_root or post.reply_parent)
                self_thread = root is not None and root.author_did == actor.did
                if feed_filter == "posts_no_replies" or own_only:
                    continue
                if feed_filter == "posts_and_author_threads" and not self_thread:
                    continue
            sort_at = min(post.created_at, post.indexed_at)
            items.append((sort_at, post.cid, self._renderer(post.uri)))
        if not own_only:
            for repost in self.reposts:
                subject = self.posts.get(repost.subject_uri)
                if repost.by_did != actor.did or subject is None or subject.deleted:
                    continue
                items.append((repost.created_at, repost.cid, self._renderer(subject.uri, repost)))
        items.sort(key=lambda i: (_ms(i[0]), i[1]), reverse=True)
        return items

    def _renderer(self, uri: str, repost: FakeRepost | None = None) -> Callable[[], dict[str, Any]]:
        def render() -> dict[str, Any]:
            view = self._view(uri)
            assert view is not None
            item: dict[str, Any] = {"post": view}
            post = self.posts[uri]
            if post.reply_parent is not None:
                root_uri = post.reply_root or post.reply_parent
                item["reply"] = {
                    "root": wire.reply_ref(root_uri, self._view(root_uri)),
                    "parent": wire.reply_ref(post.reply_parent, self._view(post.reply_parent)),
                }
            if repost is not None:
                item["reason"] = wire.reason_repost(repost, self.actors[repost.by_did])
            return item

        return render


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _actor_param(params: dict[str, list[str]]) -> str | tuple[int, Any]:
    """The ``actor`` parameter, or the AppView's 400 when it is missing or malformed."""
    identifier = _one(params, "actor")
    if identifier is None:
        return wire.invalid('Error: Params must have the property "actor"')
    if not (wire.HANDLE.match(identifier) or wire.DID.match(identifier)):
        return wire.invalid("Error: actor must be a valid did or a handle")
    return identifier


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# ---- running it as a server ---------------------------------------------------------------


def seed(state: FakeBluesky, *, posts: int = 60) -> FakeActor:
    """A small, deterministic world: ``openpost.bsky.social`` with ``posts`` posts (one every
    4 hours, newest first), one self-thread reply, a reply to a friend, a repost of the
    friend's post, a deleted post, and a taken-down account."""
    account = state.add_account("openpost.bsky.social", display_name="OpenPost")
    friend = state.add_account("friend.bsky.social", display_name="Friend")
    now = state.now()
    theirs = state.add_post(friend, text="a friend's post", created_at=now - timedelta(hours=30))
    made: list[FakePost] = []
    for n in range(posts):
        reach = 3000 // (n + 1) + 25 * (posts - n)
        made.append(
            state.add_post(
                account,
                text=f"Seeded post #{posts - n}",
                created_at=now - timedelta(hours=4 * n + 1),
                likes=reach // 20,
                reposts=reach // 150,
                replies=reach // 300,
                quotes=reach // 900,
                bookmarks=reach // 600,
            )
        )
    if made:
        state.add_post(
            account,
            text="a thread continues",
            reply_to=made[-1],
            created_at=now - timedelta(hours=2),
        )
        gone = state.add_post(account, text="deleted later", created_at=now - timedelta(hours=3))
        state.delete_post(gone.uri)
    state.add_post(
        account, text="@friend agreed", reply_to=theirs, created_at=now - timedelta(hours=5)
    )
    state.repost(account, theirs, created_at=now - timedelta(hours=6))
    banned = state.add_account("banned.bsky.social", display_name="Banned")
    state.add_post(banned, text="before the takedown", created_at=now - timedelta(hours=7))
    banned.takendown = True
    return account


def main(argv: list[str] | None = None) -> None:
    parser = base.server_arguments(
        "Run the fake Bluesky AppView server.", port=8082, seed_help="create openpost.bsky.social"
    )
    args = parser.parse_args(argv)
    state = FakeBluesky()
    if args.seed:
        seed(state, posts=args.seed_posts)
    base.run_server(state.app, args, "fake Bluesky AppView")


if __name__ == "__main__":
    main()
