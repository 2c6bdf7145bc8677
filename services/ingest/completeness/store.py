"""The SQL of completeness: which (place, metric, period) are expected, and what came for them.

One statement answers a whole request, whether it asks about one period or a range: the
expected set is generated in the database from the (place, metric) pairs that apply and the
window's periods, so nothing loops over periods in Python. The rules (which pairs apply, the
window) are the service's; this module only says them in SQL.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Pair:
    """A metric that applies to a place, with what decides which of its periods are due."""

    place_code: str
    metric_code: str
    periodicity: str
    reporting_from: str | None  # None: a catalogue from a metrics_api older than the field
    deadline_days: int


# A period is expected when it is of the metric's periodicity, lies wholly within the window
# ([:window_start, :window_end], inclusive days), and is not before the metric's reporting_from
# (API.md amendments). Its deadline is its end + the metric's submission_deadline_days; its
# first version decides on time or late, so a correction never changes the verdict.
_JUDGED = """
WITH pair AS (
    SELECT * FROM jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(
        place_code text, metric_code text, periodicity text, reporting_from text,
        deadline_days int)
), bounds AS (
    SELECT CAST(:window_start AS date)::timestamp AS first_day,
           CAST(:window_end AS date)::timestamp AS last_day
), candidate AS (
    -- Each periodicity's periods that start from the start of the one holding the window's
    -- first day up to its last day, written as codes; in_window keeps those wholly inside.
    SELECT 'monthly' AS periodicity, to_char(day, 'YYYY-MM') AS code
    FROM bounds, generate_series(date_trunc('month', first_day), last_day, interval '1 month')
        AS day
    UNION ALL
    SELECT 'quarterly', to_char(day, 'YYYY-"Q"Q')
    FROM bounds, generate_series(date_trunc('quarter', first_day), last_day,
                                 interval '3 months') AS day
    UNION ALL
    SELECT 'annual', to_char(day, 'YYYY')
    FROM bounds, generate_series(date_trunc('year', first_day), last_day, interval '1 year')
        AS day
    UNION ALL
    SELECT 'financial_year', 'FY' || to_char(day, 'YYYY') || '-'
                             || to_char(day + interval '1 year', 'YY')
    FROM bounds, generate_series(
        date_trunc('year', first_day - interval '3 months') + interval '3 months', last_day,
        interval '1 year') AS day
), in_window AS (
    SELECT c.periodicity, c.code, public.period_end(c.code) AS period_end,
           public.period_index(c.code) AS period_index
    FROM candidate c, bounds b
    WHERE public.period_start(c.code) >= b.first_day AND public.period_end(c.code) <= b.last_day
), expected AS (
    SELECT p.place_code, p.metric_code, p.periodicity, w.code AS period, w.period_index,
           w.period_end + p.deadline_days AS deadline,
           (SELECT min(o.recorded_at) FROM observation o
            WHERE o.place_code = p.place_code AND o.metric_code = p.metric_code
              AND o.period = w.code) AS first_received_at
    FROM pair p
    JOIN in_window w ON w.periodicity = p.periodicity
    WHERE p.reporting_from IS NULL OR w.period_index >= public.period_index(p.reporting_from)
), judged AS (
    -- The day in England the first version arrived: deadlines fall on England's calendar
    -- days (API.md amendments), so 23:30 UTC on a summer deadline day is already late.
    SELECT e.*, CASE
        WHEN first_received_at IS NOT NULL THEN
            CASE WHEN (first_received_at AT TIME ZONE 'Europe/London')::date > deadline
                 THEN 'late'
                 ELSE 'on_time' END
        WHEN CAST(:today AS date) > deadline THEN 'missing'
        ELSE 'pending'
    END AS status
    FROM expected e
)
"""

# COLLATE "C": codes sort as Python sorts them, whatever the database's collation.
_PERIOD_ROWS = text(
    _JUDGED
    + """
SELECT place_code, metric_code, period, status, first_received_at, deadline FROM judged
ORDER BY place_code COLLATE "C", metric_code COLLATE "C"
"""
)

_RANGE_ROWS = text(
    _JUDGED
    + """
SELECT place_code, metric_code, periodicity,
       (array_agg(period ORDER BY period_index))[1] AS first_period,
       (array_agg(period ORDER BY period_index DESC))[1] AS last_period,
       count(*) AS expected,
       count(first_received_at) AS received,
       count(*) FILTER (WHERE status = 'on_time') AS on_time,
       count(*) FILTER (WHERE status = 'late') AS late,
       count(*) FILTER (WHERE status = 'missing') AS missing,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       coalesce(array_agg(period ORDER BY period_index) FILTER (WHERE status = 'missing'),
                '{}') AS missing_periods,
       coalesce(array_agg(period ORDER BY period_index) FILTER (WHERE status = 'pending'),
                '{}') AS pending_periods
FROM judged
GROUP BY place_code, metric_code, periodicity
ORDER BY place_code COLLATE "C", metric_code COLLATE "C"
"""
)

# The overdue gauge: for each pair, one given period (the latest past its deadline), unless it
# is before the metric's reporting_from, and whether anything has come for it.
_OVERDUE = text("""
    SELECT e.place_code, e.metric_code, e.period, NOT EXISTS (
        SELECT 1 FROM observation o WHERE o.place_code = e.place_code
            AND o.metric_code = e.metric_code AND o.period = e.period) AS overdue
    FROM jsonb_to_recordset(CAST(:expected AS jsonb))
         AS e(place_code text, metric_code text, period text, reporting_from text)
    WHERE e.reporting_from IS NULL
       OR public.period_index(e.period) >= public.period_index(e.reporting_from)
""")


@dataclass(frozen=True)
class PeriodRow:
    place_code: str
    metric_code: str
    period: str
    status: str
    first_received_at: datetime | None
    deadline: date


def _params(
    pairs: Iterable[Pair], window_start: date, window_end: date, today: date
) -> dict[str, object]:
    return {
        "pairs": json.dumps([pair.__dict__ for pair in pairs]),
        "window_start": window_start,
        "window_end": window_end,
        "today": today,
    }


async def period_rows(
    session: AsyncSession,
    *,
    pairs: Sequence[Pair],
    window_start: date,
    window_end: date,
    today: date,
) -> list[PeriodRow]:
    """One row per expected (place, metric, period) in the window, by place and metric."""
    result = await session.execute(_PERIOD_ROWS, _params(pairs, window_start, window_end, today))
    return [PeriodRow(**row._mapping) for row in result]


async def range_rows(
    session: AsyncSession,
    *,
    pairs: Sequence[Pair],
    window_start: date,
    window_end: date,
    today: date,
) -> list[dict[str, object]]:
    """One row per (place, metric) with any period expected in the window: its counts, and the
    periods still missing or pending."""
    result = await session.execute(_RANGE_ROWS, _params(pairs, window_start, window_end, today))
    return [dict(row._mapping) for row in result]


async def overdue_rows(
    session: AsyncSession, *, expected: Iterable[tuple[Pair, str]]
) -> list[tuple[str, str, str, bool]]:
    """(place, metric, period, overdue) for each (pair, period) given that is expected."""
    rows = [
        {
            "place_code": pair.place_code,
            "metric_code": pair.metric_code,
            "period": period,
            "reporting_from": pair.reporting_from,
        }
        for pair, period in expected
    ]
    result = await session.execute(_OVERDUE, {"expected": json.dumps(rows)})
    return [(row.place_code, row.metric_code, row.period, row.overdue) for row in result]
