"""The base HTTP client one service uses to read from another.

``ServiceClient`` sends the service's API key, bounds every call with timeouts and retries a GET
with exponential backoff and jitter while the peer is unreachable or says it is overloaded.
``ETagCache`` sits on top of it: it answers from memory within a short fresh window, revalidates
with ``If-None-Match`` after it, and while the peer is down keeps serving the last good body for a
staleness window, telling the caller that it did so.
"""

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
from prometheus_client import Counter

from services.common.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# Statuses that mean "not now" rather than "no": worth another try after a pause.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Failures of the transport itself (refused, reset, timed out, cut off mid-response).
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
DEFAULT_RETRY_AFTER_S = 5

PEER_ATTEMPTS = Counter(
    "joinedup_peer_requests_total",
    "Requests this service sent to a peer, by peer and outcome (status code or error).",
    ["peer", "outcome"],
)
PEER_CACHE_RESULTS = Counter(
    "joinedup_peer_cache_results_total",
    "Reads through the peer cache, by peer and how they were answered: fresh (no request), "
    "revalidated (304), fetched (200), stale (peer down, cached body served), unavailable.",
    ["peer", "result"],
)

EventHooks = Mapping[str, Sequence[Callable[..., Awaitable[None]]]]


class PeerUnavailable(ServiceUnavailable):
    """A peer could not be reached and nothing usable was cached: answer 503 with Retry-After."""

    def __init__(
        self, peer: str, retry_after_s: int = DEFAULT_RETRY_AFTER_S, *, reason: str = ""
    ) -> None:
        # The detail reaches the public client, so it names the peer but never its address.
        super().__init__(
            f"{peer} is unavailable; try again in {retry_after_s} s.", retry_after_s=retry_after_s
        )
        self.peer = peer
        self.retry_after_s = retry_after_s
        self.reason = reason


class PeerRejected(Exception):
    """The peer answered, and the answer was a 4xx: retrying the same request cannot help.

    Deliberately not a ``Problem``: the caller of this service did nothing wrong, so it gets a
    logged 500 while the message here tells the operator what the peer said.
    """

    def __init__(
        self, peer: str, path: str, status: int, detail: str, *, message: str | None = None
    ) -> None:
        super().__init__(message or f"{peer} refused GET {path} with {status}: {detail}")
        self.peer = peer
        self.path = path
        self.status = status
        self.detail = detail


class PeerAuthRejected(PeerRejected):
    """The peer refused this service's own key: a deployment fault, not the caller's."""

    def __init__(self, peer: str, path: str, status: int, detail: str, *, key_set: bool) -> None:
        problem = (
            "is invalid, revoked or lacks the role it needs" if key_set else "is not configured"
        )
        super().__init__(
            peer,
            path,
            status,
            detail,
            message=(
                f"Operator error: the API key this service uses to call {peer} {problem} "
                f"({peer} answered {status} to GET {path}: {detail}). Create a key for the service "
                f"with `joinedup keys create` and put it in the service's settings."
            ),
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object; empty when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def problem_detail(response: httpx.Response, limit: int = 200) -> str:
    """A problem's ``detail``, or the start of whatever else the body says."""
    detail = json_object(response).get("detail")
    if isinstance(detail, str) and detail:
        return detail
    return response.text.strip()[:limit] or response.reason_phrase


@dataclass(frozen=True)
class Backoff:
    """How long to wait before another attempt: the peer's ``Retry-After`` up to a cap, else
    exponential from ``base_s`` up to ``max_s`` with jitter, which spreads the retries of many
    clients that failed together so they do not all return to a recovering peer at once."""

    base_s: float
    max_s: float
    max_retry_after_s: float

    def pause(self, retry: int, retry_after: float | None = None) -> float:
        """``retry``: 0 before the second attempt, 1 before the third..."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        ceiling = min(self.max_s, self.base_s * 2**retry)
        return random.uniform(ceiling / 2, ceiling)


class ServiceClient:
    """GETs from one peer with its API key, timeouts, and retries with backoff and jitter."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        peer: str,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        retries: int = 3,
        backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        max_retry_after_s: float = 5.0,
        event_hooks: EventHooks | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network: tests use it to reach a real peer app in-process."""
        self.peer = peer
        self.retries = retries
        self.backoff = Backoff(backoff_s, max_backoff_s, max_retry_after_s)
        self._key_set = bool(api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            event_hooks={name: list(hooks) for name, hooks in (event_hooks or {}).items()},
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A 2xx or 304 response; ``PeerUnavailable`` once the retries are spent on failures
        that may pass, ``PeerRejected`` at once on a 4xx that will not."""
        retry_after: float | None = None
        reason = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff.pause(attempt - 1, retry_after))
            try:
                response = await self._http.get(path, params=params, headers=headers)
            except RETRYABLE_ERRORS as exc:
                PEER_ATTEMPTS.labels(self.peer, type(exc).__name__).inc()
                retry_after, reason = None, f"{type(exc).__name__}: {exc}"
                continue
            PEER_ATTEMPTS.labels(self.peer, str(response.status_code)).inc()
            if response.status_code in RETRYABLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                reason = f"{response.status_code}: {problem_detail(response)}"
                continue
            self._raise_for_refusal(path, response)
            return response
        log.warning(
            "%s: GET %s failed after %d attempts (%s)", self.peer, path, self.retries + 1, reason
        )
        raise PeerUnavailable(self.peer, self._retry_after_hint(retry_after), reason=reason)

    def _retry_after_hint(self, retry_after: float | None) -> int:
        if retry_after is None:
            return DEFAULT_RETRY_AFTER_S
        return max(1, math.ceil(retry_after))

    def _raise_for_refusal(self, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status >= 500:
            # A 500 is not retried (it is likely to repeat) but the peer is still failing, not
            # refusing: callers fall back to their cache as for an outage.
            raise PeerUnavailable(self.peer, reason=f"{status}: {problem_detail(response)}")
        if status in (401, 403):
            raise PeerAuthRejected(
                self.peer, path, status, problem_detail(response), key_set=self._key_set
            )
        raise PeerRejected(self.peer, path, status, problem_detail(response))


@dataclass(frozen=True)
class CachedJson:
    """A body read through the cache, and how current it is. ``data`` is shared with the cache
    and later readers: treat it as read-only."""

    data: Any
    etag: str | None
    stale: bool
    age_s: float  # since the peer last confirmed this body (a 200 or a 304)


@dataclass
class _Entry:
    data: Any
    etag: str | None
    confirmed_at: float


class ETagCache:
    """GET-and-decode JSON through a ``ServiceClient``, revalidated with ETags.

    - Within ``fresh_s`` of the last confirmation the cached body is returned with no request.
    - After it, the entry is revalidated with ``If-None-Match``; a 304 confirms it again.
    - If the peer cannot be reached, the cached body is served (``stale=True``) while it is
      younger than ``max_stale_s``; with nothing usable, ``PeerUnavailable`` is raised. A failed
      refresh never evicts an entry, and for ``fresh_s`` after one the peer is not tried again,
      so an outage costs one round of retries per window instead of one per request.
    - A refusal (4xx) is raised even when a cached body exists: the staleness window is for
      outages, and serving on with a revoked key would hide the fault for an hour.
    - Concurrent reads of one key share a single request (no stampede on the peer).

    Entries are kept per (path, params); callers read a fixed set of resources, so the cache
    is bounded by what they ask for.
    """

    def __init__(
        self,
        client: ServiceClient,
        *,
        fresh_s: float = 5.0,
        max_stale_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.fresh_s = fresh_s
        self.max_stale_s = max_stale_s
        # Seconds that only move forwards; a test passes a clock it moves by hand, so it can
        # step through the windows instead of sleeping through them.
        self.clock = clock
        self._entries: dict[tuple, _Entry] = {}
        self._failed: dict[tuple, tuple[float, PeerUnavailable]] = {}
        self._inflight: dict[tuple, asyncio.Future[CachedJson]] = {}

    async def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, revalidate: bool = False
    ) -> CachedJson:
        """The body at ``path``; ``revalidate`` skips the fresh window (e.g. after learning
        that the peer's data changed)."""
        key = (path, tuple(sorted((params or {}).items())))
        now = self.clock()
        entry = self._entries.get(key)
        if entry and not revalidate and now - entry.confirmed_at < self.fresh_s:
            self._count("fresh")
            return CachedJson(entry.data, entry.etag, False, now - entry.confirmed_at)
        failed = self._failed.get(key)
        if failed and not revalidate and now - failed[0] < self.fresh_s:
            return self._fallback(key, failed[1])
        refresh = self._inflight.get(key)
        if refresh is None:
            refresh = self._inflight[key] = asyncio.create_task(self._refresh(key, path, params))
            refresh.add_done_callback(lambda task: self._settle(key, task))
        # Shielded: one caller giving up must not cancel the refresh the others are awaiting.
        return await asyncio.shield(refresh)

    async def _refresh(self, key: tuple, path: str, params: Mapping[str, Any] | None) -> CachedJson:
        entry = self._entries.get(key)
        headers = {"If-None-Match": entry.etag} if entry and entry.etag else None
        try:
            response = await self.client.get(path, params=params, headers=headers)
            data = None if response.status_code == 304 else response.json()
        except ValueError as exc:  # a 200 whose body is not JSON: the peer is broken, not down
            return self._fail(key, PeerUnavailable(self.client.peer, reason=f"bad JSON: {exc}"))
        except PeerUnavailable as exc:
            return self._fail(key, exc)
        self._failed.pop(key, None)
        now = self.clock()
        if response.status_code == 304 and entry is not None:
            entry.confirmed_at = now
            self._count("revalidated")
        else:
            entry = self._entries[key] = _Entry(data, response.headers.get("etag"), now)
            self._count("fetched")
        return CachedJson(entry.data, entry.etag, False, 0.0)

    def _settle(self, key: tuple, task: asyncio.Task) -> None:
        self._inflight.pop(key, None)
        # Every caller may have been cancelled; retrieving the outcome here keeps asyncio from
        # reporting an exception that nobody awaited.
        if not task.cancelled():
            task.exception()

    def _fail(self, key: tuple, error: PeerUnavailable) -> CachedJson:
        self._failed[key] = (self.clock(), error)
        result = self._fallback(key, error)
        log.warning(
            "%s: serving %s from a copy %.0f s old (the limit is %.0f s)",
            error.peer,
            key[0],
            result.age_s,
            self.max_stale_s,
        )
        return result

    def _fallback(self, key: tuple, error: PeerUnavailable) -> CachedJson:
        entry = self._entries.get(key)
        age = self.clock() - entry.confirmed_at if entry else math.inf
        if entry is None or age >= self.max_stale_s:
            self._count("unavailable")
            raise PeerUnavailable(error.peer, error.retry_after_s, reason=error.reason)
        self._count("stale")
        return CachedJson(entry.data, entry.etag, True, age)

    def _count(self, result: str) -> None:
        PEER_CACHE_RESULTS.labels(self.client.peer, result).inc()
