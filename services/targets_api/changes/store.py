"""Notices from ingest that observations changed, queued for the progress refresh."""

import json
from typing import cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.targets_api.changes.schemas import ObservationChanges

# A plain append: it never waits on the rows a running refresh has drained (see
# docs/architecture.md, "Lock order"); duplicates merge when the refresher drains the queue.
_QUEUE = text("""
    INSERT INTO progress_refresh_queue (place_code, metric_code, period_from, period_to,
                                        submission_id)
    SELECT c.place_code, c.metric_code, c.period_from, c.period_to, CAST(:submission_id AS uuid)
    FROM jsonb_to_recordset(CAST(:changes AS jsonb))
         AS c(place_code text, metric_code text, period_from text, period_to text)
""")


async def queue_changes(session: AsyncSession, *, notice: ObservationChanges) -> int:
    """Queue the notice; receiving the same notice twice refreshes the same things once."""
    # An INSERT's result is a CursorResult; execute() on a text() clause is typed as the
    # general Result, which has no rowcount.
    result = cast(
        CursorResult,
        await session.execute(
            _QUEUE,
            {
                "submission_id": str(notice.submission_id),
                "changes": json.dumps(
                    [change.model_dump(exclude={"periods"}) for change in notice.changes]
                ),
            },
        ),
    )
    return result.rowcount


# No periods: the observations are unchanged, only which targets are in force.
_QUEUE_PLACE_TARGETS = text("""
    INSERT INTO progress_refresh_queue (place_code, metric_code)
    SELECT DISTINCT p.place_code, t.metric_code
    FROM plan p JOIN plan_target t ON t.plan_id = p.id
    WHERE p.place_code = :place_code AND p.status IN ('agreed', 'superseded')
""")


async def queue_place_targets(session: AsyncSession, *, place_code: str) -> None:
    """A place's agreed plan changed: queue the metrics of its targets, old and new, so the
    refresher computes the new plan's progress and drops the old plan's."""
    await session.execute(_QUEUE_PLACE_TARGETS, {"place_code": place_code})
