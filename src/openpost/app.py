"""The application factory: ``create_app(settings)`` wires routers, errors and middleware."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from openpost import __version__
from openpost.accounts.routes import router as accounts_router
from openpost.analytics.routes import router as analytics_router
from openpost.auth.ratelimit import KeyRateLimiter
from openpost.config import Settings
from openpost.core import openapi
from openpost.core.db import make_engine, make_sessionmaker
from openpost.core.metrics import MetricsMiddleware, RequestMetrics
from openpost.core.outage import StorageOutage, storage_url
from openpost.core.web import GuardMiddleware, install_error_handlers
from openpost.dashboard.mount import install as install_dashboard
from openpost.dashboard.web import templates
from openpost.deps import key_before_body
from openpost.integrations.routes import router as integrations_router
from openpost.posts.routes import router as posts_router
from openpost.refresh import metrics as collection_metrics
from openpost.refresh.routes import router as refresh_router
from openpost.webhooks.routes import router as webhooks_router

DESCRIPTION = """
Analytics of a social-publishing workspace, compatible with the OpenPost API.

Every `/v1` call needs `Authorization: Bearer <key>`. Successes are `{"data": …}`;
failures are `{"error": "<message>"}` with status 400, 401, 404, 413, 415 or 429 (503
with `Retry-After` while the database is unavailable).
Times are RFC 3339 UTC (`2026-04-16T10:00:00Z`). Metrics are integers, or `null` where the
platform does not report that counter.
"""


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.effective_database_url)
    app = FastAPI(
        title="OpenPost Analytics",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below, from the package's own copy of Swagger UI
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    metrics = RequestMetrics()
    limit_storage = storage_url(settings.rate_limit_storage_url)
    app.state.rate_limiter = KeyRateLimiter(settings.api_rate_limit, limit_storage)
    # While the shared storage is unreachable, each process limits on its own (ADR 0005).
    app.state.local_rate_limiter = KeyRateLimiter(settings.api_rate_limit)
    app.state.rate_limit_outage = StorageOutage(limit_storage, metrics.registry)

    install_error_handlers(app, before_body_error=key_before_body)
    app.add_middleware(GuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    collection_metrics.register(metrics.registry, app.state.sessionmaker, settings)
    app.state.metrics = metrics  # `openpost serve --metrics-port` serves its registry too
    app.add_route(
        "/metrics", metrics.guarded_endpoint(settings.metrics_token), include_in_schema=False
    )
    app.include_router(analytics_router)
    app.include_router(accounts_router)
    app.include_router(posts_router)
    app.include_router(integrations_router)
    app.include_router(refresh_router)
    app.include_router(webhooks_router)
    install_dashboard(app, settings)
    app.openapi = lambda: openapi.build(app)  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return api_docs_page(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


SWAGGER_UI = "/static/vendor/swagger-ui"


def api_docs_page(app: FastAPI) -> HTMLResponse:
    """Swagger UI for the OpenAPI document, every asset served by this server (the files
    vendored in ``dashboard/static/vendor/swagger-ui``): it works offline, and no page of
    ours loads anything from another host. The spec validator badge is off for the same
    reason (it would call validator.swagger.io)."""
    version = templates.globals["asset_version"]
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js?v={version}",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css?v={version}",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
