"""Observations written straight into ingest's table (what a submission would leave), and a
full progress refresh through the admin endpoint, for the progress and assessment tests."""

import uuid
from collections.abc import Callable, Iterable

import httpx

Observation = tuple  # (place, metric, period, value, numerator, denominator)


def store_observations(query: Callable[..., list[tuple]], rows: Iterable[Observation]) -> None:
    """Each row becomes the current version of its (place, metric, period)."""
    submission_id = str(uuid.uuid4())
    for place, metric, period, value, numerator, denominator in rows:
        query(
            """
            UPDATE observation SET superseded_at = now()
            WHERE place_code = %s AND metric_code = %s AND period = %s
              AND superseded_at IS NULL""",
            place,
            metric,
            period,
        )
        query(
            """
            INSERT INTO observation (place_code, metric_code, period, version, value, numerator,
                                     denominator, metric_version, submission_id)
            SELECT %s, %s, %s, coalesce(max(version), 0) + 1, %s, %s, %s, 1, %s
            FROM observation WHERE place_code = %s AND metric_code = %s AND period = %s""",
            place,
            metric,
            period,
            value,
            numerator,
            denominator,
            submission_id,
            place,
            metric,
            period,
        )


async def refresh(client: httpx.AsyncClient, admin: dict[str, str]) -> dict:
    response = await client.post("/v1/progress/refresh", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()
