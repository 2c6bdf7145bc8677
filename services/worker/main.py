"""worker: the work the services do beside their requests, in a process of its own (port 8004).

It runs targets_api's progress refresher (the change queue drained into the materialised
progress tables), ingest's outbox deliverer (change notices posted to targets_api) and
targets_api's webhook deliverer (events POSTed to areas' receivers), all or one of them, so
that the API processes only answer requests: a refresh of the nation no longer holds the event
loop a reader waits on. Its own HTTP endpoint has /healthz, /readyz and /metrics, for the
probes and for Prometheus (the refresh histogram and counters, the outboxes').

Any number may run: refreshes take turns on an advisory lock (progress/refresh.py) and the
deliverers claim their outbox rows with SKIP LOCKED (ingest/outbox.py,
targets_api/webhooks/delivery.py). Stopping (SIGTERM, Ctrl-C) cancels the loops, which rolls
back a cycle half done; its work is still queued for the next.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from fastapi import FastAPI
from pydantic import Field

from services.common.app import create_app as create_service_app
from services.common.catalogue import catalogue_client
from services.common.config import CommonSettings
from services.common.vocabulary import WorkerJob
from services.ingest.outbox import outbox_deliverer
from services.targets_api.progress.worker import progress_refresher
from services.targets_api.webhooks.delivery import webhook_deliverer


class WorkerSettings(CommonSettings):
    worker_only: WorkerJob | None = Field(
        default=None, description="Run only this job; unset: every job."
    )
    progress_poll_s: float = 0.5  # how often the refresher looks for queued change notices
    # After each refresh the refresher rests this many times as long as it took, so that under a
    # stream of submissions it takes at most 1 / (1 + rest) of a core from them and each refresh
    # takes up the notices of a longer while (their pairs overlap: work per notice falls). 0:
    # back to back.
    progress_rest: float = Field(default=1.0, ge=0)
    outbox_poll_s: float = 0.5
    outbox_timeout_s: float = 5.0
    outbox_max_backoff_s: float = 60.0
    webhook_poll_s: float = 1.0
    webhook_timeout_s: float = 5.0
    # A receiver that is down is retried at 1, 2, 4 ... s, then every hour at most, and given
    # up at whichever comes first: the attempts or the age (about 38 h of attempts, 3 days).
    webhook_max_backoff_s: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=50, ge=1)
    webhook_max_age_s: float = Field(default=3 * 24 * 3600.0, gt=0)

    @property
    def jobs(self) -> list[WorkerJob]:
        return [self.worker_only] if self.worker_only else list(WorkerJob)


def create_app(
    settings: WorkerSettings | None = None,
    database_url: str | None = None,
    metrics_api_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``metrics_api_transport``: see services.common.catalogue.catalogue_client."""
    settings = settings or WorkerSettings()
    resources: list[Callable[[FastAPI], AbstractAsyncContextManager[object]]] = []
    if WorkerJob.progress in settings.jobs:
        # The refresher reads the catalogue (metric definitions, the hierarchy) from metrics_api.
        resources += [catalogue_client(metrics_api_transport), progress_refresher]
    if WorkerJob.outbox in settings.jobs:
        resources.append(outbox_deliverer)
    if WorkerJob.webhooks in settings.jobs:
        resources.append(webhook_deliverer)
    return create_service_app(
        service="worker",
        title="joinedup worker",
        description=f"Background work: {', '.join(settings.jobs)}. Health, readiness and "
        "Prometheus metrics only; it answers no API requests.",
        settings=settings,
        routers=[],
        database_url=database_url,
        resources=resources,
    )
