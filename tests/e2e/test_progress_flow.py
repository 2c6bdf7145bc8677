"""Progress through the three real services and the worker: a plan agreed in targets_api, a
submission to ingest, the outbox notice the worker delivers, the refresh the worker runs, and
the progress an assessor reads from targets_api."""

import httpx
import pytest

from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.prometheus import counted
from tests.support.submissions import json_submission, observation
from tests.support.waiting import eventually
from tests.targets_api.plan_support import DISCHARGE

pytestmark = pytest.mark.e2e


@pytest.fixture
async def assessor(make_key) -> dict[str, str]:
    return bearer(await make_key("assessor"))


def test_a_submission_moves_an_agreed_target_and_the_systems_figures(
    start_suite, plan_keys, assessor
):
    suite = start_suite()
    plan_id = suite.agree_plan(LEEDS, WEST_YORKSHIRE, plan_keys)

    def discharge() -> dict | None:
        progress = httpx.get(
            f"{suite.targets_api.url}/v1/places/{LEEDS}/progress", headers=assessor, timeout=15
        ).json()
        found = [i for i in progress["items"] if i["metric_code"] == DISCHARGE]
        return found[0] | {"plan_id": progress["plan_id"]} if found else None

    # The agreement queued the plan for the refresher: no data yet.
    before = eventually(
        discharge, lambda item: item is not None, what="the agreed plan's progress computed"
    )
    assert (before["plan_id"], before["status"]) == (plan_id, "no_data")

    submitted = suite.submit_json(json_submission(observation()))
    assert submitted.status_code == 201, submitted.text

    after = eventually(
        discharge,
        lambda item: item["latest_period"] == "2025-07",
        what="the submission reflected in progress",
    )
    # 912 / 1003 x 100 = 90.927 against the straight line from 88.5 (2025-03) to 92.0
    # (2027-03), 4 of 24 months along: 88.5 + 3.5 x 4/24 = 89.083. On track; Leeds alone has
    # reported, so it is England and ranks 1 of 1.
    assert after["latest_value"] == pytest.approx(90.927, abs=1e-3)
    assert after["expected_value"] == pytest.approx(89.083, abs=1e-3)
    assert after["status"] == "on_track"
    assert (after["national_value"], after["rank"], after["rank_of"]) == (
        pytest.approx(90.927, abs=1e-3),
        1,
        1,
    )

    # The same figure reaches the system view and the league table an assessor reads.
    performance = httpx.get(
        f"{suite.targets_api.url}/v1/areas/{WEST_YORKSHIRE}/performance",
        headers=assessor,
        timeout=15,
    ).json()
    discharge_row = next(m for m in performance["metrics"] if m["metric_code"] == DISCHARGE)
    leeds_row = next(p for p in discharge_row["places"] if p["place_code"] == LEEDS)
    assert leeds_row["status"] == "on_track"
    assert discharge_row["status_counts"]["on_track"] == 1
    # Only Leeds of West Yorkshire's five places has reported: the latest closed month with any
    # data, flagged as below the minimum coverage.
    assert (
        discharge_row["period"],
        discharge_row["latest_period"],
        discharge_row["coverage"],
        discharge_row["below_min_coverage"],
    ) == ("2025-07", "2025-07", 0.2, True)
    table = httpx.get(
        f"{suite.targets_api.url}/v1/metrics/{DISCHARGE}/league-table",
        params={"level": "icb", "period": "2025-07"},
        headers=assessor,
        timeout=15,
    ).json()
    # One of five places: shown, but an incomplete roll-up is not ranked.
    assert [(r["area_code"], r["complete"], r["rank"]) for r in table["data"]] == [
        (WEST_YORKSHIRE, False, None)
    ]

    # The worker did the background work; the API processes only answered requests.
    assert background_work(suite.worker.url) >= 2  # the agreement's refresh, the submission's
    assert background_work(suite.targets_api.url) == background_work(suite.ingest.url) == 0


def background_work(url: str) -> float:
    """Refreshes and outbox deliveries done by the process at ``url``, by its /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=15).text
    return counted(text, "joinedup_progress_refreshes_total") + counted(
        text, "joinedup_outbox_deliveries_total"
    )
