"""Conditional reads of materialised data: ETags named before the answer is built, and a small
in-process cache of built answers that never outlives the generation it was built from.

A read whose answer is a function of a few known things (the generation of the tables it reads,
the catalogue's version, today's date, its parameters and format) can name that answer from
them, before reading it: its ETag is a hash of those parts. ``If-None-Match`` is then answered
304 without building anything, and an answer built once is kept under the same parts.

Not ``services.common.http.ETagCache``: that one is a client's copy of a peer's resource,
revalidated with the peer and served stale in outages; this one is a server's memo of its own
answers, exact by construction, with nothing to revalidate.
"""

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from prometheus_client import Counter
from starlette.responses import Response

RESPONSE_CACHE_RESULTS = Counter(
    "joinedup_response_cache_total",
    "Reads answered from the per-generation response cache (hit), by another read's build "
    "(shared), built and kept (miss), or built and not kept (bypass: built from an older "
    "generation than the cache's, or larger than it), by route template.",
    ["route", "result"],
)


def etag_list(header: str) -> list[str]:
    """The tags of an ``If-None-Match`` or ``If-Match`` header, compared weakly (``W/`` off)."""
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def matches(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names the current representation: ``*``, or a list holding it."""
    if not header:
        return False
    return header.strip() == "*" or etag.removeprefix("W/") in etag_list(header)


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag})


def etag_for(parts: tuple) -> str:
    """A strong ETag naming the answer that ``parts`` determine: equal parts, equal bytes. The
    same in every process and replica (dates and dataclasses are written as plain JSON)."""
    text = json.dumps(parts, default=_plain, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} cannot be part of an ETag")


@dataclass(frozen=True)
class Generation:
    """Which refresh produced the materialised figures: its number, and when it committed
    (with the number, it tells a database rebuilt from scratch from the one before)."""

    number: int
    made_at: datetime | None


@dataclass(frozen=True)
class Representation:
    """A built answer: what the response sends besides its ETag."""

    body: bytes
    media_type: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def response(self, etag: str) -> Response:
        return Response(
            self.body, media_type=self.media_type, headers={**self.headers, "ETag": etag}
        )


class ResponseCache:
    """Built answers by key, least recently used first out, bounded by entries and by bytes.

    An entry built from a generation is kept with it. When a newer generation is seen every
    entry of an older one is dropped, and an answer built from an older one than the cache's
    (a reader that started before a refresh committed) is not stored: so no entry of an older
    generation is ever served. Entries built from no generation (``None``: the answer's key
    itself changes with its data) are kept until they are pushed out.

    Concurrent misses of one key share one build (at a refresh, twenty readers of England's
    performance would otherwise build it twenty times over): the first builds on its own
    database session, the others wait for it, and build their own only if it fails or is
    cancelled (its client went away).
    """

    def __init__(self, *, max_entries: int = 512, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.generation: Generation | None = None
        self._entries: OrderedDict[Hashable, tuple[Generation | None, Representation]] = (
            OrderedDict()
        )
        self._bytes = 0
        self._building: dict[tuple[Hashable, Generation | None], asyncio.Future] = {}

    async def get_or_build(
        self,
        key: Hashable,
        generation: Generation | None,
        build: Callable[[], Awaitable[Representation]],
    ) -> tuple[Representation, str]:
        """The answer kept under ``key``, or the one being built for it, or ``build()``'s; with
        ``hit``, ``shared``, ``miss`` (built and kept) or ``bypass`` (built, not kept)."""
        found = self.get(key, generation)
        if found is not None:
            return found, "hit"
        building = self._building.get((key, generation))
        if building is not None:
            try:
                return await asyncio.shield(building), "shared"
            except asyncio.CancelledError:
                if not building.cancelled():  # this request was cancelled, not the build
                    raise
        future: asyncio.Future[Representation] = asyncio.get_running_loop().create_future()
        self._building[(key, generation)] = future
        try:
            built = await build()
        except BaseException:
            future.cancel()  # the waiters build their own
            raise
        finally:
            if self._building.get((key, generation)) is future:
                del self._building[(key, generation)]
        future.set_result(built)
        return built, "miss" if self.put(key, generation, built) else "bypass"

    def get(self, key: Hashable, generation: Generation | None) -> Representation | None:
        self._see(generation)
        found = self._entries.get(key)
        if found is None or found[0] != generation:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, generation: Generation | None, answer: Representation) -> bool:
        """Keep ``answer``; False (not kept) when its generation is older than the cache's or it
        alone is larger than the cache."""
        self._see(generation)
        if generation is not None and generation != self.generation:
            return False
        if len(answer.body) > self.max_bytes:
            return False
        self._drop(key)
        self._entries[key] = (generation, answer)
        self._bytes += len(answer.body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def _see(self, generation: Generation | None) -> None:
        # A number not above ours with another made_at (a database rebuilt from scratch) is
        # not adopted either: its answers are built and sent, and not stored.
        if generation is None or (
            self.generation is not None and generation.number <= self.generation.number
        ):
            return
        self.generation = generation
        for key in [k for k, (made, _) in self._entries.items() if made not in (None, generation)]:
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= len(found[1].body)
