"""X's wire format, for the fake: problem bodies, ``errors[]`` entries, parameter checks
and pagination tokens. Shapes follow ``reference/platform-apis.md`` §1; messages are ours."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from openpost.platforms.x.fake import FakePost

PROBLEMS = "https://api.twitter.com/2/problems/"
ID = re.compile(r"^[0-9]{1,19}$")
EXPANSION_PARAMS = {"expansions", "media.fields", "place.fields", "poll.fields", "user.fields"}
TIMELINE_PARAMS = {
    "max_results", "pagination_token", "since_id", "until_id", "start_time", "end_time",
    "exclude", "tweet.fields",
}  # fmt: skip
TWEET_FIELDS = {
    "attachments", "author_id", "card_uri", "context_annotations", "conversation_id",
    "created_at", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
    "reply_settings", "source", "text", "withheld",
}  # fmt: skip


def invalid(parameter: str, value: str, message: str) -> tuple[int, Any]:
    return 400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }


def not_valid(parameter: str, value: str) -> str:
    return f"The `{parameter}` query parameter value [{value}] is not valid"


def unknown_params(params: dict[str, str], allowed: set[str]) -> tuple[int, Any] | None:
    for name in params:
        if name not in allowed:
            message = f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]"
            return invalid(name, params[name], message)
    return None


def bad_fields(params: dict[str, str]) -> tuple[int, Any] | None:
    for value in params.get("tweet.fields", "").split(","):
        if value and value not in TWEET_FIELDS:
            message = f"The `tweet.fields` query parameter value [{value}] is not one of "
            return invalid("tweet.fields", value, message + f"[{','.join(sorted(TWEET_FIELDS))}]")
    return None


def error_entry(
    value: str, resource_type: str, parameter: str, title: str, detail: str, kind: str
) -> dict[str, Any]:
    return {
        "value": value,
        "detail": detail,
        "title": title,
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + kind,
    }


def not_found(value: str, resource_type: str, parameter: str, detail: str) -> dict[str, Any]:
    return error_entry(
        value, resource_type, parameter, "Not Found Error", detail, "resource-not-found"
    )


def suspended(value: str, resource_type: str, parameter: str, username: str) -> dict[str, Any]:
    detail = f"User has been suspended: [{username}]."
    return error_entry(value, resource_type, parameter, "Forbidden", detail, "resource-not-found")


def not_authorized(value: str, resource_type: str, parameter: str, detail: str) -> dict[str, Any]:
    kind = "not-authorized-for-resource"
    return error_entry(value, resource_type, parameter, "Authorization Error", detail, kind)


def fault_response(kind: str, *, status: int, period: str) -> Response:
    """The body X sends for each fault a test can inject."""
    if kind == "credits_depleted":
        body = {"title": "Payment Required", "detail": "credits depleted"}
        body["type"] = "https://api.x.com/2/problems/credits-depleted"
        return JSONResponse(body, status_code=402)
    if kind == "usage_capped":
        capped: dict[str, Any] = {"account_id": 1, "product_name": "standard-basic"}
        capped |= {"title": "UsageCapExceeded", "period": period, "scope": "Product"}
        capped["detail"] = f"Usage cap exceeded: {period} product cap"
        capped["type"] = PROBLEMS + "usage-capped"
        return JSONResponse(capped, status_code=429)
    if kind == "server_error":
        return problem(status, "Service Unavailable" if status == 503 else "Internal Server Error")
    if kind == "forbidden":
        body = {
            "title": "Client Forbidden",
            "detail": "This app is not enrolled for access to this endpoint.",
            "reason": "client-not-enrolled",
            "type": PROBLEMS + "client-forbidden",
        }
        return JSONResponse(body, status_code=403)
    if kind == "not_json":
        html = "<html><body><h1>Over capacity</h1></body></html>"
        return Response(html, status_code=200, media_type="text/html")
    return JSONResponse({"data": {"unexpected": True}}, status_code=200)  # wrong_shape


def encode_token(before_id: int) -> str:
    return base64.b32encode(f"before:{before_id}".encode()).decode().lower().rstrip("=")


def decode_token(token: str) -> int | None:
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        text = base64.b32decode(padded).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "before" and number.isdigit() else None


def time_param(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def field_forbidden(post_id: str, field: str) -> dict[str, Any]:
    """A private field asked for a post the caller may not see it on (not the owner, or the
    post is older than 30 days); X then leaves the post out of ``data``."""
    return {
        "value": post_id,
        "detail": f"Sorry, you are not authorized to access '{field}' on a Tweet.",
        "title": "Field Authorization Error",
        "resource_type": "tweet",
        "parameter": field,
        "resource_id": post_id,
        "field": field,
        "section": "data",
        "type": PROBLEMS + "not-authorized-for-field",
    }


def problem(status: int, title: str, *, headers: dict[str, str] | None = None) -> Response:
    """X's bare problem body (401, 429 rate limit, 5xx)."""
    body = {"title": title, "detail": title, "type": "about:blank", "status": status}
    return JSONResponse(body, status_code=status, headers=headers)


def render_post(post: FakePost, fields: Set[str]) -> dict[str, Any]:
    """A post as X writes it: id, text and edit history always, the rest when asked."""
    rendered: dict[str, Any] = {
        "id": post.id,
        "text": post.text,
        "edit_history_tweet_ids": [post.id],
    }
    if "created_at" in fields:
        created = post.created_at.astimezone(UTC)
        rendered["created_at"] = created.strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{created.microsecond // 1000:03d}Z"
        )
    if "author_id" in fields:
        rendered["author_id"] = post.author_id
    if "public_metrics" in fields:
        # No copy: the answer is serialised before the fake's state can change again.
        rendered["public_metrics"] = post.public_metrics
    if "non_public_metrics" in fields:
        rendered["non_public_metrics"] = post.non_public_metrics
    if "attachments" in fields and post.media:
        rendered["attachments"] = {"media_keys": [m.media_key for m in post.media]}
    if "organic_metrics" in fields:
        public, private = post.public_metrics, post.non_public_metrics
        names = ("like_count", "reply_count", "retweet_count")
        organic = {k: public.get(k) for k in names} if isinstance(public, dict) else {}
        rendered["organic_metrics"] = {**private, **organic}
    return rendered


MEDIA_FIELDS = {
    "alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
    "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width",
}  # fmt: skip


def included_media(posts: Sequence[FakePost], params: dict[str, str]) -> list[dict[str, Any]]:
    """``includes.media`` for ``expansions=attachments.media_keys``: each attached media once,
    with ``media_key`` and ``type`` always and the asked ``media.fields`` (a photo has
    ``url``, a video or GIF ``preview_image_url``)."""
    if "attachments.media_keys" not in params.get("expansions", "").split(","):
        return []
    asked = set(params.get("media.fields", "").split(",")) & MEDIA_FIELDS
    seen: dict[str, dict[str, Any]] = {}
    for post in posts:
        for media in post.media:
            entry: dict[str, Any] = {"media_key": media.media_key, "type": media.type}
            if media.type == "photo" and "url" in asked:
                entry["url"] = media.url
            if media.type != "photo" and "preview_image_url" in asked:
                entry["preview_image_url"] = media.url
            seen.setdefault(media.media_key, entry)
    return list(seen.values())


@dataclass(frozen=True)
class TimelineQuery:
    """The checked parameters of ``GET /2/users/:id/tweets``."""

    max_results: int
    excluded: frozenset[str]  # post kinds left out: "retweet", "reply"
    fields: frozenset[str]
    since_id: int | None
    until_id: int | None
    before: int | None  # from the pagination token
    start: datetime | None
    end: datetime | None

    def matches(self, post_id: int, kind: str, created_at: datetime) -> bool:
        return (
            kind not in self.excluded
            and (self.since_id is None or post_id > self.since_id)
            and (self.until_id is None or post_id < self.until_id)
            and (self.before is None or post_id < self.before)
            and (self.start is None or created_at >= self.start)
            and (self.end is None or created_at < self.end)
        )


def timeline_query(user_id: str, params: dict[str, str]) -> TimelineQuery | tuple[int, Any]:
    """The timeline's parameters checked as X checks them, or X's 400 answer."""
    if problem := unknown_params(params, TIMELINE_PARAMS | EXPANSION_PARAMS) or bad_fields(params):
        return problem
    if not ID.match(user_id):
        return invalid("id", user_id, not_valid("id", user_id))
    for name in ("since_id", "until_id"):
        if name in params and not ID.match(params[name]):
            return invalid(name, params[name], not_valid(name, params[name]))
    raw = params.get("max_results", "10")
    max_results = int(raw) if raw.isdigit() else -1
    if not 5 <= max_results <= 100:
        message = f"The `max_results` query parameter value [{raw}] is not between 5 and 100"
        return invalid("max_results", raw, message)
    exclude = {v for v in params.get("exclude", "").split(",") if v}
    if not exclude <= {"retweets", "replies"}:
        message = "The `exclude` query parameter value is not one of [retweets,replies]"
        return invalid("exclude", params["exclude"], message)
    before = None
    if "pagination_token" in params:
        before = decode_token(params["pagination_token"])
        if before is None:
            token = params["pagination_token"]
            return invalid("pagination_token", token, not_valid("pagination_token", token))
    times: dict[str, datetime | None] = {}
    for name in ("start_time", "end_time"):
        times[name] = time_param(params.get(name))
        if name in params and times[name] is None:
            return invalid(name, params[name], not_valid(name, params[name]))
    return TimelineQuery(
        max_results=max_results,
        excluded=frozenset({"retweets": "retweet", "replies": "reply"}[e] for e in exclude),
        fields=frozenset(params.get("tweet.fields", "").split(",")),
        since_id=int(params["since_id"]) if "since_id" in params else None,
        until_id=int(params["until_id"]) if "until_id" in params else None,
        before=before,
        start=times["start_time"],
        end=times["end_time"],
    )
