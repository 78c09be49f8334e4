"""The server-rendered dashboard: member login, analytics pages, charts, CSV export.

``openpost.dashboard.mount.install(app, settings)`` adds its routes, its static files
(``/static``) and the login throttle. See docs/dashboard.md.
"""
