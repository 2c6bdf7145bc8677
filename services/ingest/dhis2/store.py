"""The one read a DHIS2 import makes besides the submission's own: which of its observations
already have a current value (for importStrategy CREATE or UPDATE)."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_EXISTING = text("""
    SELECT k.position FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]),
                                  CAST(:periods AS text[])) WITH ORDINALITY
           AS k(place_code, metric_code, period, position)
    WHERE EXISTS (SELECT FROM observation o
                  WHERE o.place_code = k.place_code AND o.metric_code = k.metric_code
                    AND o.period = k.period AND o.superseded_at IS NULL)
""")


async def with_current_value(
    session: AsyncSession, keys: list[tuple[str | None, str | None, str | None]]
) -> set[int]:
    """The 0-based positions of the (place, metric, period) keys that have a current value."""
    if not keys:
        return set()
    places, metrics, periods = (list(column) for column in zip(*keys, strict=True))
    result = await session.execute(
        _EXISTING, {"places": places, "metrics": metrics, "periods": periods}
    )
    return {position - 1 for (position,) in result}
