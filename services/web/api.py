"""The web app's client to the three APIs, always with the signed-in person's own key.

The APIs are the authority on what a key may see and do: a refusal is passed on as what it is
(401: the key no longer works, so the session ends; 403: the page says the API refused, and
why), never worked around, and nothing is cached across keys. Reads go through
``ServiceClient`` (timeouts, retries while a peer is down); a write is sent once.
"""

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from services.common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    Unprocessable,
)
from services.common.http import (
    RETRYABLE_ERRORS,
    PeerRejected,
    PeerUnavailable,
    ServiceClient,
    json_object,
    problem_detail,
)

T = TypeVar("T")

# How many requests one page sends at once (a matrix of places fans out).
FAN_OUT = 8


class Peer(StrEnum):
    metrics_api = "metrics_api"
    targets_api = "targets_api"
    ingest = "ingest"


class KeyRejected(Exception):
    """An API answered 401: the session's key is revoked or unknown, so the session must end."""


_REFUSALS: dict[int, type[Problem]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def refusal(peer: str, status: int, detail: str, errors: Any = None) -> Exception:
    """The web app's answer to an API's 4xx: the same status, the API's own words."""
    if status == 401:
        return KeyRejected(detail)
    problem = _REFUSALS.get(status, BadRequest)
    return problem(f"{peer} answered {status}: {detail}", errors=errors or None)


class Apis:
    """One HTTP client per API for the life of the web process."""

    def __init__(
        self,
        urls: Mapping[Peer, str],
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._readers = {
            peer: ServiceClient(url, None, peer=str(peer), timeout_s=timeout_s, transport=transport)
            for peer, url in urls.items()
        }
        self._writers = {
            peer: httpx.AsyncClient(
                base_url=url, timeout=httpx.Timeout(timeout_s), transport=transport
            )
            for peer, url in urls.items()
        }

    async def aclose(self) -> None:
        for reader in self._readers.values():
            await reader.aclose()
        for writer in self._writers.values():
            await writer.aclose()

    async def ready(self, peer: Peer) -> bool:
        """Whether the API answers its own /readyz (no key needed)."""
        try:
            response = await self._writers[peer].get("/readyz")
        except RETRYABLE_ERRORS:
            return False
        return response.status_code == 200

    def as_key(self, key: str) -> "Caller":
        return Caller(self, key)

    def anonymous(self, visitor: str | None) -> "Caller":
        """The APIs as anyone, with no key: for the public pages, which read only /public/.
        ``visitor``: the visitor's address, sent as X-Forwarded-For so that targets_api's
        public rate limit counts each visitor rather than the web server (uvicorn believes it
        from the addresses its --forwarded-allow-ips trusts: by default 127.0.0.1)."""
        return Caller(self, None, forwarded_for=visitor)


@dataclass(frozen=True)
class Caller:
    """The APIs, as one key."""

    apis: Apis
    key: str | None  # None: anonymous (Apis.anonymous)
    forwarded_for: str | None = None

    @property
    def _auth(self) -> dict[str, str]:
        if self.key is None:
            return {} if self.forwarded_for is None else {"X-Forwarded-For": self.forwarded_for}
        return {"Authorization": f"Bearer {self.key}"}

    async def get(self, peer: Peer, path: str, **params: Any) -> Any:
        """The decoded JSON body of a GET; a refusal raised as the web app's own problem."""
        query = {name: value for name, value in params.items() if value is not None}
        try:
            response = await self.apis._readers[peer].get(path, params=query, headers=self._auth)
        except PeerRejected as rejected:
            raise refusal(str(peer), rejected.status, rejected.detail) from None
        return response.json()

    async def get_all(self, peer: Peer, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a list, page by page."""
        rows: list[dict[str, Any]] = []
        while True:
            page = await self.get(peer, path, limit=1000, offset=len(rows), **params)
            rows += page["data"]
            if not page["data"] or len(rows) >= page["count"]:
                return rows

    async def post(self, peer: Peer, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A write, sent once (it is not idempotent); its JSON answer on success."""
        return await self._write(peer, path, json=body)

    async def put(self, peer: Peer, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A replacement, sent once; its JSON answer on success."""
        return await self._write(peer, path, json=body, method="PUT")

    async def delete(self, peer: Peer, path: str) -> None:
        """A removal, sent once."""
        await self._write(peer, path, method="DELETE")

    async def post_csv(
        self, peer: Peer, path: str, body: bytes, *, idempotency_key: str, **params: Any
    ) -> dict[str, Any]:
        """A CSV body (ingest's submissions), sent once with the Idempotency-Key that makes
        sending it again (a person's retry) answer as the first time."""
        return await self._write(
            peer,
            path,
            content=body,
            params=params,
            headers={"Content-Type": "text/csv", "Idempotency-Key": idempotency_key},
        )

    async def _write(
        self,
        peer: Peer,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        try:
            response = await self.apis._writers[peer].request(
                method,
                path,
                json=json,
                content=content,
                params=params,
                headers={**self._auth, **(headers or {})},
            )
        except RETRYABLE_ERRORS as exc:
            raise PeerUnavailable(str(peer), reason=f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise PeerUnavailable(str(peer), reason=f"{response.status_code}")
        if response.status_code >= 400:
            errors = json_object(response).get("errors")
            raise refusal(str(peer), response.status_code, problem_detail(response), errors)
        return json_object(response)


async def bounded(work: Iterable[Awaitable[T]], limit: int = FAN_OUT) -> list[T]:
    """Await every item, at most ``limit`` at once, in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    return list(await asyncio.gather(*(one(item) for item in work)))
