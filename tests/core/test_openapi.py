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
    assert schema["properties"] == {"error": {"type": "string", "minLength": 1, "title": "Error"}}
    assert schema["required"] == ["error"]
    assert schema["additionalProperties"] is False


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


# --- the document is exact: what it allows the server takes, and the other way round -----


def _validator(document: dict[str, Any], name: str) -> Any:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # installed with schemathesis
    # The components ride along, so that "#/components/schemas/…" resolves.
    schema = {**document["components"]["schemas"][name], "components": document["components"]}
    return jsonschema_rs.validator_for(schema)


ID_SAMPLES = [
    ("3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b", True),
    ("3A6F1C2E-8B7D-4E3F-9A1B-2C3D4E5F6A7B", True),
    ("3a6f1c2e8b7d4e3f9a1b2c3d4e5f6a7b", True),
    ("{3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b}", False),
    ("urn:uuid:3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b", False),
    ("3a6f1c2e-8b7d4e3f-9a1b-2c3d4e5f6a7b", False),
    ("3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b\n", False),
    ("nope", False),
    ("", False),
]


def test_every_id_parameter_carries_the_servers_uuid_rule(document: dict[str, Any]) -> None:
    from openpost.core.errors import BadRequest
    from openpost.core.ids import UUID_PATTERN, parse_uuid

    for text, valid in ID_SAMPLES:  # the pattern and the server agree
        assert bool(re.fullmatch(UUID_PATTERN, text)) is valid, text
        try:
            parse_uuid(text, "id")
            accepted = True
        except BadRequest:
            accepted = False
        assert accepted is valid, text
    seen = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"].endswith("_id"):
                    seen += 1
                    pattern = parameter["schema"]["pattern"]
                    assert UUID_PATTERN[1:-1] in pattern, (method, path, parameter["name"])
                    if parameter["in"] == "path":
                        assert pattern == UUID_PATTERN
    assert seen >= 6


def test_no_parameter_is_nullable(document: dict[str, Any]) -> None:
    """HTTP cannot send null in a query, path or header: no ``anyOf [T, null]`` there."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                assert "null" not in json.dumps(parameter["schema"]), (method, path, parameter)


def test_idempotency_key_pattern_is_the_servers(document: dict[str, Any]) -> None:
    from openpost.auth.idempotency import parse_key
    from openpost.core.errors import BadRequest

    headers = [
        p
        for item in document["paths"].values()
        for operation in item.values()
        for p in operation.get("parameters", [])
        if p["name"] == "Idempotency-Key"
    ]
    posts = [op for item in document["paths"].values() for m, op in item.items() if m == "post"]
    assert len(headers) == len(posts) >= 4  # one per POST
    pattern = headers[0]["schema"]["pattern"]
    assert all(h["schema"] == headers[0]["schema"] for h in headers)
    assert headers[0]["schema"]["type"] == "string"
    for key in ["a", "retry-1", "x" * 255, "a b", "~!", "x" * 256, "", "é", "a\tb", " a", "a "]:
        try:
            parse_key(key)
            accepted = True
        except BadRequest:
            accepted = False
        # HTTP drops a header's outer spaces, so the document refuses them too.
        expected = accepted and key == key.strip()
        assert bool(re.fullmatch(pattern, key)) is expected, key


@pytest.mark.parametrize(
    ("name", "first", "second"),
    [("TargetCreate", "platform_post_id", "post_url"), ("RefreshIn", "post_id", "integration_id")],
)
def test_exactly_one_of_is_in_the_document(
    document: dict[str, Any], name: str, first: str, second: str
) -> None:
    validator = _validator(document, name)
    base: dict[str, Any] = (
        {"integration_id": "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b"} if name == "TargetCreate" else {}
    )
    one = "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b" if name == "RefreshIn" else "123"
    assert validator.is_valid({**base, first: one})
    assert validator.is_valid({**base, second: one})
    assert validator.is_valid({**base, first: one, second: None})
    assert not validator.is_valid({**base, first: one, second: one})
    assert not validator.is_valid(base)
    assert not validator.is_valid({**base, first: None, second: None})


def test_error_answers_document_their_headers(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            unauthorized = responses["401"]["headers"]
            assert unauthorized["WWW-Authenticate"]["required"] is True, (method, path)
            limited = responses["429"]["headers"]
            for name in (
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ):
                assert limited[name]["required"] is True, (method, path, name)
            for status, response in responses.items():
                if status.startswith("2") or status in ("400", "404"):
                    assert "RateLimit-Remaining" in response["headers"], (method, path, status)


def test_links_name_operations_that_exist(document: dict[str, Any]) -> None:
    ids = {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    }
    links = [
        link
        for item in document["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert links
    for link in links:
        assert link["operationId"] in ids, link


def test_request_body_strings_refuse_nul(document: dict[str, Any]) -> None:
    """``require_json`` refuses NUL in any string of a body; the document says so."""
    for name in ("PostCreate", "TargetCreate", "IntegrationCreate", "RefreshIn"):
        schema = document["components"]["schemas"][name]
        for field, spec in schema["properties"].items():
            text = json.dumps(spec)
            if '"string"' in text and "enum" not in text and "$ref" not in text:
                assert "pattern" in text, (name, field)
    posts = _validator(document, "PostCreate")
    target = {"integration_id": "3a6f1c2e-8b7d-4e3f-9a1b-2c3d4e5f6a7b", "platform_post_id": "1"}
    assert posts.is_valid({"content": "hi", "tags": ["a"], "targets": [target]})
    assert not posts.is_valid({"content": "h\x00i", "targets": [target]})
    assert not posts.is_valid({"tags": ["   "], "targets": [target]})
    assert not posts.is_valid({"targets": [{**target, "platform_post_id": "1\x002"}]})
