"""One participant's data never stops the nation's figures: what the refresh cannot compute is
set aside with its reason, everything else is refreshed, and it is tried again when its data
changes.

The poison values are written straight into the tables, as data stored before the bounds at the
door existed would be (the API refuses them now: tests/ingest, tests/targets_api/test_plans.py).
"""

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.areas import BRADFORD, LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.waiting import eventually_async
from tests.targets_api.plan_support import DISCHARGE, FALLS
from tests.targets_api.progress_support import refresh, store_observations

POISON = "leeds-local-value"
# A local value metric without valid_max rolls up as a population-weighted mean: 1e304 x
# Leeds's population overflows float8 in the ICB's sum.
LOCAL_VALUE = {
    "code": POISON,
    "scope": "local",
    "owner_area_code": WEST_YORKSHIRE,
    "name": "A local value",
    "domain": "Local",
    "kind": "value",
    "direction": "higher_is_better",
    "periodicity": "monthly",
}
SET_ASIDE_LOG = "services.targets_api.progress.store"


def notice(*changes: tuple[str, str, str]) -> dict:
    return {
        "submission_id": "00000000-0000-0000-0000-0000000000aa",
        "changes": [
            {"place_code": place, "metric_code": metric, "periods": [period]}
            for place, metric, period in changes
        ],
    }


async def set_aside(client, admin) -> list[dict]:
    response = await client.get("/v1/progress/set-aside", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return body["data"]


async def set_aside_gauge(client) -> dict[str, float]:
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for sample in family.samples
        if sample.name == "joinedup_progress_set_aside"
    }


def set_aside_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == SET_ASIDE_LOG and r.levelno == logging.WARNING
    ]


@pytest.fixture
async def local_value_metric(metrics_api, admin) -> None:
    created = await metrics_api.post("/v1/metrics", json=LOCAL_VALUE, headers=admin)
    assert created.status_code == 201, created.text


async def test_a_value_that_overflows_its_roll_up_is_set_aside_and_another_place_moves_on(
    fresh_catalogue, local_value_metric, refreshing, admin, service_key, query, caplog
):
    caplog.set_level(logging.WARNING, logger=SET_ASIDE_LOG)
    store_observations(
        query,
        [
            (LEEDS, POISON, "2025-09", 1e304, None, None),
            (BRADFORD, DISCHARGE, "2025-09", 95.0, 950, 1000),
        ],
    )

    # Both in one notice, so one refresh meets both.
    sent = await refreshing.post(
        "/internal/v1/observation-changes",
        headers=bearer(service_key),
        json=notice((LEEDS, POISON, "2025-09"), (BRADFORD, DISCHARGE, "2025-09")),
    )
    assert sent.status_code == 202, sent.text

    discharge = (
        "SELECT area_code, value FROM area_value WHERE metric_code = %s "
        "AND period = '2025-09' AND level IN ('place', 'nation') ORDER BY level"
    )
    await eventually_async(
        lambda: query(discharge, DISCHARGE),
        lambda rows: rows == [("E92000001", 95.0), (BRADFORD, 95.0)],
        what="Bradford's new month and England refreshed",
    )
    [item] = await eventually_async(
        lambda: set_aside(refreshing, admin), bool, what="the poisoned pair set aside"
    )
    assert (item["kind"], item["metric_code"], item["period"], item["failures"]) == (
        "area_value",
        POISON,
        "2025-09",
        1,
    )
    assert "out of range" in item["reason"]
    assert query("SELECT count(*) FROM area_value WHERE metric_code = %s", POISON) == [(0,)]
    assert query("SELECT count(*) FROM progress_refresh_queue") == [(0,)]
    assert await set_aside_gauge(refreshing) == {"area_value": 1.0, "target": 0.0}
    assert len(set_aside_warnings(caplog)) == 1

    # Met again (another notice names it), it is tried again and fails again: counted, and not
    # logged a second time; the rest of that refresh still lands.
    store_observations(query, [(BRADFORD, DISCHARGE, "2025-10", 96.0, 960, 1000)])
    noticed = await refreshing.post(
        "/internal/v1/observation-changes",
        headers=bearer(service_key),
        json=notice((LEEDS, POISON, "2025-09"), (BRADFORD, DISCHARGE, "2025-10")),
    )
    assert noticed.status_code == 202, noticed.text
    await eventually_async(
        lambda: set_aside(refreshing, admin),
        lambda rows: rows and rows[0]["failures"] == 2,
        what="failed again",
    )
    assert query(
        "SELECT value FROM area_value WHERE metric_code = %s AND period = '2025-10' "
        "AND area_code = %s",
        DISCHARGE,
        BRADFORD,
    ) == [(96.0,)]
    assert len(set_aside_warnings(caplog)) == 1

    # Corrected, it is computed and no longer set aside.
    store_observations(query, [(LEEDS, POISON, "2025-09", 12.5, None, None)])
    noticed = await refreshing.post(
        "/internal/v1/observation-changes",
        headers=bearer(service_key),
        json=notice((LEEDS, POISON, "2025-09")),
    )
    assert noticed.status_code == 202, noticed.text
    await eventually_async(
        lambda: set_aside(refreshing, admin),
        lambda rows: rows == [],
        what="the corrected pair taken up again",
    )
    assert query(
        "SELECT level, value FROM area_value WHERE metric_code = %s AND level = 'place'", POISON
    ) == [("place", 12.5)]
    assert await set_aside_gauge(refreshing) == {"area_value": 0.0, "target": 0.0}


async def test_a_target_whose_expected_value_is_not_finite_is_set_aside_alone(
    client, plans, admin, query, caplog
):
    caplog.set_level(logging.WARNING, logger=SET_ASIDE_LOG)
    plan = await plans.in_state("agreed")
    # A steward's target from before the bounds: the straight line from -1e308 to 1e308 has
    # an infinite slope, so the expected value is not a number JSON (or a report) can carry.
    query(
        "UPDATE plan_target SET baseline_value = -1e308, target_value = 1e308, "
        "trajectory = '[]' WHERE plan_id = %s AND metric_code = %s",
        plan["id"],
        DISCHARGE,
    )
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-09", 90.0, 900, 1000),
            (LEEDS, FALLS, "2025-Q3", 596.0, 596, 100_000),
        ],
    )

    result = await refresh(client, admin)

    assert (result["targets"], result["set_aside"]) == (4, 1)
    [item] = await set_aside(client, admin)
    assert (
        item["kind"],
        item["plan_id"],
        item["metric_code"],
        item["place_code"],
        item["period"],
    ) == ("target", plan["id"], DISCHARGE, LEEDS, None)
    assert "ValueError" in item["reason"]
    progress = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    by_metric = {i["metric_code"]: i for i in progress["items"]}
    assert DISCHARGE not in by_metric
    # Expected at 2025-Q3: 610 - 50 x 2/7 = 595.71; 596 is worse, with no tolerance.
    assert (by_metric[FALLS]["latest_value"], by_metric[FALLS]["status"]) == (596.0, "off_track")
    # England's discharge figure is computed: the area values are another step.
    assert query(
        "SELECT value FROM area_value WHERE metric_code = %s AND level = 'nation'", DISCHARGE
    ) == [(90.0,)]

    again = await refresh(client, admin)
    assert again["set_aside"] == 1
    assert [i["failures"] for i in await set_aside(client, admin)] == [2]
    assert len(set_aside_warnings(caplog)) == 1


async def test_a_target_whose_series_is_beyond_the_bounds_is_set_aside_and_the_rest_computed(
    client, plans, admin, query
):
    # The engine hands a series it may not compute to the one-series reference, whose chart
    # refuses it: that target alone is set aside, with the chart's reason.
    plan = await plans.in_state("agreed")
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-08", 90.0, 900, 1000),
            (LEEDS, DISCHARGE, "2025-09", 1e300, 900, 1000),
            (LEEDS, FALLS, "2025-Q3", 596.0, 596, 100_000),
        ],
    )

    result = await refresh(client, admin)

    assert (result["targets"], result["set_aside"]) == (4, 1)
    [item] = await set_aside(client, admin)
    assert (item["kind"], item["plan_id"], item["metric_code"]) == ("target", plan["id"], DISCHARGE)
    assert item["reason"].startswith("ValueError: SPC values must be finite numbers of magnitude")
    progress = (await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)).json()
    by_metric = {i["metric_code"]: i for i in progress["items"]}
    assert DISCHARGE not in by_metric
    assert (by_metric[FALLS]["latest_value"], by_metric[FALLS]["status"]) == (596.0, "off_track")


async def test_only_an_admin_sees_what_was_set_aside(client, viewer, steward):
    for headers in (viewer, steward):
        response = await client.get("/v1/progress/set-aside", headers=headers)
        assert response.status_code == 403, response.text


async def test_a_series_the_chart_cannot_carry_is_shown_without_its_chart(client, admin, query):
    # Near float8's limit the mean's sum overflows: the values are still shown, with no SPC and
    # a warning saying why (this was a 500 and dropped the connection's next request).
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-07", 1.7e308, None, None),
            (LEEDS, DISCHARGE, "2025-08", 1.7e308, None, None),
            (LEEDS, DISCHARGE, "2025-09", -1.7e308, None, None),
        ],
    )

    for _ in range(2):  # the same connection answers again
        response = await client.get(f"/v1/places/{LEEDS}/progress/{DISCHARGE}", headers=admin)
        assert response.status_code == 200, response.text
    series = response.json()
    assert [(p["period"], p["value"], p["mean"], p["point_type"]) for p in series["points"]] == [
        ("2025-07", 1.7e308, None, None),
        ("2025-08", 1.7e308, None, None),
        ("2025-09", -1.7e308, None, None),
    ]
    assert series["variation"] is None
    assert series["warnings"] and series["warnings"][0].startswith("No SPC for this series")
