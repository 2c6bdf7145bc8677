"""Progress of a place's agreed targets, hand-worked from the definitions in API.md, and read
back as JSON and CSV.

Leeds's agreed plan (tests/targets_api/plan_support.py) has five targets. The data below puts
each in a different status, so one refresh exercises every branch of the definition.
"""

import csv
import io

import pytest

from tests.support.areas import BRADFORD, CORNWALL, LEEDS
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import (
    AVOIDABLE,
    DISCHARGE,
    FALLS,
    REABLEMENT,
    RESIDENTIAL,
)
from tests.targets_api.progress_support import refresh, store_observations

# Leeds's discharge proportion rises 0.25 points a month from the baseline (88.5 in 2025-03):
# 88.75, 89.0, ... 90.0 in 2025-09, each out of 1000 discharges.
LEEDS_DISCHARGE = [
    (
        LEEDS,
        DISCHARGE,
        f"2025-{month:02d}",
        88.5 + 0.25 * (month - 3),
        10 * (88.5 + 0.25 * (month - 3)),
        1000,
    )
    for month in range(4, 10)
]
OTHERS_DISCHARGE = [
    (BRADFORD, DISCHARGE, "2025-09", 80.0, 400, 500),
    (CORNWALL, DISCHARGE, "2025-09", 95.0, 950, 1000),
]
# Lower is better for all three rates (per 100,000).
LEEDS_RATES = [
    (LEEDS, FALLS, "2025-Q3", 596.0, 596, 100_000),
    (LEEDS, AVOIDABLE, "2025-Q4", 505.0, 505, 100_000),
    (LEEDS, RESIDENTIAL, "2026", 495.0, 495, 100_000),
]


@pytest.fixture
async def progress(client, plans, admin, query) -> dict:
    """Leeds's progress after a refresh over the data above."""
    await plans.in_state("agreed")
    store_observations(query, LEEDS_DISCHARGE + OTHERS_DISCHARGE + LEEDS_RATES)
    await refresh(client, admin)
    response = await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


def item(progress: dict, metric: str) -> dict:
    return next(i for i in progress["items"] if i["metric_code"] == metric)


async def test_an_on_track_target_has_every_field_worked_out(progress):
    discharge = item(progress, DISCHARGE)

    assert (discharge["metric_name"], discharge["unit"], discharge["decimals"]) == (
        "Percentage of people discharged from acute hospital to their normal place of residence",
        "%",
        1,
    )
    assert (discharge["latest_period"], discharge["latest_value"]) == ("2025-09", 90.0)
    # No trajectory point at 2025-09: the straight line from 88.5 (2025-03) to 92.0 (2027-03),
    # 6 of 24 months along: 88.5 + 3.5 x 6/24 = 89.375. 90.0 is at least that: on track.
    assert discharge["expected_value"] == pytest.approx(89.375)
    assert discharge["status"] == "on_track"
    # (90.0 - 88.5) / (92.0 - 88.5) x 100 = 42.857
    assert discharge["progress_pct"] == pytest.approx(42.857, abs=1e-3)
    # The six values lie on a line rising 0.25 a month; 18 months on from 2025-09 it is
    # 90.0 + 0.25 x 18 = 94.5.
    assert discharge["forecast_value"] == pytest.approx(94.5)
    # England in 2025-09 is the ratio of sums, (900 + 400 + 950) / (1000 + 500 + 1000) x 100
    # = 90.0, not the mean of the three proportions (90 + 80 + 95) / 3 = 88.333.
    assert discharge["national_value"] == pytest.approx(90.0)
    # Leeds's Wilson interval for 900/1000 is 87.98 to 91.71, which holds 90.0: similar.
    assert discharge["comparison"] == "similar"
    # Higher is better: Cornwall 95, Leeds 90, Bradford 80.
    assert (discharge["rank"], discharge["rank_of"]) == (2, 3)
    # Mean 89.375, every moving range 0.25, limits 89.375 -/+ 2.66 x 0.25 = 88.71 to 90.04:
    # no rule fires, and the target 92.0 lies above the upper limit, so it will not be met
    # without a change in the process.
    assert (discharge["variation"], discharge["assurance"]) == ("common_cause", "consistent_fail")


async def test_each_status_follows_its_definition(progress):
    # Falls, lower is better, no trajectory, tolerance 0: expected at 2025-Q3 is
    # 610 - 50 x 2/7 = 595.714; 596 is worse by 0.286 > 0.
    falls = item(progress, FALLS)
    assert falls["expected_value"] == pytest.approx(595.714, abs=1e-3)
    assert falls["status"] == "off_track"
    # Avoidable admissions: the trajectory says 500 at 2025-Q4; 505 is worse by 5, within the
    # default tolerance of 10 % of |450 - 520| = 7.
    avoidable = item(progress, AVOIDABLE)
    assert (avoidable["expected_value"], avoidable["status"]) == (500.0, "at_risk")
    # Residential admissions: 2026 is the target period and 495 beats the target of 500.
    assert item(progress, RESIDENTIAL)["status"] == "achieved"
    # Reablement: nothing reported after its 2024 baseline.
    reablement = item(progress, REABLEMENT)
    assert reablement["status"] == "no_data"
    assert reablement["expected_value"] is reablement["progress_pct"] is None

    assert progress["summary"] == {
        "on_track": 1,
        "at_risk": 1,
        "off_track": 1,
        "achieved": 1,
        "no_data": 1,
        "not_assessed": 0,
    }
    assert progress["refresh_pending"] is False


async def test_the_place_profile_counts_its_targets_by_status(client, progress, admin):
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=admin)).json()

    assert profile["progress_counts"] == progress["summary"]


async def test_a_value_from_before_the_baseline_is_no_data(client, plans, admin, query):
    await plans.in_state("agreed")
    # The discharge baseline is 2025-03; a value for 2025-02 says nothing about progress.
    store_observations(query, [(LEEDS, DISCHARGE, "2025-02", 90.0, 900, 1000)])
    await refresh(client, admin)

    found = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    assert item(found, DISCHARGE)["status"] == "no_data"
    assert item(found, DISCHARGE)["latest_period"] == "2025-02"


async def test_a_correction_changes_progress_at_the_next_refresh(client, plans, admin, query):
    await plans.in_state("agreed")
    store_observations(query, LEEDS_DISCHARGE)
    await refresh(client, admin)
    # 2025-09 corrected from 90.0 down to 89.0, below the expected 89.375 by 0.375: within
    # the tolerance of 1.0, so at risk.
    store_observations(query, [(LEEDS, DISCHARGE, "2025-09", 89.0, 890, 1000)])
    await refresh(client, admin)

    found = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    assert (item(found, DISCHARGE)["latest_value"], item(found, DISCHARGE)["status"]) == (
        89.0,
        "at_risk",
    )


async def test_a_place_without_an_agreed_plan_has_no_items(client, plans, admin):
    await plans.in_state("proposed")

    found = await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)

    assert found.status_code == 200
    assert (found.json()["plan_id"], found.json()["items"]) == (None, [])


async def test_a_plan_agreed_since_the_last_refresh_says_its_progress_is_pending(
    client, plans, admin, query
):
    plan = await plans.in_state("agreed")

    found = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    assert (found["plan_id"], found["items"], found["refresh_pending"]) == (plan["id"], [], True)
    # The agreement queued the plan's metrics for the refresher.
    assert {row[0] for row in query("SELECT metric_code FROM progress_refresh_queue")} == {
        AVOIDABLE,
        DISCHARGE,
        FALLS,
        REABLEMENT,
        RESIDENTIAL,
    }


async def test_progress_as_csv_has_a_row_per_target(client, progress, admin):
    response = await client.get(
        f"/v1/places/{LEEDS}/progress", headers=admin | {"Accept": "text/csv"}
    )

    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["metric_code"] for r in rows] == sorted(
        [AVOIDABLE, DISCHARGE, FALLS, REABLEMENT, RESIDENTIAL]
    )
    assert {r["metric_code"]: r["status"] for r in rows}[DISCHARGE] == "on_track"


async def test_the_series_has_each_point_with_its_limits_and_the_target(client, progress, admin):
    response = await client.get(f"/v1/places/{LEEDS}/progress/{DISCHARGE}", headers=admin)

    assert response.status_code == 200, response.text
    series = response.json()
    assert [p["period"] for p in series["points"]] == [f"2025-{m:02d}" for m in range(4, 10)]
    first = series["points"][0]
    assert (first["mean"], first["lpl"], first["upl"]) == pytest.approx((89.375, 88.71, 90.04))
    assert {p["point_type"] for p in series["points"]} == {"common_cause"}
    assert series["target"]["target_value"] == 92.0
    assert series["improvement_direction"] == "increase"
    # Six points are fewer than NHSRplotthedots' 13 for settled limits: it says so.
    assert [w[:30] for w in series["warnings"]] == ["Some groups have 'n < 12' obse"]

    as_csv = await client.get(
        f"/v1/places/{LEEDS}/progress/{DISCHARGE}", headers=admin | {"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["period"] for r in rows][-1] == "2025-09"


async def test_unknown_places_and_metrics_are_404_and_a_key_is_needed(client, admin):
    assert_problem(await client.get("/v1/places/E08999999/progress", headers=admin), 404)
    assert_problem(
        await client.get(f"/v1/places/{LEEDS}/progress/no-such-metric", headers=admin), 404
    )
    assert_problem(await client.get(f"/v1/places/{LEEDS}/progress"), 401)


async def test_only_an_admin_may_refresh_everything(client, make_key, query):
    steward = bearer(await make_key("steward", "E92000001"))

    assert_problem(await client.post("/v1/progress/refresh", headers=steward), 403)
    assert_problem(await client.post("/v1/progress/refresh"), 401)
    assert query("SELECT count(*) FROM audit_log WHERE action = 'progress.refresh'") == [(0,)]


async def test_consecutive_off_track_periods_are_counted_back_from_the_latest(
    client, plans, admin, query
):
    await plans.in_state("agreed")
    # Falls, lower is better, tolerance 0, straight line from 610 (2025-Q1) to 560 (2026-Q4):
    # expected 602.857, 595.714, 588.571, 581.429 for 2025-Q2 .. 2026-Q1.
    # 600 is better than 602.857; 596, 590 and 585 are each worse than expected.
    store_observations(
        query,
        [
            (LEEDS, FALLS, period, value, value, 100_000)
            for period, value in [
                ("2025-Q2", 600),
                ("2025-Q3", 596),
                ("2025-Q4", 590),
                ("2026-Q1", 585),
            ]
        ],
    )
    await refresh(client, admin)

    found = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    assert (item(found, FALLS)["status"], item(found, FALLS)["consecutive_off_track"]) == (
        "off_track",
        3,
    )
    assert item(found, DISCHARGE)["consecutive_off_track"] == 0
