"""The SQL of an evaluation: a metric's panel of current observations, and each place's events."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

# The current observations of the metric's current form (periods of another periodicity are
# from an earlier version), closed periods only: the day after the period's end plus the
# metric's deadline days has come.
_PANEL = text("""
    SELECT place_code, period, period_index(period) AS position, value, metric_version
    FROM observation
    WHERE metric_code = :metric AND superseded_at IS NULL
      AND period_periodicity(period) = :periodicity
      AND period_end(period) + :deadline_days < CAST(:today AS date)
""")
# Per place: its first term that came from a confirmed nomination (a term has a nomination
# only when it was confirmed), whether that term is a joint appointment, and its current
# governance arrangement's adoption day and model.
_EVENTS = text("""
    SELECT p.code AS place_code, l.appointed_on AS leader_on, l.joint_appointment,
           g.adopted_on, g.model
    FROM area p
    LEFT JOIN LATERAL (
        SELECT t.appointed_on, t.joint_appointment FROM place_leader t
        JOIN leader_nomination n ON n.leader_id = t.id AND n.status = 'confirmed'
        WHERE t.place_code = p.code ORDER BY t.appointed_on LIMIT 1
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT adopted_on, model FROM place_governance
        WHERE place_code = p.code ORDER BY version DESC LIMIT 1
    ) g ON true
    WHERE p.level = 'place'
""")


async def panel(
    session: AsyncSession, *, metric_code: str, periodicity: str, deadline_days: int, today: date
) -> Sequence[Row[Any]]:
    params = {
        "metric": metric_code,
        "periodicity": periodicity,
        "deadline_days": deadline_days,
        "today": today,
    }
    return (await session.execute(_PANEL, params)).all()


async def events(session: AsyncSession) -> Sequence[Row[Any]]:
    """Every place's confirmed leader and current governance, as ``_EVENTS`` says."""
    return (await session.execute(_EVENTS)).all()
