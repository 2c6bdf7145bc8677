"""The set-based path from staged rows to versioned observations, all in the caller's transaction.

Rows are COPYed into a temporary table, checked in one SQL pass (validation.sql), and the valid
ones become new observation versions with one UPDATE ... INSERT statement. Nothing here loops
over rows in Python.
"""

import json
import uuid
from dataclasses import dataclass
from importlib import resources

from psycopg import AsyncConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import magnitude
from services.ingest.submissions.parsing import CopyBuffer
from services.ingest.submissions.schemas import RowError

NUMBER = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
BLANK = " \t"  # trimmed from around every cell but the note
_VALIDATE = text(
    resources.files("services.ingest.submissions")
    .joinpath("validation.sql")
    .read_text(encoding="utf-8")
)

_CREATE_STAGED = text("""
    CREATE TEMP TABLE staged (row_no int, place_code text, metric_code text, period text,
        value text, numerator text, denominator text, note text) ON COMMIT DROP
""")
_CREATE_CHECKED = text("""
    CREATE TEMP TABLE checked (row_no int, place_code text, metric_code text, period text,
        note text, metric_version int, numerator float8, denominator float8, value float8,
        errors text[]) ON COMMIT DROP
""")
_ERRORS = text("""
    SELECT row_no, error FROM checked, unnest(errors) WITH ORDINALITY AS e(error, position)
    WHERE cardinality(errors) > 0 ORDER BY row_no, position LIMIT :limit
""")
_TALLY = text("""
    SELECT place_code, count(*) FILTER (WHERE cardinality(errors) = 0) AS valid,
        count(*) FILTER (WHERE cardinality(errors) > 0) AS rejected,
        coalesce(sum(cardinality(errors)), 0) AS error_count
    FROM checked GROUP BY place_code
""")
# Serialise writers per place: two submissions correcting the same value must not both
# compute the same next version. Taken in code order, so two multi-place writers never deadlock.
_LOCK_PLACES = text("""
    SELECT pg_advisory_xact_lock(hashtextextended('observation:' || place_code, 0))
    FROM (SELECT DISTINCT place_code FROM checked WHERE cardinality(errors) = 0
          ORDER BY place_code) AS places
""")
# A correction supersedes the current version and adds the next one; a row equal to the
# current version changes nothing. The UPDATE's RETURNING hands the old version to the INSERT.
# Both see the snapshot from before the UPDATE, so the join to the current version finds the
# rows that had one. It is a join, not "OR NOT EXISTS": an OR-ed subquery cannot become an
# anti-join and runs once per row, which turns a bulk load into a nested loop.
_WRITE = text("""
    WITH valid AS (
        SELECT * FROM checked WHERE cardinality(errors) = 0
    ), superseded AS (
        UPDATE observation o SET superseded_at = now()
        FROM valid v
        WHERE o.place_code = v.place_code AND o.metric_code = v.metric_code
          AND o.period = v.period AND o.superseded_at IS NULL
          AND (o.value, o.numerator, o.denominator, o.note)
              IS DISTINCT FROM (v.value, v.numerator, v.denominator, v.note)
        RETURNING o.place_code, o.metric_code, o.period, o.version
    ), inserted AS (
        INSERT INTO observation (place_code, metric_code, period, version, value, numerator,
                                 denominator, note, metric_version, submission_id)
        SELECT v.place_code, v.metric_code, v.period, coalesce(s.version, 0) + 1, v.value,
               v.numerator, v.denominator, v.note, v.metric_version, :submission_id
        FROM valid v LEFT JOIN superseded s USING (place_code, metric_code, period)
             LEFT JOIN observation c ON c.place_code = v.place_code
                 AND c.metric_code = v.metric_code AND c.period = v.period
                 AND c.superseded_at IS NULL
        WHERE s.version IS NOT NULL OR c.place_code IS NULL
        RETURNING place_code, metric_code, period
    ), changes AS (
        SELECT place_code, metric_code, array_agg(period ORDER BY period) AS periods
        FROM inserted GROUP BY place_code, metric_code
    ), notified AS (
        INSERT INTO outbox (topic, payload)
        SELECT 'observations.changed', jsonb_build_object(
            'submission_id', CAST(:submission_id AS text),
            'changes', jsonb_agg(jsonb_build_object('place_code', place_code,
                                                    'metric_code', metric_code,
                                                    'periods', periods)))
        FROM changes HAVING count(*) > 0
        RETURNING id
    )
    SELECT (SELECT count(*) FROM valid) AS valid, (SELECT count(*) FROM inserted) AS inserted,
           (SELECT count(*) FROM superseded) AS superseded
""")


@dataclass
class Checked:
    rows: int
    rejected: int
    error_count: int
    errors: list[RowError]
    # (valid, rejected) rows by the place code as written; rows too malformed to stage count
    # under "" (for metrics, which must not take arbitrary text as a label).
    by_place: dict[str, tuple[int, int]]


@dataclass
class Written:
    accepted: int
    superseded: int
    unchanged: int


async def raw_connection(session: AsyncSession) -> AsyncConnection:
    """The psycopg connection under the session, for COPY, in the same transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection  # type: ignore[return-value]


class Staging:
    """A COPY into the temporary ``staged`` table, open while the body is read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def __aenter__(self) -> CopyBuffer:
        await self.session.execute(_CREATE_STAGED)
        cursor = (await raw_connection(self.session)).cursor()
        self._cursor = cursor
        self._copy_cm = cursor.copy("COPY staged FROM STDIN (FORMAT csv)")
        copy = await self._copy_cm.__aenter__()
        return CopyBuffer(copy.write)

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._copy_cm.__aexit__(*exc_info)  # type: ignore[arg-type]
        finally:
            await self._cursor.close()


@dataclass
class StagedCodes:
    places: list[str]  # sorted
    metrics: list[str]


_STAGED_CODES = text("""
    SELECT coalesce(array_agg(DISTINCT place ORDER BY place) FILTER (WHERE place <> ''), '{}'),
           coalesce(array_agg(DISTINCT metric) FILTER (WHERE metric <> ''), '{}')
    FROM (SELECT btrim(place_code, :blank) AS place, btrim(metric_code, :blank) AS metric
          FROM staged) AS codes
""")


async def staged_codes(session: AsyncSession) -> StagedCodes:
    """Every place and metric the staged rows name, in one pass over them."""
    places, metrics = (await session.execute(_STAGED_CODES, {"blank": BLANK})).one()
    return StagedCodes(places=places, metrics=metrics)


async def check(
    session: AsyncSession,
    *,
    metrics: list[dict[str, object]],
    places: list[dict[str, object]],
    framing_errors: list[RowError],
    max_errors: int,
) -> Checked:
    """Run every row check; the caller's framing errors are merged in row order."""
    await session.execute(_CREATE_CHECKED)
    await session.execute(
        _VALIDATE,
        {
            "metrics": json.dumps(metrics),
            "places": json.dumps(places),
            "number": NUMBER,
            "blank": BLANK,
            "min_magnitude": magnitude.MIN_MAGNITUDE,
            "max_magnitude": magnitude.MAX_MAGNITUDE,
            "magnitude_rule": magnitude.RULE,
        },
    )
    # Temporary tables have no statistics; without them the planner guesses badly on the write.
    await session.execute(text("ANALYZE checked"))
    tally = (await session.execute(_TALLY)).all()
    entries = [(row.place_code or "", row.valid, row.rejected) for row in tally]
    if framing_errors:
        entries.append(("", 0, len(framing_errors)))
    by_place: dict[str, tuple[int, int]] = {}
    for place, valid, rejected in entries:
        before = by_place.get(place, (0, 0))
        by_place[place] = (before[0] + valid, before[1] + rejected)
    sql_errors = [
        RowError(row=row_no, field=field, code=code, msg=msg)
        for row_no, error in await session.execute(_ERRORS, {"limit": max_errors})
        for field, code, msg in [error.split("|", 2)]
    ]
    errors = sorted(framing_errors + sql_errors, key=lambda e: e.row)[:max_errors]
    return Checked(
        rows=sum(valid + rejected for valid, rejected in by_place.values()),
        rejected=sum(rejected for _, rejected in by_place.values()),
        error_count=sum(row.error_count for row in tally) + len(framing_errors),
        errors=errors,
        by_place=by_place,
    )


async def write(session: AsyncSession, *, submission_id: uuid.UUID) -> Written:
    await session.execute(_LOCK_PLACES)
    result = (await session.execute(_WRITE, {"submission_id": submission_id})).one()
    return Written(
        accepted=result.valid,
        superseded=result.superseded,
        unchanged=result.valid - result.inserted,
    )
