"""The OpenAPI document as the server really behaves, built once per app.

FastAPI's own document is close; this pass makes it exact, so that a client or a fuzzer
driven by the document sends only what the server accepts and can check every answer:

- no 422 anywhere: validation failures here are 400s with ``{"error": …}``;
- a query, path or header parameter is never ``null`` (HTTP cannot send one), so the
  ``anyOf [T, null]`` of an optional parameter becomes ``T``;
- a string in a request body never holds NUL (``deps.require_json`` refuses it: PostgreSQL
  text cannot store one), so each string there without a pattern of its own gets one;
- every ``/v1`` answer lists the headers it carries: ``RateLimit-*`` once the key is known,
  ``WWW-Authenticate`` on a 401, ``Retry-After`` (and ``RateLimit-*``) on a 429.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_COUNT = {"type": "integer", "minimum": 0}
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {
        "description": "Requests allowed per window for this key",
        "schema": _COUNT,
    },
    "RateLimit-Remaining": {"description": "Requests left in this window", "schema": _COUNT},
    "RateLimit-Reset": {"description": "Seconds until the window resets", "schema": _COUNT},
}
WWW_AUTHENTICATE = {
    "description": "The scheme to use: `Bearer`",
    "required": True,
    "schema": {"type": "string", "enum": ["Bearer"]},
}
RETRY_AFTER = {
    "description": "Seconds to wait before the next request",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def build(app: FastAPI) -> dict[str, Any]:
    """The document served at /openapi.json (cached on the app: build it once)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, item in document.get("paths", {}).items():
            for operation in item.values():
                _exact_operation(operation, api=path == "/v1" or path.startswith("/v1/"))
        schemas = document.get("components", {}).get("schemas", {})
        for name in _request_body_schemas(document):
            _no_nul(schemas[name])
        for name in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


def _exact_operation(operation: dict[str, Any], *, api: bool) -> None:
    responses: dict[str, Any] = operation.get("responses", {})
    responses.pop("422", None)
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _not_null(parameter.get("schema", {}))
    if not api:
        return
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        if status == "401":  # the key is unknown: nothing was counted
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        elif status == "429":
            headers["Retry-After"] = RETRY_AFTER
            headers.update(
                {name: {**h, "required": True} for name, h in RATE_LIMIT_HEADERS.items()}
            )
        elif status != "413":  # refused before the key is read
            headers.update(RATE_LIMIT_HEADERS)
        if status == "503":
            headers["Retry-After"] = {**RETRY_AFTER, "required": False}


NO_NUL_PATTERN = "^[^\\x00]*$"


def _request_body_schemas(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas a request body uses, directly or nested."""
    schemas = document.get("components", {}).get("schemas", {})
    pending = [
        content.get("schema", {})
        for item in document.get("paths", {}).values()
        for operation in item.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
    ]
    found: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    pending.append(schemas.get(name, {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _no_nul(schema: Any) -> None:
    """Every string schema inside ``schema`` without a pattern or enum refuses NUL."""
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
                node["pattern"] = NO_NUL_PATTERN
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [T, {"type": "null"}]`` plus keywords beside it → ``T`` with those keywords."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **rest}
