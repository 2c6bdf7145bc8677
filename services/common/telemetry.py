"""Request ids, structured logs and Prometheus metrics for every service."""

import logging
import math
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logs import AccessLog, LogSettings, current_request_id, current_service

HTTP_REQUESTS = Counter(
    "joinedup_http_requests_total",
    "HTTP requests answered, by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "joinedup_http_request_duration_seconds",
    "Time to answer an HTTP request, by service, method, route template and status.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30),
)

# Incoming ids are echoed into logs and headers, so only short, plain ones are trusted.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger(__name__)


def route_label(scope: Scope) -> str:
    """The route template (``/v1/metrics/{code}``), never the raw path, to bound label values."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestTelemetryMiddleware:
    """Gives each request an id (echoed as ``X-Request-ID``), counts and times it, and gives it
    an access line when JOINEDUP_ACCESS_LOG wants one (services/common/logs.py)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        self.access_log = AccessLog(LogSettings())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        service_token = current_service.set(self.service)
        id_token = current_request_id.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Replaced, not added to: a handler may have set it already (the 500s do, as
                # theirs can be sent from outside this middleware), and one header is one id.
                message["headers"] = [
                    *(
                        (name, value)
                        for name, value in message.get("headers", [])
                        if name.lower() != b"x-request-id"
                    ),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            labels = (self.service, scope["method"], route_label(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_DURATION.labels(*labels).observe(elapsed)
            self.access_log.write(
                request_id, scope["method"], scope["path"], status, elapsed * 1000
            )
            current_request_id.reset(id_token)
            current_service.reset(service_token)


class GaugeFamily:
    """One gauge's samples, written as exposition text as they are added.

    For figures read at scrape time. prometheus-client's own formatter takes over a second for
    a national scrape (50,000 outcome samples, bench/scrape.py); text built here, with each
    row's labels written once for all its gauges, takes a fraction of that.
    """

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.header = f"# HELP {name} {_escape(documentation, quotes=False)}\n# TYPE {name} gauge\n"
        self.lines: list[str] = []

    def add(self, labels: str, value: float) -> None:
        """``labels`` from ``label_text``."""
        self.lines.append(f"{self.name}{{{labels}}} {_number(value)}\n")

    def text(self) -> str:
        return self.header + "".join(self.lines)


def label_text(**labels: str) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())


def _escape(value: str, *, quotes: bool = True) -> str:
    value = value.replace("\\", "\\\\").replace("\n", "\\n")
    return value.replace('"', '\\"') if quotes else value


def _number(value: float) -> str:
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


# Reads of the database made at scrape time, for figures that live in tables (outcomes,
# last submissions) rather than in this process: every process and replica reports the same.
ScrapeCollector = Callable[[FastAPI, AsyncSession], Awaitable[Iterable[GaugeFamily]]]


def _multiprocess_dir() -> str | None:
    """Set (by `joinedup up --workers N`, or the image's entrypoint) when several uvicorn
    workers serve one port: each writes its values to files there."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """This process's metrics; with PROMETHEUS_MULTIPROC_DIR set (several uvicorn workers),
    every worker's, summed as prometheus-client's multiprocess mode does."""
    if not _multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def process_exiting() -> None:
    """Called as a worker process stops: its ``live*`` gauges leave the sum with it, while its
    counters stay counted (a count does not go back down because a process ended)."""
    if directory := _multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid(), directory)


async def metrics_response(app: FastAPI, collectors: Sequence[ScrapeCollector]) -> Response:
    """The process metrics, then each scrape collector's; a collector that fails is reported
    as ``joinedup_scrape_collector_success 0`` and the rest of the scrape still answers."""
    families: list[GaugeFamily] = []
    success = GaugeFamily(
        "joinedup_scrape_collector_success", "1 if the collector read its figures at this scrape."
    )
    for collector in collectors:
        try:
            async with app.state.sessionmaker() as session:
                families += await collector(app, session)
            success.add(label_text(collector=collector.__name__), 1)
        except Exception:  # the database may be down: the scrape says so and still answers
            log.exception("scrape collector %s failed", collector.__name__)
            success.add(label_text(collector=collector.__name__), 0)
    if collectors:
        families.append(success)
    body = generate_latest(process_registry()) + "".join(f.text() for f in families).encode()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
