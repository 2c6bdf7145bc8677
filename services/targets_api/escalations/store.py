"""The SQL of escalations: the rows and their history, and the rules, each one statement over
every place at once."""

from datetime import date
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_row
from services.common.models import AuditLog, Escalation
from services.common.vocabulary import EscalationState
from services.targets_api.escalations.rules import DuePeriods

ENGLAND_DAY = "(e.created_at AT TIME ZONE 'Europe/London')::date"
# Where each escalation went when it was escalated (the row above names the row below), and
# the names of the place and the addressee, so a reader need not look the codes up.
_SELECT = f"""
    SELECT e.*, up.id AS escalated_to_id, {ENGLAND_DAY} AS created_on,
           pa.name AS place_name, ta.name AS addressed_to_name
    FROM escalation e LEFT JOIN escalation up ON up.escalated_from_id = e.id
    JOIN area pa ON pa.code = e.place_code JOIN area ta ON ta.code = e.addressed_to
"""
# The arbiter of ON CONFLICT: the partial unique index of the migration, spelt as it is.
_LIVE_RULE_CONFLICT = """
    ON CONFLICT (place_code, metric_code, reason)
        WHERE reason <> 'manual' AND state IN ('open', 'acknowledged') DO NOTHING
"""
_DUE = "unnest(CAST(:metrics AS text[]), CAST(:periods AS text[]), CAST(:since AS date[]))"
# The places held to national data here: those with an agreed plan, whose targets this service
# tracks; a (place, metric) is missing when its overdue period has no current observation.
_MISSING = f"""
    SELECT p.place_code, d.metric_code, d.period, d.since
    FROM plan p CROSS JOIN {_DUE} AS d(metric_code, period, since)
    WHERE p.status = 'agreed' AND NOT EXISTS (
        SELECT FROM observation o
        WHERE o.place_code = p.place_code AND o.metric_code = d.metric_code
          AND o.period = d.period AND o.superseded_at IS NULL)
"""

_OPEN_OFF_TRACK = text(f"""
    INSERT INTO escalation (place_code, plan_id, metric_code, reason, title, description, ask,
                            addressed_to, level, created_by, updated_by)
    SELECT tp.place_code, tp.plan_id, tp.metric_code, 'off_track',
           'Target ' || tp.metric_code || ' off track for ' || tp.consecutive_off_track
               || ' consecutive periods',
           'The agreed target for ' || tp.metric_code || ' (' || tp.target_value || ' by '
               || tp.target_period || ') has been off track for ' || tp.consecutive_off_track
               || ' consecutive periods, the latest ' || coalesce(tp.latest_period, '?')
               || ' at ' || coalesce(tp.latest_value::text, '?') || '.',
           'Help the place bring the target back on track.',
           a.parent_code, 'icb', :actor, :actor
    FROM target_progress tp
    JOIN plan p ON p.id = tp.plan_id AND p.status = 'agreed'
    JOIN area a ON a.code = tp.place_code
    WHERE tp.consecutive_off_track >= :periods AND a.parent_code IS NOT NULL
      -- Resolved by hand since the target's figures last changed: not raised again until they do.
      AND NOT EXISTS (
          SELECT FROM escalation r
          WHERE r.place_code = tp.place_code AND r.metric_code = tp.metric_code
            AND r.reason = 'off_track' AND r.state = 'resolved' AND r.updated_at >= tp.computed_at)
    {_LIVE_RULE_CONFLICT}
    RETURNING id, addressed_to
""")
_OPEN_DATA_MISSING = text(f"""
    INSERT INTO escalation (place_code, metric_code, reason, title, description, ask,
                            addressed_to, level, created_by, updated_by)
    SELECT m.place_code, m.metric_code, 'data_missing',
           'No ' || m.metric_code || ' value for ' || m.period,
           'The place''s value of the national metric ' || m.metric_code || ' for ' || m.period
               || ' has not been submitted, and its deadline passed more than the allowed days '
               || 'ago (overdue since ' || m.since || ').',
           'Help the place get its data submitted.',
           a.parent_code, 'icb', :actor, :actor
    FROM ({_MISSING}) m JOIN area a ON a.code = m.place_code
    WHERE a.parent_code IS NOT NULL
      -- Resolved by hand once this period was overdue: not raised again for the same period.
      AND NOT EXISTS (
          SELECT FROM escalation r
          WHERE r.place_code = m.place_code AND r.metric_code = m.metric_code
            AND r.reason = 'data_missing' AND r.state = 'resolved'
            AND (r.updated_at AT TIME ZONE 'Europe/London')::date >= m.since)
    {_LIVE_RULE_CONFLICT}
    RETURNING id, addressed_to
""")
# One UPDATE for both rules' causes: off track no more (the latest period is not off track, or
# the target left the agreed plan), or the missing value has arrived.
_RESOLVE_GONE = text(f"""
    WITH gone AS (
        SELECT e.id, e.state, e.reason FROM escalation e
        WHERE e.state IN ('open', 'acknowledged') AND (
            (e.reason = 'off_track' AND NOT EXISTS (
                SELECT FROM target_progress tp JOIN plan p ON p.id = tp.plan_id
                WHERE p.status = 'agreed' AND tp.place_code = e.place_code
                  AND tp.metric_code = e.metric_code AND tp.consecutive_off_track > 0))
            OR (e.reason = 'data_missing' AND NOT EXISTS (
                SELECT FROM ({_MISSING}) m
                WHERE m.place_code = e.place_code AND m.metric_code = e.metric_code)))
        FOR UPDATE OF e
    )
    UPDATE escalation e SET state = 'resolved', updated_at = now(), updated_by = :actor
    FROM gone WHERE e.id = gone.id
    RETURNING e.id, gone.state AS before, e.addressed_to, gone.reason
""")
_OVERDUE = text(f"""
    UPDATE escalation e SET state = 'escalated', updated_at = now(), updated_by = :actor
    FROM area a
    WHERE e.state = 'open' AND e.level = 'icb' AND {ENGLAND_DAY} + :days < CAST(:today AS date)
      AND a.code = e.addressed_to AND a.parent_code IS NOT NULL
    RETURNING e.id, e.addressed_to
""")
# The same matter opened one level up: the area above the addressee, at that area's level.
_OPEN_ABOVE = text("""
    INSERT INTO escalation (place_code, plan_id, metric_code, reason, title, description, ask,
                            addressed_to, level, escalated_from_id, created_by, updated_by)
    SELECT e.place_code, e.plan_id, e.metric_code, e.reason, e.title, e.description, e.ask,
           up.code, up.level, e.id, :actor, :actor
    FROM escalation e JOIN area a ON a.code = e.addressed_to JOIN area up ON up.code = a.parent_code
    WHERE e.id = ANY(CAST(:ids AS int[]))
    RETURNING id, escalated_from_id, addressed_to
""")
_STEPS = text("""
    INSERT INTO escalation_step (escalation_id, step, note, from_area, to_area, actor, actor_key_id)
    SELECT s.id, s.step, s.note, s.from_area, s.to_area, :actor, :actor_key_id
    FROM unnest(CAST(:ids AS int[]), CAST(:steps AS text[]), CAST(:notes AS text[]),
                CAST(:from_areas AS text[]), CAST(:to_areas AS text[]))
         AS s(id, step, note, from_area, to_area)
""")
# One audit entry per step, with the escalation as it stands after it.
_AUDIT = text("""
    INSERT INTO audit_log (service, actor_key_id, actor, action, entity_type, entity_id,
                           before, after, request_id)
    SELECT :service, :actor_key_id, :actor, 'escalation.' || s.step, 'escalation', s.id::text,
           CAST(s.before AS jsonb), to_jsonb(e) || jsonb_build_object('note', s.note), :request_id
    FROM unnest(CAST(:ids AS int[]), CAST(:steps AS text[]), CAST(:notes AS text[]),
                CAST(:befores AS text[])) AS s(id, step, note, before)
    JOIN escalation e ON e.id = s.id
    RETURNING action, after
""")
_GAUGES = text(f"""
    SELECT e.level, e.reason, count(*) FILTER (WHERE e.state IN ('open', 'acknowledged')) AS live,
           count(*) FILTER (WHERE e.state = 'open' AND {ENGLAND_DAY} + :days < CAST(:today AS date))
               AS overdue
    FROM escalation e WHERE e.state IN ('open', 'acknowledged') GROUP BY e.level, e.reason
""")


async def insert(session: AsyncSession, row: Escalation) -> Escalation:
    return await insert_row(session, row)


async def lock(session: AsyncSession, escalation_id: int) -> RowMapping | None:
    """The escalation, its row held until the transaction ends (of two answers at once, the
    second sees the first)."""
    query = text(_SELECT + " WHERE e.id = :id FOR UPDATE OF e")
    return (await session.execute(query, {"id": escalation_id})).mappings().first()


async def get(session: AsyncSession, escalation_id: int) -> RowMapping | None:
    query = text(_SELECT + " WHERE e.id = :id")
    return (await session.execute(query, {"id": escalation_id})).mappings().first()


async def live_manual(
    session: AsyncSession, *, place_code: str, title: str, metric_code: str | None
) -> RowMapping | None:
    """The place's live manual escalation with this title and metric: a retry finds it."""
    query = text(
        _SELECT + " WHERE e.place_code = :place AND e.reason = 'manual' AND e.title = :title"
        " AND e.metric_code IS NOT DISTINCT FROM :metric AND e.state IN ('open', 'acknowledged')"
        " AND e.level = 'icb' ORDER BY e.id DESC LIMIT 1"
    )
    params = {"place": place_code, "title": title, "metric": metric_code}
    return (await session.execute(query, params)).mappings().first()


async def set_state(
    session: AsyncSession, escalation_id: int, *, state: EscalationState, actor: str
) -> None:
    await session.execute(
        text(
            "UPDATE escalation SET state = :state, updated_at = now(), updated_by = :actor"
            " WHERE id = :id"
        ),
        {"id": escalation_id, "state": state, "actor": actor},
    )


async def open_above(session: AsyncSession, ids: list[int], *, actor: str) -> list[RowMapping]:
    """The escalations ``ids`` opened again one level up; (id, escalated_from_id,
    addressed_to) of each new row."""
    if not ids:
        return []
    rows = await session.execute(_OPEN_ABOVE, {"ids": ids, "actor": actor})
    return list(rows.mappings())


async def record_steps(
    session: AsyncSession, steps: list[dict[str, Any]], *, audit_entry: AuditLog
) -> list[RowMapping]:
    """The steps (``id``, ``step``, ``note``, ``from_area``, ``to_area``, ``before``) in the
    history and the audit log, two statements for all of them; ``audit_entry`` gives who,
    which service and which request. Returns each audit entry's ``action`` and ``after`` (the
    escalation as the step left it, with the note)."""
    if not steps:
        return []
    columns = {name: [s[name] for s in steps] for name in ("id", "step", "note")}
    who = {"actor": audit_entry.actor, "actor_key_id": audit_entry.actor_key_id}
    await session.execute(
        _STEPS,
        {
            **who,
            "ids": columns["id"],
            "steps": columns["step"],
            "notes": columns["note"],
            "from_areas": [s["from_area"] for s in steps],
            "to_areas": [s["to_area"] for s in steps],
        },
    )
    entries = await session.execute(
        _AUDIT,
        {
            **who,
            "service": audit_entry.service,
            "request_id": audit_entry.request_id,
            "ids": columns["id"],
            "steps": columns["step"],
            "notes": columns["note"],
            "befores": [s["before"] for s in steps],
        },
    )
    return list(entries.mappings())


async def steps_of(session: AsyncSession, escalation_id: int) -> list[RowMapping]:
    query = text("SELECT * FROM escalation_step WHERE escalation_id = :id ORDER BY id")
    return list((await session.execute(query, {"id": escalation_id})).mappings())


async def page(
    session: AsyncSession,
    *,
    column: str,
    code: str,
    state: str | None,
    limit: int | None,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """Escalations whose ``column`` (place_code or addressed_to) is ``code``, newest first."""
    assert column in ("place_code", "addressed_to")  # never from a request
    where = f" WHERE e.{column} = :code AND (CAST(:state AS text) IS NULL OR e.state = :state)"
    params = {"code": code, "state": state, "limit": limit, "offset": offset}
    count = await session.scalar(text("SELECT count(*) FROM escalation e" + where), params)
    rows = await session.execute(
        text(_SELECT + where + " ORDER BY e.id DESC LIMIT :limit OFFSET :offset"), params
    )
    return list(rows.mappings()), count or 0


def _due(due: DuePeriods) -> dict[str, Any]:
    return {"metrics": due.metric_codes, "periods": due.periods, "since": due.overdue_since}


async def open_off_track(session: AsyncSession, *, periods: int, actor: str) -> list[RowMapping]:
    rows = await session.execute(_OPEN_OFF_TRACK, {"periods": periods, "actor": actor})
    return list(rows.mappings())


async def open_data_missing(
    session: AsyncSession, *, due: DuePeriods, actor: str
) -> list[RowMapping]:
    rows = await session.execute(_OPEN_DATA_MISSING, {**_due(due), "actor": actor})
    return list(rows.mappings())


async def resolve_gone(session: AsyncSession, *, due: DuePeriods, actor: str) -> list[RowMapping]:
    rows = await session.execute(_RESOLVE_GONE, {**_due(due), "actor": actor})
    return list(rows.mappings())


async def escalate_overdue(
    session: AsyncSession, *, days: int, today: date, actor: str
) -> list[RowMapping]:
    rows = await session.execute(_OVERDUE, {"days": days, "today": today, "actor": actor})
    return list(rows.mappings())


async def gauges(session: AsyncSession, *, days: int, today: date) -> list[RowMapping]:
    rows = await session.execute(_GAUGES, {"days": days, "today": today})
    return list(rows.mappings())
