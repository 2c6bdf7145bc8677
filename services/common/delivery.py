"""What the transactional outboxes' deliverers share (ingest's change notices to targets_api,
services/ingest/outbox.py; targets_api's webhooks to areas' receivers,
services/targets_api/webhooks/delivery.py): the loop that keeps delivering while the worker
runs, and what one POST's answer means.

Each deliverer claims its due rows with ``FOR UPDATE SKIP LOCKED`` in one transaction, sends
them, and records in that transaction what happened, so several worker processes share the
work without sending a row twice at the same moment, and a cycle cut short (the worker
stopped, the database gone) rolls back and leaves its rows to be claimed again. What to wait
before a retry is services/common/http.py's ``Backoff``.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from services.common.http import parse_retry_after

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """Why a row was not delivered: the error, the peer's status when it answered, and how
    long it asked us to wait, if it did."""

    error: str
    retry_after: float | None = None
    status: int | None = None


async def post(client: httpx.AsyncClient, url: str, *, peer: str, **request: Any) -> Refusal | None:
    """POST and say why it was not taken: a connection error, or any status but 2xx (a
    redirect is not followed: the receiver named is the one that must take it)."""
    try:
        response = await client.post(url, **request)
    except httpx.HTTPError as exc:
        return Refusal(f"{type(exc).__name__}: {exc}")
    if not 200 <= response.status_code < 300:
        return Refusal(
            f"{peer} answered {response.status_code}: {response.text[:200]}",
            parse_retry_after(response.headers.get("retry-after")),
            response.status_code,
        )
    return None


async def keep_delivering(
    deliver_once: Callable[[], Awaitable[int]], *, poll_s: float, what: str
) -> None:
    """Run delivery cycles until cancelled: straight on while there is work, pausing ``poll_s``
    when a cycle delivered nothing or failed (the database may be restarting)."""
    while True:
        try:
            delivered = await deliver_once()
        except Exception:
            log.exception("%s delivery cycle failed", what)
            delivered = 0
        if not delivered:
            await asyncio.sleep(poll_s)
