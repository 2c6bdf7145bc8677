"""Completeness and timeliness: for each place and metric due in a period, whether data came,
and whether it came by the metric's deadline."""

import json
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.auth import ApiPrincipal, places_in_view
from services.common.errors import NotFound, Unprocessable, field_error
from services.ingest.clients.metrics_api import Catalogue
from services.ingest.completeness.schemas import (
    CompletenessRow,
    CompletenessStatus,
    CompletenessSummary,
)

# First versions only: a correction does not make a late submission on time, nor the reverse.
_FIRST_RECEIVED = text("""
    SELECT e.place_code, e.metric_code, min(o.recorded_at) AS first_received_at
    FROM jsonb_to_recordset(CAST(:expected AS jsonb)) AS e(place_code text, metric_code text)
    LEFT JOIN observation o ON o.place_code = e.place_code AND o.metric_code = e.metric_code
                           AND o.period = :period
    GROUP BY e.place_code, e.metric_code
""")


def _due(catalogue: Catalogue, place_codes: Iterable[str], periodicity: str
         ) -> list[tuple[str, str, int]]:
    """(place, metric, deadline days) for every active metric of that periodicity that applies
    to each of the places: national ones, and local ones owned by the place or its ICB."""
    places = [catalogue.areas[code] for code in place_codes]
    metrics = [m for m in catalogue.metrics.values()
               if m.status == "active" and m.periodicity == periodicity]
    return sorted(
        (place.code, metric.code, metric.submission_deadline_days)
        for place in places for metric in metrics
        if metric.scope == "national" or metric.owner_area_code in (place.code, place.parent_code)
    )


async def completeness(session: AsyncSession, *, principal: ApiPrincipal,
                       catalogue: Catalogue, period_code: str, area: str, today: date
                       ) -> tuple[CompletenessSummary, list[CompletenessRow]]:
    """The area's places, or those of them in the key's view (a submitter's scope)."""
    try:
        period = periods.parse(period_code)
    except periods.PeriodError as exc:
        raise Unprocessable(str(exc), errors=[field_error(["query", "period"], str(exc))]) \
            from None
    if catalogue.area(area) is None:
        raise NotFound(f"No area with code {area}.")
    places = catalogue.places_in(area)
    in_view = places_in_view(principal, area, places)
    due = _due(catalogue, places if in_view is None else in_view, period.periodicity)
    received = {(r.place_code, r.metric_code): r.first_received_at
                for r in await session.execute(_FIRST_RECEIVED, {
                    "period": period.code,
                    "expected": json.dumps([{"place_code": p, "metric_code": m}
                                            for p, m, _ in due])})}
    rows = [_row(period, place, metric, days, received.get((place, metric)), today)
            for place, metric, days in due]
    return CompletenessSummary(
        expected=len(rows), received=sum(r.received for r in rows),
        on_time=sum(r.on_time for r in rows), late=sum(r.late for r in rows),
        missing=sum(r.status is CompletenessStatus.missing for r in rows),
        pending=sum(r.status is CompletenessStatus.pending for r in rows)), rows


def _row(period: periods.Period, place: str, metric: str, deadline_days: int,
         first_received_at, today: date) -> CompletenessRow:
    deadline = period.end + timedelta(days=deadline_days)
    if first_received_at is not None:
        late = first_received_at.date() > deadline
        status = CompletenessStatus.late if late else CompletenessStatus.on_time
    else:
        late = False
        status = CompletenessStatus.missing if today > deadline else CompletenessStatus.pending
    return CompletenessRow(place_code=place, metric_code=metric, period=period.code, expected=1,
                           received=int(first_received_at is not None),
                           on_time=int(status is CompletenessStatus.on_time), late=int(late),
                           status=status, first_received_at=first_received_at, deadline=deadline)


_RECEIVED = text("""
    SELECT e.place_code, e.metric_code, e.period, EXISTS (
        SELECT 1 FROM observation o WHERE o.place_code = e.place_code
            AND o.metric_code = e.metric_code AND o.period = e.period) AS received
    FROM jsonb_to_recordset(CAST(:expected AS jsonb))
         AS e(place_code text, metric_code text, period text)
""")


def last_period_past_deadline(periodicity: periods.Periodicity, deadline_days: int,
                              today: date) -> periods.Period:
    """The latest period whose submission deadline (its end + deadline_days) is before today."""
    return periods.shift(periods.containing(periodicity, today - timedelta(days=deadline_days)),
                         -1)


async def overdue(session: AsyncSession, *, catalogue: Catalogue, today: date
                  ) -> list[tuple[str, str, str, bool]]:
    """(place, metric, period, overdue) for each place and applicable metric: the latest period
    whose deadline has passed, and whether its data has still not come."""
    england = next(a.code for a in catalogue.areas.values() if a.level == "nation")
    expected = [
        {"place_code": place, "metric_code": metric,
         "period": last_period_past_deadline(periodicity, days, today).code}
        for periodicity in periods.Periodicity
        for place, metric, days in _due(catalogue, catalogue.places_in(england), periodicity)]
    return [(row.place_code, row.metric_code, row.period, not row.received)
            for row in await session.execute(_RECEIVED, {"expected": json.dumps(expected)})]
