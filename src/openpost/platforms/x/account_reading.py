"""X users lookup for account reads (SPEC §9.4): ``GET /2/users?ids=…`` (up to 100 ids,
``user.fields=public_metrics``). followers = ``followers_count``, following =
``following_count``, posts = ``tweet_count``; ``platform_data`` keeps every public counter X
sent under its own name (``listed_count``, ``like_count``, …). An id X reports "Not Found"
is missing; a suspended or hidden account fails alone; a user whose counters are not
non-negative integers fails alone with ``MalformedResponse`` (never a guessed number)."""

from __future__ import annotations

from typing import Any

from openpost.platforms.base import (
    AccountBatch,
    AccountReading,
    MalformedResponse,
    NotFound,
    PermissionRequired,
)
from openpost.platforms.x.reading import error_id, is_counter, malformed, problem

USERS_BATCH = 100
USER_FIELDS = "public_metrics"
COUNTERS = {"followers": "followers_count", "following": "following_count", "posts": "tweet_count"}


def user_reading(item: dict[str, Any]) -> AccountReading:
    public = item.get("public_metrics")
    if not isinstance(public, dict):
        raise malformed("X's answer has no public_metrics for this user")
    values: dict[str, int] = {}
    for field, name in COUNTERS.items():
        value = public.get(name)
        if not isinstance(value, int) or not is_counter(value):
            raise malformed(f"X's {name} for this user is missing or not a counter")
        values[field] = value
    data = {k: v for k, v in public.items() if is_counter(v)}
    return AccountReading(
        external_account_id=str(item["id"]),
        followers=values["followers"],
        following=values["following"],
        posts=values["posts"],
        platform_data=data,
    )


def users_batch(body: dict[str, Any], ids: list[str], into: AccountBatch) -> None:
    """Fill ``into`` from one users-lookup answer."""
    data = body.get("data", [])
    errors = body.get("errors", [])
    if not isinstance(data, list) or not isinstance(errors, list):
        raise malformed("X's users lookup answer has no list of users")
    wanted = set(ids)
    for item in data:
        user_id = item.get("id") if isinstance(item, dict) else None
        if user_id not in wanted:
            continue
        try:
            into.readings[user_id] = user_reading(item)
        except MalformedResponse as exc:  # this user alone fails
            into.errors[user_id] = exc
    for entry in errors:
        user_id = error_id(entry)
        if user_id not in wanted or user_id in into.readings:
            continue
        kind = problem(entry)
        if kind == "not_found":
            into.missing.add(user_id)
        elif kind == "suspended":
            into.errors[user_id] = NotFound("X reports this account suspended", code="x_suspended")
        else:
            into.errors[user_id] = PermissionRequired(
                "X does not show this account's counters", code="x_not_authorized"
            )
    for user_id in ids:
        if user_id not in into.readings and user_id not in into.missing:
            into.errors.setdefault(user_id, malformed("X's answer left this account out"))
