"""Re-sealing every stored secret with the current key (``openpost secrets reseal``).

After ``OPENPOST_SECRET_KEY`` changes (the old value kept in
``OPENPOST_SECRET_KEY_PREVIOUS``), tokens sealed under an old key still open, but only until
that key is dropped from the setting. ``reseal_page`` moves one page of a table's tokens to
the current key; the command calls it page after page, committing each, so a run over many
integrations holds no long transaction and can be interrupted and started again.

Each row is rewritten only if its token is still the one read (compare and swap on the
token itself): a collector that refreshed an owner's token meanwhile sealed it with the
current key already, and that newer token is kept. What it covers: platform credentials
(``integrations.credentials_encrypted``, X owners' tokens included) and the PKCE verifiers
of consent attempts in flight (``oauth_attempts.verifier_sealed``) and webhooks' signing
secrets (``webhooks.secret_sealed``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from openpost.consent.models import OAuthAttempt
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.integrations.models import Integration
from openpost.webhooks.models import Webhook


@dataclass(frozen=True)
class SealedColumn:
    name: str  # what the command calls it
    model: Any
    column: InstrumentedAttribute[Any]


SEALED = (
    SealedColumn("integrations", Integration, Integration.credentials_encrypted),
    SealedColumn("oauth_attempts", OAuthAttempt, OAuthAttempt.verifier_sealed),
    SealedColumn("webhooks", Webhook, Webhook.secret_sealed),
)


@dataclass
class ResealCount:
    seen: int = 0
    resealed: int = 0
    current: int = 0  # sealed with the current key already
    changed: int = 0  # rewritten by someone else meanwhile (with the current key)
    unreadable: list[uuid.UUID] = field(default_factory=list)  # under none of the keys

    def add(self, other: ResealCount) -> None:
        self.seen += other.seen
        self.resealed += other.resealed
        self.current += other.current
        self.changed += other.changed
        self.unreadable += other.unreadable


def total(session: Session, sealed: SealedColumn) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(sealed.model).where(sealed.column.is_not(None))
        )
        or 0
    )


def reseal_page(
    session: Session,
    sealer: Sealer,
    sealed: SealedColumn,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[ResealCount, uuid.UUID | None]:
    """Re-seal the next ``limit`` tokens (by id, after ``after``); the count and the last id
    seen (``None`` when the table is done)."""
    model = sealed.model
    query = select(model.id, model.workspace_id, sealed.column).where(sealed.column.is_not(None))
    if after is not None:
        query = query.where(model.id > after)
    rows = session.execute(query.order_by(model.id).limit(limit)).all()
    count = ResealCount(seen=len(rows))
    for row_id, workspace_id, token in rows:
        if sealer.is_current(token):
            count.current += 1
            continue
        try:
            renewed = sealer.reseal(token)
        except CredentialsUnreadable:
            count.unreadable.append(row_id)
            continue
        swapped = session.execute(
            update(model)
            .where(model.id == row_id, model.workspace_id == workspace_id, sealed.column == token)
            .values({sealed.column.key: renewed})
            .execution_options(synchronize_session=False)
        )
        if getattr(swapped, "rowcount", 0) == 1:
            count.resealed += 1
        else:
            count.changed += 1
    return count, (rows[-1][0] if len(rows) == limit else None)
