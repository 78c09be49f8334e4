"""The app's /v1 operations, enumerated from the router: the cross-cutting tests iterate these.

A new endpoint is picked up here automatically, so the tests that walk every operation
(auth, bad input, cross-workspace) cover it or fail, asking its author to describe it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from openpost.app import create_app
from openpost.config import Settings


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    route: APIRoute

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def v1_operations(app: FastAPI) -> list[Operation]:
    """Every (method, path) under /v1, in a stable order, HEAD and OPTIONS left out."""
    operations = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        route = context.original_route
        if not path or not (path == "/v1" or path.startswith("/v1/")):
            continue
        assert isinstance(route, APIRoute), f"{path} is not a FastAPI route"
        for method in sorted(context.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                operations.append(Operation(method, path, route))
    return sorted(operations, key=lambda op: (op.path, op.method))


@cache
def listing_app() -> FastAPI:
    """An app used only to list routes at collection time (they do not depend on settings)."""
    app = create_app(Settings(env="test", database_url="sqlite:///:memory:"))
    app.state.engine.dispose()
    return app


def openapi_document() -> dict[str, Any]:
    """The listing app's OpenAPI document (built once: building it takes a third of a second)."""
    document: dict[str, Any] = listing_app().openapi()
    return document


def openapi_operation(operation: Operation) -> dict[str, Any]:
    """The OpenAPI description of ``operation`` (every /v1 route must have one)."""
    paths = openapi_document()["paths"]
    described = paths.get(operation.path, {}).get(operation.method.lower())
    assert described is not None, f"{operation} is missing from /openapi.json"
    return dict(described)


def parameters(operation: Operation, location: str) -> list[dict[str, Any]]:
    """The documented parameters of ``operation`` that live in ``location`` (path, query…).

    An exploded object parameter (form style: each property is a query key of its own, as
    the export's ``range``) stands for one parameter per property, as sent on the wire."""
    found = []
    for parameter in openapi_operation(operation).get("parameters", []):
        if parameter["in"] != location:
            continue
        schema = parameter.get("schema", {})
        if schema.get("type") == "object" and parameter.get("explode"):
            for name, spec in schema.get("properties", {}).items():
                found.append({"name": name, "in": location, "schema": spec})
        else:
            found.append(parameter)
    return found


def has_body(operation: Operation) -> bool:
    return "requestBody" in openapi_operation(operation) or operation.method in (
        "POST",
        "PUT",
        "PATCH",
    )
