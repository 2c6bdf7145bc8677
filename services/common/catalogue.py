"""The catalogue the services check against: every area and every metric definition, read from
metrics_api over HTTP through the ETag cache, so an outage of metrics_api delays nothing while
the cached copy is recent enough. ingest and targets_api each reach it through their clients/."""

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, TypeAdapter

from services.common import periods
from services.common.config import CommonSettings
from services.common.etag import etag_for
from services.common.http import CachedJson, ETagCache, EventHooks, ServiceClient
from services.common.vocabulary import Aggregation, Direction, Kind

log = logging.getLogger(__name__)

PEER = "metrics_api"
PAGE_SIZE = 1000  # the largest page metrics_api serves
# A page can change while the pages after it are read; the walk is repeated (from the peer,
# not the cache) until every page agrees on the total, a few times at most.
MAX_WALKS = 3


class _Frozen(BaseModel):
    # Unknown fields are ignored so that metrics_api can add fields without breaking ingest.
    model_config = ConfigDict(frozen=True, extra="ignore")


class AreaRef(_Frozen):
    code: str
    name: str
    level: Literal["nation", "region", "icb", "place"]
    parent_code: str | None
    population: int | None


class MetricDef(_Frozen):
    """One metric at its current version: what a submitted value is checked against."""

    code: str
    name: str
    unit: str
    version: int
    status: Literal["active", "retired"]
    scope: Literal["national", "local"]
    owner_area_code: str
    kind: Kind
    multiplier: float | None
    direction: Direction
    periodicity: Literal["monthly", "quarterly", "annual", "financial_year"]
    aggregation: Aggregation
    valid_min: float | None
    valid_max: float | None
    decimals: int
    submission_deadline_days: int
    mandatory: bool
    # The first period for which data is expected (API.md amendments). Optional so that a
    # catalogue from a metrics_api older than the field still reads; None then excludes no
    # period.
    reporting_from: str | None = None

    def provisional(self, period: str, today: date) -> bool:
        """Figures for the period stay provisional until its submission deadline has passed
        (API.md amendments, "Open and closed periods")."""
        return not periods.is_closed(periods.parse(period), self.submission_deadline_days, today)


_AREAS = TypeAdapter(list[AreaRef])
_METRICS = TypeAdapter(list[MetricDef])


@dataclass(frozen=True)
class Catalogue:
    """Every area and metric, and whether they came from a stale cache (metrics_api down)."""

    areas: Mapping[str, AreaRef]
    metrics: Mapping[str, MetricDef]
    stale: bool = False
    age_s: float = 0.0  # since metrics_api last confirmed the oldest page of it
    # Names this content in the ETags and cache keys of answers made from it: a hash of the
    # ETags of the pages it was read from; without them, unique to this copy, so that nothing
    # made from it is matched or kept for another.
    version: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_rows(cls, areas: Iterable[Any], metrics: Iterable[Any]) -> "Catalogue":
        return cls(
            areas=MappingProxyType({a.code: a for a in _AREAS.validate_python(areas)}),
            metrics=MappingProxyType({m.code: m for m in _METRICS.validate_python(metrics)}),
        )

    def area(self, code: str) -> AreaRef | None:
        return self.areas.get(code)

    def metric(self, code: str) -> MetricDef | None:
        return self.metrics.get(code)

    def places_in(self, area_code: str) -> dict[str, list[str]]:
        """Every place under the area (or the area itself, if it is a place), with its
        lineage, in code order."""
        return {
            code: lineage
            for code in sorted(self.areas)
            if self.areas[code].level == "place" and area_code in (lineage := self.lineage(code))
        }

    def applies(self, metric: MetricDef, place_code: str) -> bool:
        """Whether places are held to the metric there: a national metric applies to every
        place, a local one to the places at or below its owner."""
        return metric.scope == "national" or metric.owner_area_code in self.lineage(place_code)

    def lineage(self, area_code: str) -> list[str]:
        """The area and its ancestors, nearest first (what key scopes are checked against);
        [] for an unknown area."""
        chain: list[str] = []
        code: str | None = area_code
        # The last test guards against a cycle in bad data looping forever.
        while code is not None and code in self.areas and code not in chain:
            chain.append(code)
            code = self.areas[code].parent_code
        return chain


class MetricsApiClient(ServiceClient):
    """Reads the catalogue from metrics_api: cached, revalidated, and served stale in outages."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        fresh_s: float = 5.0,
        max_stale_s: float = 3600.0,
        event_hooks: EventHooks | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            peer=PEER,
            timeout_s=timeout_s,
            retries=retries,
            event_hooks=event_hooks,
            transport=transport,
        )
        self.cache = ETagCache(self, fresh_s=fresh_s, max_stale_s=max_stale_s, clock=clock)
        # The catalogue last built, keyed by the ETags of its pages: parsing 200+ rows on every
        # request is avoidable work while nothing has changed.
        self._built: tuple[tuple[str | None, ...], Catalogue] | None = None

    async def knowing(
        self, catalogue: Catalogue, *, areas: Iterable[str] = (), metrics: Iterable[str] = ()
    ) -> Catalogue:
        """``catalogue``, confirmed with metrics_api first if it lacks any of these codes: an
        area or metric added a moment ago must not be refused from a copy a few seconds old. A
        stale copy (metrics_api is down) is answered as it is: asking again cannot help."""
        known = all(catalogue.area(c) for c in areas) and all(catalogue.metric(c) for c in metrics)
        if known or catalogue.stale:
            return catalogue
        return await self.catalogue(revalidate=True)

    async def catalogue(self, *, revalidate: bool = False) -> Catalogue:
        """All areas and all metrics (retired ones too, so a submission for one can be told
        why it is refused). ``revalidate`` asks metrics_api even within the fresh window,
        e.g. before rejecting a metric code that is not in the cached copy.

        Raises ``PeerUnavailable`` (a 503 with Retry-After) when metrics_api cannot be reached
        and the cache is empty or too old, ``PeerRejected`` when it refuses the request.
        """
        area_pages = await self._walk("/v1/areas", revalidate)
        metric_pages = await self._walk("/v1/metrics", revalidate)
        pages = area_pages + metric_pages
        etags = tuple(page.etag for page in pages)
        if self._built is None or self._built[0] != etags or None in etags:
            built = Catalogue.from_rows(_rows(area_pages), _rows(metric_pages))
            if None not in etags:
                built = replace(built, version=etag_for(etags))
            self._built = (etags, built)
        return replace(
            self._built[1],
            stale=any(page.stale for page in pages),
            age_s=max(page.age_s for page in pages),
        )

    async def _walk(self, path: str, revalidate: bool) -> list[CachedJson]:
        for _ in range(MAX_WALKS):
            pages = [await self._page(path, 0, revalidate)]
            total = pages[0].data["count"]
            while len(pages) * PAGE_SIZE < total:
                pages.append(await self._page(path, len(pages) * PAGE_SIZE, revalidate))
            consistent = (
                all(page.data["count"] == total for page in pages) and len(_rows(pages)) == total
            )
            if consistent or any(page.stale for page in pages):
                return pages
            revalidate = True
        log.warning("%s%s kept changing while it was read; using the last reading", PEER, path)
        return pages

    async def _page(self, path: str, offset: int, revalidate: bool) -> CachedJson:
        return await self.cache.get_json(
            path, {"limit": PAGE_SIZE, "offset": offset}, revalidate=revalidate
        )


def _rows(pages: Iterable[CachedJson]) -> list[Any]:
    return [row for page in pages for row in page.data["data"]]


def catalogue_client(
    transport: httpx.AsyncBaseTransport | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[MetricsApiClient]]:
    """An app resource: the service's catalogue client, open while the app runs.

    ``transport`` reaches metrics_api without the network (tests run the real metrics_api app
    in-process); by default it is found at JOINEDUP_METRICS_API_URL.
    """

    @asynccontextmanager
    async def open_client(app: FastAPI) -> AsyncIterator[MetricsApiClient]:
        settings: CommonSettings = app.state.settings
        async with MetricsApiClient(
            settings.metrics_api_url,
            settings.service_key,
            timeout_s=settings.catalogue_timeout_s,
            retries=settings.catalogue_retries,
            fresh_s=settings.catalogue_fresh_s,
            max_stale_s=settings.catalogue_max_stale_s,
            transport=transport,
        ) as client:
            app.state.metrics_api = client
            yield client

    return open_client


async def _current_catalogue(request: Request) -> Catalogue:
    """The catalogue as metrics_api last confirmed it; 503 if it cannot be had at all."""
    return await request.app.state.metrics_api.catalogue()


CatalogueDep = Annotated[Catalogue, Depends(_current_catalogue)]


async def _confirmed_catalogue(request: Request) -> Catalogue:
    # A write records or relies on definitions (the metric version a target is set against,
    # which metrics are mandatory), so it asks metrics_api to confirm its copy first: a 304
    # when nothing changed. Reads use the cached copy, at most catalogue_fresh_s old.
    return await request.app.state.metrics_api.catalogue(revalidate=True)


ConfirmedCatalogueDep = Annotated[Catalogue, Depends(_confirmed_catalogue)]
