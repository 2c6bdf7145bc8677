"""ingest's peers go down while it works: a targets_api outage delays the outbox and loses
nothing; a metrics_api outage is bridged by the cached catalogue for its staleness window, and
beyond it (or with nothing cached) submissions get 503 and store nothing."""

import httpx
import pytest

from tests.support.areas import BRADFORD, LEEDS
from tests.support.problems import assert_problem
from tests.support.submissions import DISCHARGE, csv_body, json_submission, observation
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

FRESH_S = 0.3  # past it ingest asks metrics_api again, so it notices metrics_api is gone
MAX_STALE_S = 1.5
STALE = "x-catalogue-stale"
VALID = json_submission(observation())
# Both rows need the catalogue to be judged: the metric is unknown to it; the metric is monthly.
INVALID = json_submission(observation("no-such-metric"), observation(period="2025-Q3"))


def stored(query) -> list[tuple[int, int]]:
    """(submissions, observations) in the database."""
    return query("SELECT (SELECT count(*) FROM submission), (SELECT count(*) FROM observation)")


def assert_unavailable(response: httpx.Response) -> None:
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


def wait_until_validated_fresh(suite) -> None:
    """metrics_api is back: poll with dry runs (they store nothing) until ingest has its
    catalogue from metrics_api again rather than from its cache."""
    eventually(
        lambda: suite.submit_json(VALID, dry_run="true"),
        lambda r: r.status_code == 201 and STALE not in r.headers,
        what="a submission validated without the stale header",
    )


def test_outbox_waits_for_targets_api_and_catches_up_without_doubling(start_suite):
    suite = start_suite()
    first = suite.submit_json(VALID)
    assert first.status_code == 201, first.text
    suite.wait_until_delivered()
    before = suite.wait_for_place_values({(LEEDS, DISCHARGE, "2025-07"): 90.927})
    suite.targets_api.stop()

    during = [
        suite.submit_csv(
            csv_body(
                f"{LEEDS},{DISCHARGE},2025-08,,450,500,",
                f"{BRADFORD},{DISCHARGE},2025-07,,500,1000,",
            )
        ),
        suite.submit_json(json_submission(observation(period="2025-09"))),
    ]
    assert [r.status_code for r in during] == [201, 201]
    ids = [r.json()["id"] for r in [first, *during]]
    # Each notice is tried, fails, records why, and waits for its next attempt.
    held = eventually(
        suite.outbox,
        lambda notices: all(n[1] > 0 for n in notices[1:]),
        what="every new notice tried while targets_api is down",
    )
    assert [(n[0], n[3]) for n in held] == [(ids[0], True), (ids[1], False), (ids[2], False)]
    assert all(n[2] for n in held[1:]), held
    assert suite.place_values().keys() == before.keys()

    suite.targets_api.start()
    delivered = suite.wait_until_delivered()
    assert [n[0] for n in delivered] == ids
    caught_up = {
        (LEEDS, DISCHARGE, "2025-07"): 90.927,
        (LEEDS, DISCHARGE, "2025-08"): 90.0,
        (LEEDS, DISCHARGE, "2025-09"): 90.927,
        (BRADFORD, DISCHARGE, "2025-07"): 50.0,
    }
    suite.wait_for_place_values(caught_up)

    # At least once means maybe twice: a notice delivered again changes nothing.
    attempts = {n[0]: n[1] for n in delivered}
    suite.query("UPDATE outbox SET delivered_at = NULL, next_attempt_at = now()")
    redelivered = suite.wait_until_delivered()
    assert all(n[1] > attempts[n[0]] for n in redelivered)
    eventually(
        lambda: suite.query("SELECT count(*) FROM progress_refresh_queue"),
        lambda rows: rows == [(0,)],
        what="the redelivered notices refreshed",
    )
    assert suite.wait_for_place_values(caught_up) == caught_up


def test_catalogue_cached_before_metrics_api_stopped_keeps_validating(start_suite, query):
    suite = start_suite(catalogue_fresh_s=FRESH_S)
    assert suite.submit_json(VALID).status_code == 201

    suite.metrics_api.stop()
    # Past the fresh window ingest asks metrics_api again, and finds it gone.
    eventually(
        lambda: suite.submit_json(VALID, dry_run="true"),
        lambda r: "metrics_api unreachable" in r.headers.get(STALE, ""),
        what="a dry run validated from the cached copy",
    )
    valid = suite.submit_json(json_submission(observation(period="2025-08")))
    invalid = suite.submit_json(INVALID)

    assert valid.status_code == 201, valid.text
    assert "metrics_api unreachable" in valid.headers[STALE]
    assert invalid.status_code == 422, invalid.text
    assert "metrics_api unreachable" in invalid.headers[STALE]
    assert [(e["row"], e["field"], e["code"]) for e in invalid.json()["errors"]] == [
        (1, "metric_code", "unknown_metric"),
        (2, "period", "wrong_periodicity"),
    ]
    assert query("SELECT period FROM observation ORDER BY period") == [("2025-07",), ("2025-08",)]

    suite.metrics_api.start()
    wait_until_validated_fresh(suite)
    again = suite.submit_json(json_submission(observation(period="2025-09")))
    assert again.status_code == 201, again.text
    assert STALE not in again.headers


def test_catalogue_older_than_the_staleness_window_is_not_used(start_suite, query):
    suite = start_suite(catalogue_fresh_s=FRESH_S, catalogue_max_stale_s=MAX_STALE_S)
    assert suite.submit_json(VALID).status_code == 201
    before = stored(query)

    suite.metrics_api.stop()
    # metrics_api last confirmed the copy before it stopped: dry runs are answered from it until
    # it is MAX_STALE_S old.
    eventually(
        lambda: suite.submit_json(VALID, dry_run="true"),
        lambda r: r.status_code == 503,
        what="a dry run refused once the copy is too old",
    )

    assert_unavailable(suite.submit_json(json_submission(observation(period="2025-08"))))
    assert_unavailable(suite.submit_csv(csv_body(f"{BRADFORD},{DISCHARGE},2025-07,,500,1000,")))
    assert_unavailable(suite.submit_json(INVALID))
    assert stored(query) == before


def test_ingest_started_while_metrics_api_is_down_answers_503_until_it_is_up(start_suite, query):
    suite = start_suite(catalogue_fresh_s=FRESH_S, down=("metrics_api",))

    assert_unavailable(suite.submit_json(VALID))
    assert_unavailable(suite.submit_json(VALID, dry_run="true"))
    assert stored(query) == [(0, 0)]

    suite.metrics_api.start()
    wait_until_validated_fresh(suite)
    response = suite.submit_json(VALID)
    assert response.status_code == 201, response.text
    assert STALE not in response.headers
    assert stored(query) == [(1, 1)]
