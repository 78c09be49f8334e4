"""/metrics on the API's port needs the metrics token; without one it is not served there.
``openpost serve --metrics-port`` serves the same registry on a port of its own
(docs/decisions/0006-metrics-access.md)."""

from __future__ import annotations

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from openpost.app import create_app
from openpost.cli.serve import _serve_metrics
from openpost.config import Settings

TOKEN = "s3cret-metrics-token"


def test_without_a_token_the_api_port_has_no_metrics(settings: Settings, engine: Engine) -> None:
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
                response = client.get("/metrics", headers=headers)
                assert response.status_code == 404
                assert response.json() == {"error": "not found"}
    finally:
        app.state.engine.dispose()


def test_with_a_token_only_its_bearer_reads_metrics(settings: Settings, engine: Engine) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/healthz").status_code == 200
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": TOKEN},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": f"Bearer {TOKEN}x"},
            ):
                response = client.get("/metrics", headers=headers)
                assert response.status_code == 401, headers
                assert response.json() == {"error": "Invalid metrics token"}
                assert response.headers["www-authenticate"].startswith("Bearer")
            response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert 'openpost_http_requests_total{method="GET",route="/healthz"' in response.text
    finally:
        app.state.engine.dispose()


def test_metrics_are_not_in_the_openapi_document(settings: Settings, engine: Engine) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}))
    try:
        assert "/metrics" not in app.openapi()["paths"]
    finally:
        app.state.engine.dispose()


def test_serve_metrics_port_serves_the_apps_registry(
    settings: Settings, engine: Engine, free_tcp_port: int
) -> None:
    app = create_app(settings)  # no token: the API's port has none, the metrics port has all
    server = _serve_metrics(app, "127.0.0.1", free_tcp_port)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert 'openpost_http_requests_total{method="GET",route="/healthz"' in scraped.text
        assert "openpost_collection_due_targets" in scraped.text
    finally:
        server.shutdown()
        server.server_close()
        app.state.engine.dispose()
