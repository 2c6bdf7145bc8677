"""Delivers the webhooks' outbox (``webhook_delivery``) to the areas' receivers, from the worker
process: at least once, each delivery retried with backoff until its receiver answers 2xx, or
given up (``failed_at``) after ``max_attempts`` attempts or ``max_age`` since it was published.

Every POST is signed (signing.py) and carries the event's name, the delivery's id and the
timestamp the signature covers. The claim takes due rows with SKIP LOCKED
(services/common/delivery.py), so several workers share the work. A delivery sent and then
not marked (the worker stopped in between) is sent again: receivers de-duplicate on
``X-Joinedup-Delivery``, or on the body's event ``id``, as docs/api.md says.
"""

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.background import running
from services.common.delivery import Refusal, keep_delivering, post
from services.common.egress import GuardedTransport, IPNetwork
from services.common.http import Backoff
from services.targets_api.webhooks import store
from services.targets_api.webhooks.signing import body_bytes, signature

log = logging.getLogger(__name__)

WEBHOOK_DELIVERIES = Counter(
    "joinedup_webhook_deliveries_total",
    "Webhook delivery attempts, by result: delivered, retried (to be tried again) or failed "
    "(given up).",
    ["result"],
)
# Several workers may deliver, each reading the same table: report the latest reading of a live
# one.
WEBHOOK_PENDING = Gauge(
    "joinedup_webhook_deliveries_pending",
    "Webhook deliveries neither delivered nor given up.",
    multiprocess_mode="livemostrecent",
)


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookDeliverer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        *,
        backoff: Backoff,
        max_attempts: int,
        max_age: timedelta,
        # Sent one after another in the claim's transaction, each within the client's timeout:
        # a small batch keeps that transaction short when receivers are slow.
        batch: int = 20,
        poll_s: float = 1.0,
        clock: Callable[[], datetime] = _now,
        unix_time: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` decides what is due and when a retry is; ``unix_time`` is the signed
        timestamp (tests move the first and check the second)."""
        self.sessionmaker = sessionmaker
        self.client = client
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.max_age = max_age
        self.batch = batch
        self.poll_s = poll_s
        self.clock = clock
        self.unix_time = unix_time

    async def run(self) -> None:
        await keep_delivering(self.deliver_once, poll_s=self.poll_s, what="webhook")

    async def deliver_once(self) -> int:
        """Send what is due; after a receiver refuses one, leave its other deliveries for the
        next cycle rather than knock again at once."""
        delivered = 0
        async with self.sessionmaker() as session, session.begin():
            refused: set[int] = set()
            for row in await store.claim_due(session, now=self.clock(), batch=self.batch):
                if row.subscription_id in refused:
                    continue
                started = time.perf_counter()
                refusal = await self._send(row)
                duration_ms = round((time.perf_counter() - started) * 1000)
                if refusal is None:
                    delivered += 1
                else:
                    refused.add(row.subscription_id)
                await self._record(session, row, refusal, duration_ms)
            WEBHOOK_PENDING.set(await store.pending_count(session))
        return delivered

    async def _record(
        self, session: AsyncSession, row: RowMapping, refusal: Refusal | None, duration_ms: int
    ) -> None:
        now = self.clock()
        if refusal is None:
            await store.record_attempt(
                session,
                row.id,
                now=now,
                status=None,
                error=None,
                delivered=True,
                retry_at=None,
                duration_ms=duration_ms,
            )
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            return
        attempts = row.attempts + 1
        given_up = attempts >= self.max_attempts or now - row.created_at >= self.max_age
        retry_at = (
            None
            if given_up
            else now + timedelta(seconds=self.backoff.pause(row.attempts, refusal.retry_after))
        )
        await store.record_attempt(
            session,
            row.id,
            now=now,
            status=refusal.status,
            error=refusal.error[:500],
            delivered=False,
            retry_at=retry_at,
            duration_ms=duration_ms,
        )
        WEBHOOK_DELIVERIES.labels("failed" if given_up else "retried").inc()
        log.warning(
            "webhook delivery %s to subscription %s not delivered (attempt %s)%s: %s",
            row.id,
            row.subscription_id,
            attempts,
            ", given up" if given_up else f", retrying at {retry_at:%H:%M:%S}",
            refusal.error,
        )

    async def _send(self, row: RowMapping) -> Refusal | None:
        body = body_bytes(row.body)
        timestamp = int(self.unix_time())
        headers: dict[str, Any] = {
            "Content-Type": "application/json",
            "User-Agent": "joinedup-webhooks",
            "X-Joinedup-Event": row.event,
            "X-Joinedup-Delivery": str(row.id),
            "X-Joinedup-Timestamp": str(timestamp),
            "X-Joinedup-Signature": signature(row.secret, timestamp, body),
        }
        return await post(self.client, row.url, peer="the receiver", content=body, headers=headers)


def receivers_client(allowed_networks: Sequence[IPNetwork], timeout_s: float) -> httpx.AsyncClient:
    """The client that POSTs to receivers. No service key and no base URL: receivers are
    outside joinedup. Redirects are not followed, so a signed body goes only where the
    subscription says; and only to an address the egress guard allows, checked as it connects
    (services/common/egress.py)."""
    return httpx.AsyncClient(
        timeout=timeout_s,
        follow_redirects=False,
        transport=GuardedTransport(allowed_networks),
    )


@asynccontextmanager
async def webhook_deliverer(app: FastAPI) -> AsyncIterator[WebhookDeliverer]:
    """Runs the deliverer for as long as the (worker's) app runs."""
    settings = app.state.settings
    async with receivers_client(settings.webhook_networks, settings.webhook_timeout_s) as client:
        deliverer = WebhookDeliverer(
            app.state.sessionmaker,
            client,
            backoff=Backoff(
                base_s=1.0,
                max_s=settings.webhook_max_backoff_s,
                max_retry_after_s=settings.webhook_max_backoff_s,
            ),
            max_attempts=settings.webhook_max_attempts,
            max_age=timedelta(seconds=settings.webhook_max_age_s),
            poll_s=settings.webhook_poll_s,
        )
        async with running(deliverer.run, name="webhook-deliverer", engine=app.state.engine):
            yield deliverer
