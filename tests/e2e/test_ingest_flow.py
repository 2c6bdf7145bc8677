"""A submission's way through the three real services: ingest validates it against the catalogue
it reads from metrics_api over HTTP, stores it, and tells targets_api which place and metric
changed, and targets_api recomputes progress from it."""

import httpx
import pytest

from tests.support.areas import BRADFORD, LEEDS
from tests.support.submissions import DISCHARGE, csv_body, json_submission, observation
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

FRESH_S = 0.3  # ingest's fresh window for the catalogue where a test needs it revalidated


def test_json_and_csv_submissions_are_stored_and_announced_to_targets_api(start_suite, query):
    suite = start_suite()

    by_json = suite.submit_json(json_submission(observation()))
    by_csv = suite.submit_csv(
        csv_body(
            f"{LEEDS},{DISCHARGE},2025-08,,450,500,", f"{BRADFORD},{DISCHARGE},2025-07,,500,1000,"
        )
    )

    assert by_json.status_code == 201, by_json.text
    assert by_csv.status_code == 201, by_csv.text
    assert "x-catalogue-stale" not in by_json.headers
    json_id, csv_id = by_json.json()["id"], by_csv.json()["id"]
    # 500 / 1000, 912 / 1003 and 450 / 500, each x 100
    assert query(
        "SELECT place_code, period, round(value::numeric, 3)::float8, "
        "submission_id::text FROM observation ORDER BY place_code, period"
    ) == [
        (BRADFORD, "2025-07", 50.0, csv_id),
        (LEEDS, "2025-07", 90.927, json_id),
        (LEEDS, "2025-08", 90.0, csv_id),
    ]
    current = httpx.get(
        f"{suite.ingest.url}/v1/observations", headers=suite.submitter, params={"place_code": LEEDS}
    ).json()
    assert [o["period"] for o in current["data"]] == ["2025-07", "2025-08"]

    assert suite.wait_until_delivered() == [(json_id, 1, None, True), (csv_id, 1, None, True)]
    suite.wait_for_place_values(
        {
            (BRADFORD, DISCHARGE, "2025-07"): 50.0,
            (LEEDS, DISCHARGE, "2025-07"): 90.927,
            (LEEDS, DISCHARGE, "2025-08"): 90.0,
        }
    )
    # Their ICB's July is the ratio of the sums: (500 + 912) / (1000 + 1003) x 100 = 70.494
    assert query(
        "SELECT round(value::numeric, 3)::float8, places_reported FROM area_value "
        "WHERE area_code = 'E54000054' AND period = '2025-07'"
    ) == [(70.494, 2)]
    assert query("SELECT count(*) FROM progress_refresh_queue") == [(0,)]


def test_a_new_metric_version_is_used_once_the_fresh_window_has_passed(start_suite, query):
    suite = start_suite(catalogue_fresh_s=FRESH_S)
    assert suite.submit_json(json_submission(observation())).status_code == 201
    fetched = suite.catalogue_reads("fetched")

    assert (
        suite.version_metric(DISCHARGE, name="Discharged to usual place of residence (revised)")[
            "version"
        ]
        == 2
    )
    # The only catalogue read so far came before the new version: once the window is over,
    # ingest must ask metrics_api again rather than answer from its copy. Its /metrics reads the
    # catalogue too (for the timeliness gauges), so reading it is what makes ingest ask.
    eventually(
        lambda: suite.catalogue_reads("fetched"),
        lambda reads: reads > fetched,
        what="the changed metrics page fetched from metrics_api",
    )
    later = suite.submit_json(
        json_submission(observation(numerator=915, denominator=1003), observation(period="2025-08"))
    )

    assert later.status_code == 201, later.text
    assert (later.json()["accepted"], later.json()["superseded"]) == (2, 1)
    assert query(
        "SELECT period, version, metric_version FROM observation ORDER BY period, version"
    ) == [("2025-07", 1, 1), ("2025-07", 2, 2), ("2025-08", 1, 2)]
