"""How targets_api answers a read of what the progress refresh materialised (progress, series,
performance, league tables): its ETag is named from what the answer depends on before it is
built, so ``If-None-Match`` costs the few indexed queries that find those out, and an answer
this process has built already is sent from its per-generation cache (services/common/etag.py).
"""

from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from services.common.catalogue import Catalogue
from services.common.etag import (
    RESPONSE_CACHE_RESULTS,
    Generation,
    Representation,
    ResponseCache,
    etag_for,
    matches,
    not_modified,
)
from services.common.responses import wants_csv
from services.common.telemetry import route_label

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


ResponseCacheDep = Annotated[ResponseCache, Depends(_response_cache)]


async def answer(
    request: Request,
    cache: ResponseCache,
    *,
    catalogue: Catalogue,
    today: date,
    generation: Generation | None,
    parts: tuple[Hashable, ...],
    build: Callable[[bool], Awaitable[Representation]],
) -> Response:
    """The read's answer, 304 or from the cache where it can be.

    ``parts``: everything the answer depends on besides the route, the catalogue, today (which
    decides what is provisional), the format and ``generation`` (None for an answer that does
    not come from the materialised tables: its parts must then change with its data).
    ``build(as_csv)`` makes the answer.
    """
    as_csv = wants_csv(request)
    route = route_label(request.scope)
    key = (route, *parts, catalogue.version, today.isoformat(), "csv" if as_csv else "json")
    etag = etag_for((generation, *key))
    if matches(request.headers.get("if-none-match"), etag):
        return not_modified(etag)
    found = cache.get(key, generation)
    if found is not None:
        RESPONSE_CACHE_RESULTS.labels(route, "hit").inc()
        return found.response(etag)
    built = await build(as_csv)
    kept = cache.put(key, generation, built)
    RESPONSE_CACHE_RESULTS.labels(route, "miss" if kept else "bypass").inc()
    return built.response(etag)
