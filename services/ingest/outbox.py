"""Delivers the outbox to targets_api: at least once, oldest first, with backoff while it is
down. Order is not strict: a notice waiting for its retry does not hold back the next one,
which is harmless because targets_api merges notices per place and metric.

Submissions write their outbox row in the same transaction as their observations, so a change
is never stored without its notice nor announced without being stored. The deliverer runs in
the worker process (services/worker), not in ingest's API processes. It claims rows with SKIP
LOCKED, so several workers share the work without sending a row twice at the same moment;
a notice that is sent twice anyway (a crash after sending, before marking) is harmless
because targets_api merges notices.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from services.common.background import running
from services.common.delivery import Refusal, keep_delivering, post
from services.common.http import Backoff
from services.common.models import Outbox

log = logging.getLogger(__name__)

TOPIC_PATHS = {"observations.changed": "/internal/v1/observation-changes"}

OUTBOX_DELIVERIES = Counter(
    "joinedup_outbox_deliveries_total", "Outbox notices sent to targets_api, by result.", ["result"]
)
# Several processes may deliver, each reading the same table: report the latest reading of a
# live one.
OUTBOX_PENDING = Gauge(
    "joinedup_outbox_pending",
    "Outbox notices not yet delivered.",
    multiprocess_mode="livemostrecent",
)

_PENDING = col(Outbox.delivered_at).is_(None)
_PENDING_COUNT = select(func.count()).select_from(Outbox).where(_PENDING)


class OutboxDeliverer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        *,
        batch: int = 50,
        poll_s: float = 0.5,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.client = client
        self.poll_s = poll_s
        # A notice's n-th retry waits about 0.5 x 2^n s, capped, or what targets_api's
        # Retry-After asks (it answers 503 with one while its database is away).
        self.backoff = Backoff(base_s=0.5, max_s=max_backoff_s, max_retry_after_s=max_backoff_s)
        self._claim = (
            select(col(Outbox.id), col(Outbox.topic), col(Outbox.payload), col(Outbox.attempts))
            .where(_PENDING, col(Outbox.next_attempt_at) <= func.now())
            .order_by(col(Outbox.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        )

    async def run(self) -> None:
        await keep_delivering(self.deliver_once, poll_s=self.poll_s, what="outbox")

    async def deliver_once(self) -> int:
        """Send what is due, oldest first; stop at a failure, sparing a peer that is down."""
        delivered = 0
        async with self.sessionmaker() as session, session.begin():
            for row in (await session.execute(self._claim)).all():
                this = update(Outbox).where(col(Outbox.id) == row.id)
                refusal = await self._send(row.topic, row.payload)
                if refusal is None:
                    await session.execute(
                        this.values(delivered_at=func.now(), attempts=col(Outbox.attempts) + 1)
                    )
                    OUTBOX_DELIVERIES.labels("delivered").inc()
                    delivered += 1
                    continue
                delay = self.backoff.pause(row.attempts, refusal.retry_after)
                await session.execute(
                    this.values(
                        attempts=col(Outbox.attempts) + 1,
                        last_error=refusal.error[:500],
                        next_attempt_at=func.now() + timedelta(seconds=delay),
                    )
                )
                OUTBOX_DELIVERIES.labels("failed").inc()
                log.warning(
                    "outbox notice %s not delivered (attempt %s), retrying in %.1f s: %s",
                    row.id,
                    row.attempts + 1,
                    delay,
                    refusal.error,
                )
                break
            OUTBOX_PENDING.set(await session.scalar(_PENDING_COUNT) or 0)
        return delivered

    async def _send(self, topic: str, payload: dict[str, Any]) -> Refusal | None:
        path = TOPIC_PATHS.get(topic)
        if path is None:
            return Refusal(f"no route for topic {topic!r}")
        return await post(self.client, path, peer="targets_api", json=payload)


@asynccontextmanager
async def outbox_deliverer(app: FastAPI) -> AsyncIterator[OutboxDeliverer]:
    """Runs the deliverer for as long as the (worker's) app runs."""
    settings = app.state.settings
    headers = {"Authorization": f"Bearer {settings.service_key}"} if settings.service_key else {}
    async with httpx.AsyncClient(
        base_url=settings.targets_api_url, headers=headers, timeout=settings.outbox_timeout_s
    ) as client:
        deliverer = OutboxDeliverer(
            app.state.sessionmaker,
            client,
            poll_s=settings.outbox_poll_s,
            max_backoff_s=settings.outbox_max_backoff_s,
        )
        async with running(deliverer.run, name="outbox-deliverer", engine=app.state.engine):
            yield deliverer
