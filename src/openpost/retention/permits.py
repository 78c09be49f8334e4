"""The permit that lets one transaction remove readings (migration 0009's delete guard)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from openpost.retention.models import MaintenancePermit


@contextmanager
def permitted(session: Session, reason: str) -> Iterator[None]:
    """Let ``session``'s transaction delete readings while the block runs.

    The permit row is inserted at the start and deleted at the end, inside the same
    transaction, so it is never committed: other transactions never see it, and a
    transaction that fails rolls it back with everything else.
    """
    permit = MaintenancePermit(reason=reason)
    session.add(permit)
    session.flush()
    yield
    session.delete(permit)
    session.flush()
