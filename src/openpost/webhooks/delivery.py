"""Sending due deliveries: claim, POST through the URL guard, record, schedule the retry.

Each pass takes up to ``limit`` deliveries whose attempt is due and claims each with a
conditional UPDATE (``claimed_until``), so that several processes never send the same
attempt twice; the POST happens outside any transaction, and its outcome is written after.
The body is the same for every attempt of an event, and its ``id`` is the event's: a
receiver that has seen the id already has the event (delivery is at least once).

- 2xx: ``delivered``.
- Anything else (a 3xx included: redirects are not followed, a redirect could lead into the
  private network), a timeout, a connection failure: another attempt after
  ``backoff(attempts)`` (30 s doubling to an hour, with jitter), until ``retry_hours`` after
  the event; then ``failed``.
- The URL guard refuses the host (it resolves to a private or loopback address, unless
  ``OPENPOST_WEBHOOK_ALLOW_PRIVATE_ADDRESSES``): ``failed`` at once, nothing sent.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from openpost import __version__
from openpost.config import Settings
from openpost.core import clock
from openpost.core.crypto import CredentialsUnreadable, Sealer
from openpost.core.db import transaction
from openpost.core.timefmt import format_time
from openpost.platforms.base import PlatformError
from openpost.platforms.netguard import NetGuard, UnsafeUrl
from openpost.webhooks import signing
from openpost.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

log = logging.getLogger("openpost.webhooks")

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
CLAIM_SLACK = timedelta(seconds=30)


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait before attempt ``attempts + 1``: 30 s, 60 s, 2 min, … up to an hour, ±10 %."""
    base: timedelta = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    jitter: float = (rng or random).random()
    return base * (0.9 + 0.2 * jitter)


def body_of(event: WebhookEvent) -> bytes:
    """What the receiver gets: ``{"id", "type", "created_at", "data"}``."""
    return orjson.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "created_at": format_time(event.created_at),
            "data": event.data,
        }
    )


@dataclass
class SendRun:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    statuses: list[int | None] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


@dataclass(frozen=True)
class _Claimed:
    delivery_id: uuid.UUID
    url: str
    secret_sealed: str
    event: WebhookEvent
    attempts: int


class Sender:
    """Sends due deliveries for one process (``openpost.webhooks`` docs)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.sealer = Sealer.from_settings(settings)
        guard = NetGuard(
            allow_private=settings.webhook_allow_private_addresses, code_prefix="webhook"
        )
        self._client = httpx.Client(
            transport=guard.transport(transport),
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": f"openpost-analytics/{__version__} (webhooks)"},
        )

    def close(self) -> None:
        self._client.close()

    def run_once(self, now: datetime | None = None, *, limit: int = 50) -> SendRun:
        """One pass over what is due at ``now`` (default: the clock)."""
        now = now or clock.now()
        run = SendRun()
        for claimed in self._claim(now, limit):
            self._attempt(claimed, run, now)
        return run

    def _claim(self, now: datetime, limit: int) -> list[_Claimed]:
        claim_until = now + timedelta(seconds=self.settings.webhook_timeout_seconds) + CLAIM_SLACK
        claimed: list[_Claimed] = []
        with transaction(self.factory) as session:
            rows = session.execute(
                select(WebhookDelivery, Webhook.url, Webhook.secret_sealed, WebhookEvent)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.claimed_until.is_(None),
                        WebhookDelivery.claimed_until <= now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            ).all()
            for delivery, url, secret, event in rows:
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.id,
                        WebhookDelivery.status == DeliveryStatus.pending.value,
                        or_(
                            WebhookDelivery.claimed_until.is_(None),
                            WebhookDelivery.claimed_until <= now,
                        ),
                    )
                    .values(claimed_until=claim_until)
                    .execution_options(synchronize_session=False)
                )
                if getattr(taken, "rowcount", 0) == 1:
                    session.expunge(event)
                    claimed.append(_Claimed(delivery.id, url, secret, event, delivery.attempts))
        return claimed

    def _attempt(self, claimed: _Claimed, run: SendRun, now: datetime) -> None:
        body = body_of(claimed.event)
        status: int | None = None
        error: str | None = None
        final = False
        try:
            secret = str(self.sealer.open(claimed.secret_sealed)["secret"])
        except (CredentialsUnreadable, KeyError):
            secret, error, final = (
                "",
                "the signing secret cannot be read with the current key",
                True,
            )
        if not final:
            sent_at = int(now.timestamp())
            headers = {
                "Content-Type": "application/json",
                signing.HEADER: signing.sign(secret, sent_at, body),
                "OpenPost-Event": claimed.event.type,
                "OpenPost-Delivery": str(claimed.delivery_id),
            }
            try:
                response = self._client.post(claimed.url, content=body, headers=headers)
                status = response.status_code
                if not response.is_success:
                    error = f"the receiver answered HTTP {status}"
            except UnsafeUrl as exc:
                error, final = exc.message, True
            except PlatformError as exc:  # the guard could not resolve the host
                error = exc.message
            except httpx.TimeoutException:
                error = "the receiver did not answer in time"
            except httpx.HTTPError:
                error = "could not reach the receiver"
        self._record(claimed, status, error, final, run, now)

    def _record(
        self,
        claimed: _Claimed,
        status: int | None,
        error: str | None,
        final: bool,
        run: SendRun,
        now: datetime,
    ) -> None:
        attempts = claimed.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts,
            "last_status": status,
            "last_error": error,
            "last_attempt_at": now,
            "claimed_until": None,
        }
        gives_up_at = claimed.event.created_at + timedelta(hours=self.settings.webhook_retry_hours)
        if error is None:
            values.update(status=DeliveryStatus.delivered.value, delivered_at=now)
            run.delivered += 1
        elif final or now >= gives_up_at:
            values.update(status=DeliveryStatus.failed.value, next_attempt_at=None)
            run.failed += 1
        else:  # the last attempt falls on the end of the retry period
            values["next_attempt_at"] = min(now + backoff(attempts), gives_up_at)
            run.retrying += 1
        run.statuses.append(status)
        with transaction(self.factory) as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == claimed.delivery_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        log.info(
            "webhook delivery",
            extra={
                "delivery_id": str(claimed.delivery_id),
                "event_type": claimed.event.type,
                "attempt": attempts,
                "status": status,
                "outcome": values.get("status", DeliveryStatus.pending.value),
            },
        )
