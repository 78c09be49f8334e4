"""The dashboard's member fixtures, shared with these tests (they sign in as members)."""

from tests.dashboard.conftest import members, password_hash  # noqa: F401 - pytest fixtures
