"""The log lines of every service and of uvicorn inside it: one format for all of them, plain
text or one JSON object a line (``JOINEDUP_LOG_FORMAT``), the service and the request id
(``X-Request-ID``) in each, and which requests get an access line (``JOINEDUP_ACCESS_LOG``), so
that a demo or a bulk load does not drown everything else (docs/operations.md, *Logs*).

``log_config.json`` beside this module is the configuration: uvicorn is given it
(``--log-config``, by `joinedup up`, the deploy manifests and the tests' service processes) so
that its own lines are formatted like ours, and every app applies it again when it is made
(``configure_logging``), with its ``JOINEDUP_LOG_LEVEL``. uvicorn's own access lines are
off: the app's (``joinedup.access``) carry the request id and follow JOINEDUP_ACCESS_LOG.
"""

import json
import logging
import logging.config
import zlib
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_CONFIG_FILE = Path(__file__).with_name("log_config.json")
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(service)s request_id=%(request_id)s %(name)s: %(message)s"
)
# What an access line carries besides its message, as attributes of its record (and members of
# its JSON object): the request's method, path, status and time to answer in milliseconds.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
current_service: ContextVar[str] = ContextVar("service", default="cli")
access_log = logging.getLogger("joinedup.access")


class LogSettings(BaseSettings):
    """Read wherever a formatter or an app is made: uvicorn builds the formatter from
    log_config.json before any app's settings exist."""

    model_config = SettingsConfigDict(env_prefix="JOINEDUP_", extra="ignore")

    log_format: Literal["text", "json"] = "text"
    access_log: Literal["all", "sample", "errors"] = Field(
        default="sample",
        description="all: a line for every request; sample: for a share of them "
        "(access_log_sample); errors: for none but the ones always logged. Whatever it is, "
        "every 4xx, 5xx and slow request has its line.",
    )
    access_log_sample: float = Field(
        default=0.01, ge=0, le=1, description="The share of requests sample logs."
    )
    access_log_slow_ms: float = Field(
        default=1000.0, ge=0, description="A request slower than this always has its line."
    )


class ContextFilter(logging.Filter):
    """Gives every record the service and the request it was written for ("-": none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = current_service.get()
        record.request_id = current_request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, service, message,
    request_id (null outside a request), the access fields on access lines, and the
    traceback (exception) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "-")
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "service": getattr(record, "service", None),
            "message": record.getMessage(),
            "request_id": None if request_id == "-" else request_id,
        }
        entry.update(
            (field, getattr(record, field)) for field in ACCESS_FIELDS if hasattr(record, field)
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def formatter() -> logging.Formatter:
    """The formatter JOINEDUP_LOG_FORMAT asks for (log_config.json names this factory)."""
    if LogSettings().log_format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """log_config.json with the root logger at ``level``, for ``logging.config.dictConfig``
    or ``uvicorn.run(log_config=...)``."""
    config: dict[str, Any] = json.loads(LOG_CONFIG_FILE.read_text())
    config["root"]["level"] = level.upper()
    return config


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(level))


class AccessLog:
    """Which requests get an access line, and the line. A sampled request is chosen by its
    request id, so a request that crosses services (its id passed on) has its lines in all of
    them or in none."""

    def __init__(self, settings: LogSettings) -> None:
        self.mode = settings.access_log
        self.sample = settings.access_log_sample
        self.slow_ms = settings.access_log_slow_ms

    def wanted(self, request_id: str, status: int, duration_ms: float) -> bool:
        if self.mode == "all" or status >= 400 or duration_ms >= self.slow_ms:
            return True
        if self.mode == "errors":
            return False
        return zlib.crc32(request_id.encode()) < self.sample * 2**32

    def write(
        self, request_id: str, method: str, path: str, status: int, duration_ms: float
    ) -> None:
        if self.wanted(request_id, status, duration_ms):
            access_log.info(
                "%s %s %s %.1fms",
                method,
                path,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(duration_ms, 1),
                },
            )
