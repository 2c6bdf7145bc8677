"""How targets_api answers a read of what the progress refresh materialised (progress, series,
performance, league tables): its ETag is named from what the answer depends on before it is
built, so ``If-None-Match`` costs the few indexed queries that find those out, and an answer
this process has built already is sent from its per-generation cache (services/common/etag.py).
"""

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from services.common.catalogue import Catalogue, CatalogueDep
from services.common.clock import TodayDep
from services.common.etag import (
    RESPONSE_CACHE_RESULTS,
    Generation,
    Representation,
    ResponseCache,
    etag_for,
    matches,
    not_modified,
)
from services.common.replica import note_generation
from services.common.responses import json_representation, wants_csv
from services.common.telemetry import route_label

M = TypeVar("M", bound=BaseModel)

# The type FastAPI declares for `responses`: a dict literal alone is inferred too narrowly.
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    304: {"description": "Not modified: `If-None-Match` holds the current `ETag`"},
}


def _response_cache(request: Request) -> ResponseCache:
    """The process's cache of answers, made at its first read (one per app, so one per test)."""
    state = request.app.state
    cache = getattr(state, "response_cache", None)
    if cache is None:
        cache = state.response_cache = ResponseCache()
    return cache


@dataclass(frozen=True)
class Read:
    """A read of the materialised progress: what every such answer depends on (the catalogue,
    today), and how it is answered."""

    request: Request
    cache: ResponseCache
    catalogue: Catalogue
    today: date

    async def answer(
        self,
        *,
        generation: Generation | None,
        parts: tuple[Hashable, ...],
        model: Callable[[], Awaitable[M]],
        csv: Callable[[M], Representation],
        as_csv: bool | None = None,
    ) -> Response:
        """The answer, 304 or from the cache where it can be; else ``model()`` as JSON, or as
        ``csv(model)`` when the client asks for CSV.

        ``parts``: everything the answer depends on besides the route, the catalogue, today
        (which decides what is provisional), the format and ``generation`` (None for an answer
        not made from the materialised tables: its parts must then change with its data).
        ``as_csv``: CSV whatever the Accept header says (a CSV-only format); None: as it says.
        """
        note_generation(self.request, generation)
        as_csv = wants_csv(self.request) if as_csv is None else as_csv
        route = route_label(self.request.scope)
        key = (route, *parts, self.catalogue.version, self.today, "csv" if as_csv else "json")
        etag = etag_for((generation, *key))
        if matches(self.request.headers.get("if-none-match"), etag):
            return not_modified(etag)

        async def build() -> Representation:
            made = await model()
            return csv(made) if as_csv else json_representation(made)

        built, result = await self.cache.get_or_build(key, generation, build)
        RESPONSE_CACHE_RESULTS.labels(route, result).inc()
        return built.response(etag)


def _read(
    request: Request,
    catalogue: CatalogueDep,
    today: TodayDep,
    cache: Annotated[ResponseCache, Depends(_response_cache)],
) -> Read:
    return Read(request, cache, catalogue, today)


ReadDep = Annotated[Read, Depends(_read)]
