"""The OpenAPI document describes the posts and integrations endpoints completely."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

EXPECTED = {
    ("get", "/v1/posts"): {"200", "400", "401", "429"},
    ("post", "/v1/posts"): {"201", "400", "401", "404", "413", "415", "429"},
    ("get", "/v1/posts/{post_id}"): {"200", "400", "401", "404", "429"},
    ("get", "/v1/integrations"): {"200", "401", "429"},
    ("post", "/v1/integrations"): {"200", "201", "400", "401", "413", "415", "429", "503"},
    ("get", "/v1/integrations/{integration_id}"): {"200", "400", "401", "404", "429"},
    ("delete", "/v1/integrations/{integration_id}"): {"200", "400", "401", "404", "429"},
}


def test_every_endpoint_is_described(client: TestClient) -> None:
    document: dict[str, Any] = client.get("/openapi.json").json()
    for (method, path), codes in EXPECTED.items():
        operation = document["paths"][path][method]
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert set(operation["responses"]) == codes, where
        success = "201" if "201" in codes else "200"
        schema = operation["responses"][success]["content"]["application/json"]["schema"]
        assert "$ref" in schema, where
        for code in codes - {"200", "201"}:
            error = operation["responses"][code]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorBody"), where
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{where} {parameter['name']}"
        if method == "post":
            names = {p["name"] for p in operation["parameters"]}
            assert "Idempotency-Key" in names, where
            assert "application/json" in operation["requestBody"]["content"], where


def test_the_post_object_documents_its_fields(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["PostOut"]["properties"]) >= {
        "id",
        "status",
        "content",
        "scheduled_at",
        "published_at",
        "tags",
        "created_at",
        "source",
        "post_targets",
    }
    assert set(schemas["PostTargetOut"]["properties"]) >= {
        "id",
        "integration_id",
        "status",
        "platform_post_id",
        "platform_post_url",
        "published_at",
        "integrations",
    }
    assert "credentials_encrypted" not in schemas["IntegrationOut"]["properties"]
