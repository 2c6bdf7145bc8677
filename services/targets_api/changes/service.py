"""Notices from ingest that observations changed, queued for the progress refresh."""

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.targets_api.changes.schemas import ObservationChanges

# Grouped first: ON CONFLICT may touch each queue row only once per statement.
_QUEUE = text("""
    INSERT INTO progress_refresh_queue AS q (place_code, metric_code, periods,
                                             last_submission_id)
    SELECT c.place_code, c.metric_code, array_agg(DISTINCT p ORDER BY p),
           CAST(:submission_id AS uuid)
    FROM jsonb_to_recordset(CAST(:changes AS jsonb))
         AS c(place_code text, metric_code text, periods text[])
    CROSS JOIN unnest(c.periods) AS p
    GROUP BY c.place_code, c.metric_code
    ON CONFLICT (place_code, metric_code) DO UPDATE SET
        periods = ARRAY(SELECT DISTINCT p FROM unnest(q.periods || excluded.periods) AS p
                        ORDER BY p),
        last_submission_id = excluded.last_submission_id,
        last_notified_at = now()
""")


async def queue_changes(session: AsyncSession, *, notice: ObservationChanges) -> int:
    """Merge the notice into the queue; receiving the same notice twice changes nothing more."""
    result = await session.execute(_QUEUE, {
        "submission_id": str(notice.submission_id),
        "changes": json.dumps([change.model_dump() for change in notice.changes])})
    return result.rowcount


# No periods: the observations are unchanged, only which targets are in force.
_QUEUE_PLACE_TARGETS = text("""
    INSERT INTO progress_refresh_queue AS q (place_code, metric_code, periods)
    SELECT DISTINCT p.place_code, t.metric_code, CAST(ARRAY[] AS text[])
    FROM plan p JOIN plan_target t ON t.plan_id = p.id
    WHERE p.place_code = :place_code AND p.status IN ('agreed', 'superseded')
    ON CONFLICT (place_code, metric_code) DO UPDATE SET last_notified_at = now()
""")


async def queue_place_targets(session: AsyncSession, *, place_code: str) -> None:
    """A place's agreed plan changed: queue the metrics of its targets, old and new, so the
    refresher computes the new plan's progress and drops the old plan's."""
    await session.execute(_QUEUE_PLACE_TARGETS, {"place_code": place_code})
