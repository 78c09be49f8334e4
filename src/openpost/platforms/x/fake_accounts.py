"""The fake X's users lookup, ``GET /2/users?ids=…`` (account reads, SPEC §9.4): 1 to 100
comma-separated ids (400 "Invalid Request" otherwise, as X answers), ``user.fields``
selecting ``public_metrics`` (``followers_count``, ``following_count``, ``tweet_count``,
``listed_count``, ``like_count``), a "Not Found Error" entry in ``errors[]`` for an unknown
id and a suspension entry for a suspended account, beside the users found in ``data``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openpost.platforms.x import fake_wire as wire

if TYPE_CHECKING:
    from openpost.platforms.x.fake import FakeX

USERS_PARAMS = {"ids", "user.fields", "expansions", "tweet.fields"}


def users_lookup(fake: FakeX, params: dict[str, str]) -> tuple[int, Any]:
    if problem := wire.unknown_params(params, USERS_PARAMS):
        return problem
    raw = params.get("ids", "")
    if not raw:
        return wire.invalid("ids", "", "The `ids` query parameter can not be empty")
    ids = raw.split(",")
    if not 1 <= len(ids) <= 100:
        message = f"The number of values in the `ids` query parameter list [{len(ids)}] "
        return wire.invalid("ids", raw, message + "is not between 1 and 100")
    for user_id in ids:
        if not wire.ID.match(user_id):
            return wire.invalid("ids", user_id, wire.not_valid("ids", user_id))
    fields = set(params.get("user.fields", "").split(","))
    data, errors = [], []
    for user_id in dict.fromkeys(ids):
        account = fake.accounts.get(user_id)
        if account is None:
            detail = f"Could not find user with ids: [{user_id}]."
            errors.append(wire.not_found(user_id, "user", "ids", detail))
            continue
        if account.suspended:
            errors.append(wire.suspended(user_id, "user", "ids", account.username))
            continue
        item: dict[str, Any] = {"id": account.id, "name": account.name}
        item["username"] = account.username
        if "public_metrics" in fields:
            item["public_metrics"] = dict(account.public_metrics)
        if "protected" in fields:
            item["protected"] = account.protected
        data.append(item)
    payload: dict[str, Any] = {}
    if data:
        payload["data"] = data
    if errors:
        payload["errors"] = errors
    return 200, payload
