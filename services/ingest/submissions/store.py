"""The set-based path from staged rows to versioned observations, all in the caller's
transaction; and the reads of stored submissions.

A CSV's rows are COPYed into a temporary table; a JSON submission's rows travel as one jsonb
parameter. Either way one statement checks every row (validation.sql) and, when the submission
is to be stored, writes the valid ones as new observation versions with the outbox notice.
Nothing here loops over rows in Python.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from sqlalchemy import Insert, Select, Table, bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from services.common import magnitude
from services.common.db import driver_connection
from services.common.models import AuditLog, Submission
from services.ingest.submissions.parsing import CopyBuffer
from services.ingest.submissions.schemas import RowError

BLANK = " \t"  # trimmed from around every cell but the note
_CHECKS = (
    resources.files("services.ingest.submissions")
    .joinpath("validation.sql")
    .read_text(encoding="utf-8")
)
_CREATE_STAGED = text("""
    CREATE TEMP TABLE staged (row_no int, place_code text, metric_code text, period text,
        value text, numerator text, denominator text, note text) ON COMMIT DROP
""")
# A JSON submission is small: its rows come as one jsonb parameter instead of a temporary table
# (creating and dropping one cost more server time than checking and writing 60 rows).
_JSON_STAGED = """
    staged AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(row_no int, place_code text,
            metric_code text, period text, value text, numerator text, denominator text,
            note text)
    )
"""


def _take(*, superseded: str, current: str) -> str:
    """After the checks, in the same statement: the tally, the first errors, and the write.

    A correction supersedes the current version and adds the next one; a row equal to the
    current version changes nothing. The UPDATE's RETURNING hands the old version to the
    INSERT. Both see the snapshot from before the UPDATE, so the join to the current version
    finds the rows that had one. It is a join, not "OR NOT EXISTS": an OR-ed subquery cannot
    become an anti-join and runs once per row, which turns a bulk load into a nested loop. Rows
    are written only when the submission is to be stored: partial, or no row rejected here nor
    by the caller's framing. ``superseded`` is the UPDATE's FROM and WHERE, ``current`` the
    INSERT's join to each valid row's current version ``c``."""
    return f"""
    , judged AS (
        -- A column the planner takes to hold for half the rows (it has no statistics on it);
        -- for "errors = '{{}}'" it would guess 0.5 %, and plan the write for a handful of rows.
        SELECT *, errors = '{{}}' AS ok FROM checked
    ), tally AS (
        SELECT place_code, count(*) FILTER (WHERE ok) AS valid,
            count(*) FILTER (WHERE NOT ok) AS rejected,
            coalesce(sum(cardinality(errors)), 0) AS error_count
        FROM judged GROUP BY place_code
    ), first_errors AS (
        SELECT row_no, error, position
        FROM judged, unnest(errors) WITH ORDINALITY AS e(error, position)
        WHERE NOT ok ORDER BY row_no, position LIMIT :limit
    ), valid AS (
        SELECT * FROM judged
        WHERE ok AND (CAST(:partial AS boolean)
            OR (SELECT sum(rejected) FROM tally) + CAST(:framing_rejected AS int) = 0)
    ), superseded AS (
        UPDATE observation o SET superseded_at = now()
        {superseded}
        RETURNING o.place_code, o.metric_code, o.period, o.version
    ), inserted AS (
        INSERT INTO observation (place_code, metric_code, period, version, value, numerator,
                                 denominator, note, metric_version, submission_id)
        SELECT v.place_code, v.metric_code, v.period, coalesce(s.version, 0) + 1, v.value,
               v.numerator, v.denominator, v.note, v.metric_version, :submission_id
        FROM valid v LEFT JOIN superseded s USING (place_code, metric_code, period)
             LEFT JOIN {current}
        WHERE s.version IS NOT NULL OR c.place_code IS NULL
        RETURNING place_code, metric_code, period
    ), changes AS (
        -- The first and last changed period, not every one: a million-row load's notice is
        -- then a few hundred kilobytes, and needs no sort of every key. Compared as codes
        -- ("C"), which within one periodicity is time order; targets_api reads the range the
        -- same way.
        SELECT place_code, metric_code, min(period COLLATE "C") AS period_from,
               max(period COLLATE "C") AS period_to
        FROM inserted GROUP BY place_code, metric_code
    ), notified AS (
        INSERT INTO outbox (topic, payload)
        SELECT 'observations.changed', jsonb_build_object(
            'submission_id', CAST(:submission_id AS text),
            'changes', jsonb_agg(jsonb_build_object('place_code', place_code,
                                                    'metric_code', metric_code,
                                                    'from', period_from, 'to', period_to)))
        FROM changes HAVING count(*) > 0
        RETURNING id
    )
    SELECT now() AS received_at,
        (SELECT coalesce(jsonb_agg(jsonb_build_array(place_code, valid, rejected, error_count)),
                         '[]') FROM tally) AS tally,
        (SELECT coalesce(jsonb_agg(jsonb_build_array(row_no, error) ORDER BY row_no, position),
                         '[]') FROM first_errors) AS errors,
        (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM superseded) AS superseded
"""


_CURRENT_OF_V = """c.place_code = v.place_code AND c.metric_code = v.metric_code
    AND c.period = v.period AND c.superseded_at IS NULL"""
# A CSV may hold a million rows: plain joins, so the planner may hash the current versions once.
_TAKE_STAGED = text(
    "WITH "
    + _CHECKS
    + _take(
        superseded="""FROM valid v
        WHERE o.place_code = v.place_code AND o.metric_code = v.metric_code
          AND o.period = v.period AND o.superseded_at IS NULL
          AND (o.value, o.numerator, o.denominator, o.note)
              IS DISTINCT FROM (v.value, v.numerator, v.denominator, v.note)""",
        current=f"observation c ON {_CURRENT_OF_V}",
    )
)
# A JSON submission holds a few dozen rows: one lookup in `observation_current` for each, forced
# by LIMIT (a subquery with one is not flattened into a join), and the UPDATE finds the version
# by its address (the place's lock, taken before, keeps it there). Left to the planner, the
# joins were planned as a hash of every current version in the table (20 ms of a 37 ms
# statement at 70,000 of them, and growing with the table) whenever the plan cached on the
# connection had been made while the table's statistics still counted a few hundred rows.
_JSON_CURRENT = f"""LATERAL (SELECT c.*, c.ctid AS tid FROM observation c
        WHERE {_CURRENT_OF_V} LIMIT 1) c ON true"""
_TAKE_JSON = text(
    "WITH "
    + _JSON_STAGED
    + ", "
    + _CHECKS
    + _take(
        superseded=f"""FROM valid v JOIN {_JSON_CURRENT}
        WHERE o.ctid = c.tid AND (c.value, c.numerator, c.denominator, c.note)
              IS DISTINCT FROM (v.value, v.numerator, v.denominator, v.note)""",
        current=_JSON_CURRENT,
    )
)
# Serialise writers per place: two submissions correcting the same value must not both compute
# the same next version. Taken in the order given (the caller's key first, then the places in
# code order), so two multi-place writers never deadlock. A statement of its own, before the
# write: a statement's snapshot is taken when it starts, so it must start after the wait.
_LOCK = text("""
    SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0)))
    FROM (SELECT name FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS l(name, position)
          ORDER BY position) AS ordered
""")


@dataclass
class Outcome:
    """What checking (and, when it was to be stored, writing) a submission's rows found."""

    rows: int
    rejected: int
    error_count: int
    errors: list[RowError]
    # (valid, rejected) rows by the place code as written; rows too malformed to stage count
    # under "" (for metrics, which must not take arbitrary text as a label).
    by_place: dict[str, tuple[int, int]]
    written: bool
    accepted: int
    superseded: int
    unchanged: int
    received_at: datetime  # the transaction's time, which the submission row records too


class Staging:
    """A COPY into the temporary ``staged`` table, open while the body is read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def __aenter__(self) -> CopyBuffer:
        await self.session.execute(_CREATE_STAGED)
        cursor = (await driver_connection(self.session)).cursor()
        self._cursor = cursor
        self._copy_cm = cursor.copy("COPY staged FROM STDIN (FORMAT csv)")
        copy = await self._copy_cm.__aenter__()
        return CopyBuffer(copy.write)

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            # Our __aexit__ passes on exactly the (type, value, traceback) it was given.
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


async def lock(session: AsyncSession, *, idempotency: str | None, places: list[str]) -> None:
    """Hold the idempotency key (if any), then each place's writes, until the transaction ends."""
    names = [idempotency] if idempotency else []
    names += [f"observation:{code}" for code in sorted(places)]
    if names:
        await session.execute(_LOCK, {"names": names})


def take_parameters(
    *,
    metrics: list[dict[str, object]],
    places: list[dict[str, object]],
    framing_rejected: int,
    partial: bool,
    max_errors: int,
    submission_id: uuid.UUID,
) -> dict[str, object]:
    """The parameters of the checking and writing statement, but for a JSON submission's rows."""
    return {
        "metrics": json.dumps(metrics),
        "places": json.dumps(places),
        "blank": BLANK,
        "min_magnitude": magnitude.MIN_MAGNITUDE,
        "max_magnitude": magnitude.MAX_MAGNITUDE,
        "magnitude_rule": magnitude.RULE,
        "limit": max_errors,
        "partial": partial,
        "framing_rejected": framing_rejected,
        "submission_id": submission_id,
    }


async def take(
    session: AsyncSession,
    *,
    json_rows: str | None,
    metrics: list[dict[str, object]],
    places: list[dict[str, object]],
    framing_errors: list[RowError],
    partial: bool,
    max_errors: int,
    submission_id: uuid.UUID,
) -> Outcome:
    """Check every row and store the valid ones if the submission is to be stored (partial, or
    no row rejected). ``json_rows`` are a JSON submission's rows; without them, the rows COPYed
    into ``staged``. The caller's framing errors are merged in row order."""
    parameters = take_parameters(
        metrics=metrics,
        places=places,
        framing_rejected=len(framing_errors),
        partial=partial,
        max_errors=max_errors,
        submission_id=submission_id,
    )
    if json_rows is None:
        result = (await session.execute(_TAKE_STAGED, parameters)).one()
    else:
        result = (await session.execute(_TAKE_JSON, {**parameters, "rows": json_rows})).one()
    entries = [(place or "", valid, rejected) for place, valid, rejected, _ in result.tally]
    if framing_errors:
        entries.append(("", 0, len(framing_errors)))
    by_place: dict[str, tuple[int, int]] = {}
    for place, valid, rejected in entries:
        before = by_place.get(place, (0, 0))
        by_place[place] = (before[0] + valid, before[1] + rejected)
    sql_errors = [
        RowError(row=row_no, field=field, code=code, msg=msg)
        for row_no, error in result.errors
        for field, code, msg in [error.split("|", 2)]
    ]
    rows = sum(valid + rejected for valid, rejected in by_place.values())
    rejected = sum(rejected for _, rejected in by_place.values())
    # As the statement decided: a partial submission with no valid row stores nothing either.
    written = rejected == 0 or (partial and rejected < rows)
    accepted = rows - rejected if written else 0
    return Outcome(
        rows=rows,
        rejected=rejected,
        error_count=sum(entry[3] for entry in result.tally) + len(framing_errors),
        errors=sorted(framing_errors + sql_errors, key=lambda e: e.row)[:max_errors],
        by_place=by_place,
        written=written,
        accepted=accepted,
        superseded=result.superseded,
        unchanged=accepted - result.inserted,
        received_at=result.received_at,
    )


# The tables, not the ORM entities, on a small submission's path: the ORM's loading and its
# bulk-insert path cost more of its Python time than the statements they make.
_SUBMISSION_TABLE = SQLModel.metadata.tables[str(Submission.__tablename__)]
_AUDIT_LOG_TABLE = SQLModel.metadata.tables[str(AuditLog.__tablename__)]
# Every submission with an Idempotency-Key asks; almost always there is none.
_BY_IDEMPOTENCY_KEY = select(_SUBMISSION_TABLE).where(
    _SUBMISSION_TABLE.c.key_id == bindparam("key_id"),
    _SUBMISSION_TABLE.c.idempotency_key == bindparam("key"),
)


async def submission_by_idempotency_key(
    session: AsyncSession, *, key_id: int, key: str
) -> Submission | None:
    """The submission the API key already made with this Idempotency-Key, if any."""
    row = (await session.execute(_BY_IDEMPOTENCY_KEY, {"key_id": key_id, "key": key})).first()
    return None if row is None else Submission.model_validate(row._mapping)


def _inserting(table: Table, prefix: str, *, leave_out: set[str]) -> Insert:
    """An INSERT of one row into ``table`` whose values are parameters named ``prefix`` + the
    column: built once, where ``insert().values(row)`` would be built (and its values coerced)
    for every submission again, which took most of writing the two rows' Python time."""
    return insert(table).values(
        {
            column.name: bindparam(prefix + column.name, type_=column.type)
            for column in table.columns
            if column.name not in leave_out
        }
    )


_RECORD = _inserting(_AUDIT_LOG_TABLE, "audit_", leave_out={"id", "occurred_at"}).add_cte(
    _inserting(_SUBMISSION_TABLE, "submission_", leave_out=set()).cte("submission_row")
)


async def record(session: AsyncSession, *, submission: Submission, entry: AuditLog) -> None:
    """The submission row and its audit entry, in one statement."""
    values = {f"submission_{name}": value for name, value in submission.model_dump().items()}
    values |= {
        f"audit_{name}": value
        for name, value in entry.model_dump(exclude={"id", "occurred_at"}).items()
    }
    await session.execute(_RECORD, values)


async def submission(session: AsyncSession, submission_id: uuid.UUID) -> Submission | None:
    return await session.get(Submission, submission_id)


def _submissions(
    *, key_id: int | None, place_code: str | None, since: datetime | None
) -> Select[Submission]:
    query = select(Submission)
    if key_id is not None:
        query = query.where(col(Submission.key_id) == key_id)
    if place_code is not None:
        query = query.where(col(Submission.place_codes).contains([place_code]))
    if since is not None:
        query = query.where(col(Submission.received_at) >= since)
    return query


async def submission_count(
    session: AsyncSession, *, key_id: int | None, place_code: str | None, since: datetime | None
) -> int:
    """How many submissions the key made (None: any key) naming the place, since then."""
    matching = _submissions(key_id=key_id, place_code=place_code, since=since)
    return await session.scalar(select(func.count()).select_from(matching.subquery())) or 0


async def submissions_page(
    session: AsyncSession,
    *,
    key_id: int | None,
    place_code: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> list[Submission]:
    """A page of those submissions, newest first."""
    query = (
        _submissions(key_id=key_id, place_code=place_code, since=since)
        .order_by(col(Submission.received_at).desc(), col(Submission.id))
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(query)).scalars())
