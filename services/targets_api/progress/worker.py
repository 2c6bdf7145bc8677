"""Drains the change queue in the background: each cycle recomputes what ingest said changed.

It runs in the worker process (services/worker), never in targets_api's API processes, so a
refresh never holds up a request. Several workers may run it; the refresh's advisory lock makes
them take turns. The catalogue is fetched before the transaction, so no database transaction
waits on HTTP.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import clock
from services.common.background import running
from services.common.catalogue import MetricsApiClient
from services.common.http import PeerUnavailable
from services.targets_api.progress import store
from services.targets_api.progress.refresh import refresh_queued

log = logging.getLogger(__name__)

PROGRESS_REFRESHES = Counter(
    "joinedup_progress_refreshes_total", "Background progress refreshes, by result.", ["result"]
)
PROGRESS_REFRESH_SECONDS = Histogram(
    "joinedup_progress_refresh_seconds", "Time to recompute what a batch of change notices touched."
)

MAX_BACKOFF_S = 30.0


class ProgressRefresher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics_api: MetricsApiClient,
        *,
        poll_s: float,
        rest: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.metrics_api = metrics_api
        self.poll_s = poll_s
        self.rest = rest

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                took = await self.refresh_once()
                failures = 0
            except Exception as error:  # a peer or the database is down: log, pause, go on
                failures += 1
                PROGRESS_REFRESHES.labels("failed").inc()
                took = 0.0
                if isinstance(error, PeerUnavailable):  # metrics_api: a traceback adds nothing
                    log.warning("progress refresh waits for the catalogue: %s", error.detail)
                else:
                    log.exception("progress refresh failed; the changes stay queued")
            if took:
                await asyncio.sleep(took * self.rest)
            else:
                # Backing off while something is down keeps the log and the peer quiet.
                await asyncio.sleep(min(self.poll_s * 2**failures, MAX_BACKOFF_S))

    async def refresh_once(self) -> float:
        """Seconds the refresh took; 0 when nothing was queued."""
        async with self.sessionmaker() as session:
            if not await store.any_queued(session):
                return 0.0
        catalogue = await self.metrics_api.catalogue()
        started = time.perf_counter()
        async with self.sessionmaker() as session, session.begin():
            done = await refresh_queued(session, catalogue=catalogue, today=clock.today())
        if done is None:
            return 0.0
        took = time.perf_counter() - started
        PROGRESS_REFRESH_SECONDS.observe(took)
        PROGRESS_REFRESHES.labels("done").inc()
        log.info(
            "progress refreshed: %s periods, %s area values, %s targets, %s set aside",
            done.pairs,
            done.area_values,
            done.targets,
            done.set_aside,
        )
        return took


@asynccontextmanager
async def progress_refresher(app: FastAPI) -> AsyncIterator[ProgressRefresher]:
    """Runs the refresher for as long as the (worker's) app runs."""
    settings = app.state.settings
    refresher = ProgressRefresher(
        app.state.sessionmaker,
        app.state.metrics_api,
        poll_s=settings.progress_poll_s,
        rest=settings.progress_rest,
    )
    async with running(refresher.run, name="progress-refresher", engine=app.state.engine):
        yield refresher
