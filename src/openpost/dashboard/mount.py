"""Mount the dashboard on the application: routes, static files, the login throttle."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from openpost.config import Settings
from openpost.core.outage import storage_url
from openpost.dashboard import routes_admin, routes_auth, routes_pages
from openpost.dashboard.sessions import LoginThrottle
from openpost.dashboard.web import STATIC_DIR


def install(app: FastAPI, settings: Settings) -> None:
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures,
        settings.login_failure_window_minutes,
        storage_url(settings.rate_limit_storage_url),
        getattr(app.state, "rate_limit_outage", None),  # the API's: one storage, one state
    )
    app.include_router(routes_auth.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_admin.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
