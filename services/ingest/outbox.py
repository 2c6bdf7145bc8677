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

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.background import running

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

_CLAIM = text("""
    SELECT id, topic, payload, attempts FROM outbox
    WHERE delivered_at IS NULL AND next_attempt_at <= now()
    ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
""")
_DELIVERED = text("UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = :id")
_FAILED = text("""
    UPDATE outbox SET attempts = attempts + 1, last_error = :error,
        next_attempt_at = now() + make_interval(secs => :delay)
    WHERE id = :id
""")
_PENDING = text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")


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
        self.batch = batch
        self.poll_s = poll_s
        self.max_backoff_s = max_backoff_s

    async def run(self) -> None:
        while True:
            try:
                delivered = await self.deliver_once()
            except Exception:  # the database may be restarting: log, pause, go on
                log.exception("outbox delivery cycle failed")
                delivered = 0
            if not delivered:
                await asyncio.sleep(self.poll_s)

    async def deliver_once(self) -> int:
        """Send what is due, oldest first; stop at a failure, sparing a peer that is down."""
        delivered = 0
        async with self.sessionmaker() as session, session.begin():
            for row in (await session.execute(_CLAIM, {"batch": self.batch})).all():
                error = await self._send(row.topic, row.payload)
                if error is None:
                    await session.execute(_DELIVERED, {"id": row.id})
                    OUTBOX_DELIVERIES.labels("delivered").inc()
                    delivered += 1
                    continue
                delay = self._backoff(row.attempts)
                await session.execute(_FAILED, {"id": row.id, "error": error[:500], "delay": delay})
                OUTBOX_DELIVERIES.labels("failed").inc()
                log.warning(
                    "outbox notice %s not delivered (attempt %s), retrying in %.1f s: %s",
                    row.id,
                    row.attempts + 1,
                    delay,
                    error,
                )
                break
            OUTBOX_PENDING.set(await session.scalar(_PENDING) or 0)
        return delivered

    async def _send(self, topic: str, payload: dict) -> str | None:
        path = TOPIC_PATHS.get(topic)
        if path is None:
            return f"no route for topic {topic!r}"
        try:
            response = await self.client.post(path, json=payload)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code >= 300:
            return f"targets_api answered {response.status_code}: {response.text[:200]}"
        return None

    def _backoff(self, attempts: int) -> float:
        return min(self.max_backoff_s, 0.5 * 2**attempts) * random.uniform(0.8, 1.2)


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
