"""The OpenAPI document: no 422 anywhere, every /v1 operation summarised with 401 and 429."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.core.api_routes import Operation, listing_app, v1_operations

OPERATIONS = v1_operations(listing_app())


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The document as served (built once: building it takes a third of a second)."""
    app = listing_app()
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_no_422_anywhere(document: dict[str, Any]) -> None:
    assert document["paths"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation.get("responses", {}), f"{method.upper()} {path}"
    schemas = document.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert '"422"' not in json.dumps(document)


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_every_v1_operation_is_documented(document: dict[str, Any], operation: Operation) -> None:
    described = document["paths"].get(operation.path, {}).get(operation.method.lower())
    assert described is not None, f"{operation} is not in /openapi.json"
    assert described.get("summary", "").strip(), f"{operation} has no summary"
    responses = described["responses"]
    for status in ("401", "429"):
        assert status in responses, f"{operation} does not document {status}"
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (operation, status)
    if any(p["in"] in ("path", "query") for p in described.get("parameters", [])):
        assert "400" in responses, f"{operation} takes parameters but does not document 400"
    if "requestBody" in described:
        for status in ("400", "413", "415"):
            assert status in responses, f"{operation} takes a body but does not document {status}"


def test_every_documented_v1_path_is_routed(document: dict[str, Any]) -> None:
    routed = {op.key for op in OPERATIONS}
    for path, item in document["paths"].items():
        for method in item:
            if path.startswith("/v1"):
                assert (method.upper(), path) in routed


def test_error_body_schema(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["ErrorBody"]
    assert schema["properties"] == {"error": {"type": "string", "title": "Error"}}
    assert schema["required"] == ["error"]


def test_served_document_is_the_apps(client: TestClient, document: dict[str, Any]) -> None:
    assert client.get("/openapi.json").json() == document


def test_docs_page_is_html(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "/openapi.json" in response.text


def test_docs_page_loads_everything_from_this_server(client: TestClient) -> None:
    """Swagger UI is served from the package (vendored), so /docs works offline: every
    script, style sheet, icon and link on it is a path on this server, and each answers."""
    page = client.get("/docs").text
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page)
    assert len(references) >= 3  # the bundle, its style sheet, the icon
    for reference in references:
        assert reference.startswith("/"), reference
        assert not reference.startswith("//"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.IGNORECASE)
    # The validator badge would call validator.swagger.io: it is off.
    assert '"validatorUrl": null' in page
    bundle = next(r for r in references if r.split("?")[0].endswith("swagger-ui-bundle.js"))
    assert "SwaggerUIBundle" in client.get(bundle).text


def test_the_document_is_stable(app: FastAPI) -> None:
    """Built once per app: the 422 removal is not undone by a second build."""
    first = app.openapi()
    assert app.openapi() is first
