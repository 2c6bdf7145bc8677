"""Completeness and timeliness: for each place and metric due in a period, or in a range of
periods, whether data came, and whether it came by the metric's deadline.

A metric is due for a place when it is active and applies to the place (national, or local to
the place or its ICB), and only for its periods from its `reporting_from` on (API.md
amendments). The range form's window is [the first day of `from`, the last day of `to`]: each
metric contributes the periods of its own periodicity that lie wholly within it, so a range of
months counts a quarter only when all three of its months are in it.
"""

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.auth import ApiPrincipal, places_in_view
from services.common.catalogue import Catalogue
from services.common.errors import NotFound, Unprocessable, field_error
from services.ingest.completeness import store
from services.ingest.completeness.schemas import (
    CompletenessPlaceTotals,
    CompletenessRangeRow,
    CompletenessRow,
    CompletenessStatus,
    CompletenessSummary,
)
from services.ingest.completeness.store import Pair

# The expected set grows with the window: England's 153 places x 10 metrics x 120 months is
# already about 180,000 periods, each looked up in observation. A bound keeps one request from
# holding a connection for a window no place team needs (its cost is not measured yet).
MAX_RANGE_YEARS = 10


def _query_error(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[field_error(["query", field], message)])


def _parse(code: str, field: str) -> periods.Period:
    try:
        return periods.parse(code)
    except periods.PeriodError as exc:
        raise _query_error(field, str(exc)) from None


def check_form(*, period: str | None, first: str | None, last: str | None) -> None:
    """Either `period` alone or `from` and `to` together (422 naming the field otherwise)."""
    if period is not None and (first is not None or last is not None):
        raise _query_error("period", "give either period or from and to, not both")
    if period is None and first is None and last is None:
        raise _query_error("period", "give a period, or a range with from and to")
    if period is None and (first is None or last is None):
        missing = "to" if last is None else "from"
        raise _query_error(missing, f"a range needs both from and to; {missing} is missing")


def _pairs(
    catalogue: Catalogue, place_codes: Iterable[str], periodicity: str | None = None
) -> list[Pair]:
    """Every active metric (of that periodicity, if given) that applies to each of the places:
    national ones, and local ones owned by the place or its ICB."""
    places = [catalogue.areas[code] for code in place_codes]
    metrics = [
        m
        for m in catalogue.metrics.values()
        if m.status == "active" and periodicity in (None, m.periodicity)
    ]
    return sorted(
        (
            Pair(
                place.code,
                metric.code,
                metric.periodicity,
                metric.reporting_from,
                metric.submission_deadline_days,
            )
            for place in places
            for metric in metrics
            if metric.scope == "national"
            or metric.owner_area_code in (place.code, place.parent_code)
        ),
        key=lambda pair: (pair.place_code, pair.metric_code),
    )


def _places_in_view(principal: ApiPrincipal, catalogue: Catalogue, area: str) -> list[str]:
    """The area's places, or those of them in the key's view (a submitter's scope)."""
    if catalogue.area(area) is None:
        raise NotFound(f"No area with code {area}.")
    places = catalogue.places_in(area)
    in_view = places_in_view(principal, area, places)
    return list(places) if in_view is None else in_view


def _summary(rows: Sequence[BaseModel]) -> CompletenessSummary:
    """The counts of the rows added up (each row has every count the summary has)."""
    return CompletenessSummary(
        **{
            field: sum(getattr(row, field) for row in rows)
            for field in CompletenessSummary.model_fields
        }
    )


async def completeness(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    period_code: str,
    area: str,
    today: date,
) -> tuple[CompletenessSummary, list[CompletenessRow]]:
    """Per place and metric of the period's periodicity: whether the period came, and when."""
    period = _parse(period_code, "period")
    place_codes = _places_in_view(principal, catalogue, area)
    found = await store.period_rows(
        session,
        pairs=_pairs(catalogue, place_codes, period.periodicity),
        window_start=period.start,
        window_end=period.end,
        today=today,
    )
    rows = [
        CompletenessRow(
            place_code=row.place_code,
            metric_code=row.metric_code,
            period=row.period,
            expected=1,
            received=int(row.first_received_at is not None),
            on_time=int(row.status == CompletenessStatus.on_time),
            late=int(row.status == CompletenessStatus.late),
            status=CompletenessStatus(row.status),
            first_received_at=row.first_received_at,
            deadline=row.deadline,
        )
        for row in found
    ]
    return CompletenessSummary(
        expected=len(rows),
        received=sum(r.received for r in rows),
        on_time=sum(r.on_time for r in rows),
        late=sum(r.late for r in rows),
        missing=sum(r.status is CompletenessStatus.missing for r in rows),
        pending=sum(r.status is CompletenessStatus.pending for r in rows),
    ), rows


def _window(first_code: str, last_code: str) -> tuple[date, date]:
    first, last = _parse(first_code, "from"), _parse(last_code, "to")
    if last.end < first.start:
        raise _query_error("to", f"{last.code} ends before {first.code} starts")
    if last.end >= first.start.replace(year=first.start.year + MAX_RANGE_YEARS):
        raise _query_error(
            "to",
            f"a range spans at most {MAX_RANGE_YEARS} years; {first.code} to {last.code} is longer",
        )
    return first.start, last.end


async def completeness_range(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    first_code: str,
    last_code: str,
    area: str,
    today: date,
) -> tuple[
    date, date, CompletenessSummary, list[CompletenessPlaceTotals], list[CompletenessRangeRow]
]:
    """Per place and metric, the counts over the periods due in [start of from, end of to];
    per place, their totals (every place in view, a place with nothing due at zero)."""
    window_start, window_end = _window(first_code, last_code)
    place_codes = _places_in_view(principal, catalogue, area)
    rows = [
        CompletenessRangeRow.model_validate(row)
        for row in await store.range_rows(
            session,
            pairs=_pairs(catalogue, place_codes),
            window_start=window_start,
            window_end=window_end,
            today=today,
        )
    ]
    by_place: dict[str, list[CompletenessRangeRow]] = {code: [] for code in place_codes}
    for row in rows:
        by_place[row.place_code].append(row)
    places = [
        CompletenessPlaceTotals(place_code=code, **_summary(its_rows).model_dump())
        for code, its_rows in by_place.items()
    ]
    return window_start, window_end, _summary(rows), places, rows


def last_period_past_deadline(
    periodicity: periods.Periodicity, deadline_days: int, today: date
) -> periods.Period:
    """The latest period whose submission deadline (its end + deadline_days) is before today."""
    return periods.shift(periods.containing(periodicity, today - timedelta(days=deadline_days)), -1)


async def overdue(
    session: AsyncSession, *, catalogue: Catalogue, today: date
) -> list[tuple[str, str, str, bool]]:
    """(place, metric, period, overdue) for each place and applicable metric: the latest period
    whose deadline has passed, and whether its data has still not come. A metric whose
    reporting_from is after that period expects nothing yet, so has no row."""
    england = next(a.code for a in catalogue.areas.values() if a.level == "nation")
    pairs = _pairs(catalogue, catalogue.places_in(england))
    return await store.overdue_rows(
        session,
        expected=[
            (
                pair,
                last_period_past_deadline(
                    periods.Periodicity(pair.periodicity), pair.deadline_days, today
                ).code,
            )
            for pair in pairs
        ],
    )
