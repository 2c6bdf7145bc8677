"""The background refresher, in the worker beside targets_api: a change notice from ingest
becomes refreshed progress, and a notice it cannot act on yet stays queued."""

import asyncio

import httpx
import pytest

from tests.support.areas import BRADFORD, LEEDS
from tests.support.clients import bearer
from tests.support.prometheus import counted
from tests.support.waiting import eventually_async
from tests.targets_api.plan_support import DISCHARGE
from tests.targets_api.progress_support import store_observations

NOTICE = {
    "submission_id": "00000000-0000-0000-0000-000000000001",
    "changes": [{"place_code": LEEDS, "metric_code": DISCHARGE, "periods": ["2025-07"]}],
}


async def refreshes(worker: httpx.AsyncClient, result: str) -> float:
    """Refreshes with that result so far, as the worker's /metrics says (this process's tests
    share the counter)."""
    return counted(
        (await worker.get("/metrics")).text, "joinedup_progress_refreshes_total", result=result
    )


async def test_a_change_notice_is_refreshed_in_the_background(
    refreshing, worker, service_key, query
):
    store_observations(query, [(LEEDS, DISCHARGE, "2025-07", 90.0, 900, 1000)])
    done_before = await refreshes(worker, "done")

    response = await refreshing.post(
        "/internal/v1/observation-changes", json=NOTICE, headers=bearer(service_key)
    )

    assert response.status_code == 202, response.text
    await eventually_async(
        lambda: query("SELECT level, value FROM area_value ORDER BY level"),
        lambda rows: rows == [("icb", 90.0), ("nation", 90.0), ("place", 90.0), ("region", 90.0)],
        what="the place, its ICB, region and England computed",
    )
    assert query("SELECT count(*) FROM progress_refresh_queue") == [(0,)]
    await eventually_async(
        lambda: refreshes(worker, "done"),
        lambda n: n == done_before + 1,
        what="the refresh counted",
    )


async def test_a_failed_refresh_leaves_the_notice_queued(refreshing, worker, service_key, query):
    store_observations(query, [(LEEDS, DISCHARGE, "2025-07", 90.0, 900, 1000)])
    # Every refresh fails on this constraint until it is dropped.
    query("ALTER TABLE area_value ADD CONSTRAINT no_values CHECK (value IS NULL)")
    failed_before = await refreshes(worker, "failed")

    noticed = await refreshing.post(
        "/internal/v1/observation-changes", json=NOTICE, headers=bearer(service_key)
    )
    assert noticed.status_code == 202, noticed.text
    await eventually_async(
        lambda: refreshes(worker, "failed"),
        lambda n: n >= failed_before + 2,
        what="two refreshes failed",
    )

    assert query(
        "SELECT place_code, metric_code, period_from, period_to FROM progress_refresh_queue"
    ) == [(LEEDS, DISCHARGE, "2025-07", "2025-07")]
    query("ALTER TABLE area_value DROP CONSTRAINT no_values")
    await eventually_async(
        lambda: query("SELECT count(*) FROM area_value"),
        lambda rows: rows[0][0] > 0,
        what="the refresh succeeds once the fault is gone",
    )


def notice(place: str, period: str) -> dict:
    return {
        "submission_id": "00000000-0000-0000-0000-000000000002",
        "changes": [{"place_code": place, "metric_code": DISCHARGE, "periods": [period]}],
    }


async def test_another_places_data_moves_england_and_the_rank_of_a_target(
    refreshing, plans, service_key, query
):
    await plans.in_state("agreed")
    store_observations(query, [(LEEDS, DISCHARGE, "2025-09", 90.0, 900, 1000)])
    noticed = await refreshing.post(
        "/internal/v1/observation-changes",
        json=notice(LEEDS, "2025-09"),
        headers=bearer(service_key),
    )
    assert noticed.status_code == 202, noticed.text
    benchmarks = (
        "SELECT national_value, rank, rank_of, computed_at FROM target_progress "
        "WHERE place_code = %s AND metric_code = %s"
    )
    before = await eventually_async(
        lambda: query(benchmarks, LEEDS, DISCHARGE),
        lambda rows: rows and rows[0][:3] == (90.0, 1, 1),
        what="Leeds alone: England is Leeds, rank 1 of 1",
    )

    # Only Bradford's series changed: Leeds's target keeps its computed series figures, and
    # takes England's (900 + 950) / (1000 + 1000) x 100 = 92.5 and second place of two.
    store_observations(query, [(BRADFORD, DISCHARGE, "2025-09", 95.0, 950, 1000)])
    noticed = await refreshing.post(
        "/internal/v1/observation-changes",
        json=notice(BRADFORD, "2025-09"),
        headers=bearer(service_key),
    )
    assert noticed.status_code == 202, noticed.text
    after = await eventually_async(
        lambda: query(benchmarks, LEEDS, DISCHARGE),
        lambda rows: rows[0][:3] == (92.5, 2, 2),
        what="Leeds ranked behind Bradford",
    )
    assert after[0][3] == before[0][3]


async def test_a_range_recomputes_the_places_periods_within_it_and_no_others(
    refreshing, service_key, query
):
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-07", 90.0, 900, 1000),
            (LEEDS, DISCHARGE, "2025-08", 91.0, 910, 1000),
            (LEEDS, DISCHARGE, "2025-09", 92.0, 920, 1000),
            (BRADFORD, DISCHARGE, "2025-10", 93.0, 930, 1000),  # another place's month
        ],
    )
    response = await refreshing.post(
        "/internal/v1/observation-changes",
        json={
            "submission_id": "00000000-0000-0000-0000-000000000003",
            "changes": [
                # 2025-09 and 2025-10 are outside it: from ingest's point of view unchanged.
                {"place_code": LEEDS, "metric_code": DISCHARGE, "from": "2025-06", "to": "2025-08"}
            ],
        },
        headers=bearer(service_key),
    )

    assert response.status_code == 202, response.text
    await eventually_async(
        lambda: query("SELECT DISTINCT period FROM area_value ORDER BY period"),
        lambda rows: rows == [("2025-07",), ("2025-08",)],
        what="the two months of Leeds's range computed",
    )
    assert query("SELECT count(*) FROM progress_refresh_queue") == [(0,)]


async def test_the_refresher_rests_in_proportion_to_its_last_refresh(monkeypatch):
    """Under a stream of notices the refresher rests `rest` times as long as its last refresh
    took (leaving the submissions most of a core); with nothing queued it polls."""
    from services.targets_api.progress import worker as progress_worker

    refresher = progress_worker.ProgressRefresher(None, None, poll_s=0.3, rest=2.0)  # type: ignore[arg-type]
    took = iter([0.25, 0.0, 0.125])
    slept: list[float] = []

    async def refresh_once() -> float:
        return next(took)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise asyncio.CancelledError

    monkeypatch.setattr(refresher, "refresh_once", refresh_once)
    monkeypatch.setattr(progress_worker.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await refresher.run()

    assert slept == [0.5, 0.3, 0.25]
