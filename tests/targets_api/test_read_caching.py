"""Reads of the materialised progress carry an ETag named from what the answer depends on (the
refresh generation, the plan, the queue of changes, the catalogue, today, the parameters and the
format): If-None-Match with it is a 304 without a body, and an answer this process built is sent
again from its cache, but never once a refresh (or the plan, or the queue) has moved on."""

from collections.abc import Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import DISCHARGE
from tests.targets_api.progress_support import refresh, store_observations
from tests.targets_api.test_progress import LEEDS_DISCHARGE, OTHERS_DISCHARGE

PROGRESS = f"/v1/places/{LEEDS}/progress"
PROGRESS_ROUTE = "/v1/places/{code}/progress"
SERIES = f"/v1/places/{LEEDS}/progress/{DISCHARGE}"
PERFORMANCE = f"/v1/areas/{WEST_YORKSHIRE}/performance"
LEAGUE = f"/v1/metrics/{DISCHARGE}/league-table"
# Leeds's October: 91 % where September was 90 %.
OCTOBER = [(LEEDS, DISCHARGE, "2025-10", 91.0, 910, 1000)]


def cache_results(route: str) -> dict[str, float]:
    """The response cache's counts for a route template so far in this process."""
    return {
        result: REGISTRY.get_sample_value(
            "joinedup_response_cache_total", {"route": route, "result": result}
        )
        or 0.0
        for result in ("hit", "miss", "bypass")
    }


@pytest.fixture
async def refreshed(client, plans, admin, query) -> None:
    """Leeds's agreed plan and its discharge series up to September, refreshed."""
    await plans.in_state("agreed")
    store_observations(query, LEEDS_DISCHARGE + OTHERS_DISCHARGE)
    await refresh(client, admin)


def leeds_discharge(progress: httpx.Response) -> dict:
    return next(i for i in progress.json()["items"] if i["metric_code"] == DISCHARGE)


@pytest.mark.parametrize(
    "path", [PROGRESS, SERIES, PERFORMANCE, LEAGUE], ids=lambda p: p.rsplit("/", 1)[-1]
)
async def test_an_answer_read_again_has_its_etag_and_if_none_match_is_304(
    client, refreshed, admin, path
):
    first = await client.get(path, headers=admin)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]

    again = await client.get(path, headers=admin)
    assert (again.headers["etag"], again.content) == (etag, first.content)
    # Weak comparison, a list, and "*" (any current representation).
    for wanted in (etag, f"W/{etag}", f'"elsewhere", {etag}', "*"):
        cached = await client.get(path, headers=admin | {"If-None-Match": wanted})
        assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
    other = await client.get(path, headers=admin | {"If-None-Match": '"elsewhere"'})
    assert (other.status_code, other.content) == (200, first.content)
    # CSV is another representation: its own ETag, and the JSON one does not stand for it.
    as_csv = admin | {"Accept": "text/csv"}
    table = await client.get(path, headers=as_csv | {"If-None-Match": etag})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert table.headers["etag"] != etag
    assert "attachment" in table.headers["content-disposition"]
    again_csv = await client.get(path, headers=as_csv)
    assert (again_csv.headers["etag"], again_csv.content) == (table.headers["etag"], table.content)


async def test_a_cached_answer_is_never_served_after_a_refresh(client, refreshed, admin, query):
    first = await client.get(PROGRESS, headers=admin)
    hits = cache_results(PROGRESS_ROUTE)["hit"]
    assert (await client.get(PROGRESS, headers=admin)).content == first.content
    assert cache_results(PROGRESS_ROUTE)["hit"] == hits + 1, "the second read came from the cache"
    assert leeds_discharge(first)["latest_value"] == 90.0

    # October is stored. Until a refresh the figures, so the answer, stay those of September.
    store_observations(query, OCTOBER)
    assert (await client.get(PROGRESS, headers=admin)).content == first.content
    await refresh(client, admin)

    after = await client.get(PROGRESS, headers=admin | {"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != first.headers["etag"]
    assert (leeds_discharge(after)["latest_period"], leeds_discharge(after)["latest_value"]) == (
        "2025-10",
        91.0,
    )


@pytest.mark.parametrize("path", [PERFORMANCE, LEAGUE], ids=["performance", "league-table"])
async def test_a_refresh_changes_a_system_s_answer(client, refreshed, admin, viewer, query, path):
    first = await client.get(path, headers=viewer)
    store_observations(query, [(LEEDS, DISCHARGE, "2025-09", 50.0, 500, 1000)])
    assert (await client.get(path, headers=viewer)).content == first.content

    await refresh(client, admin)

    after = await client.get(path, headers=viewer | {"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != first.headers["etag"]
    assert after.content != first.content


async def test_agreeing_a_plan_changes_the_progress_at_once(client, plans, admin):
    plan = await plans.draft()
    await plans.propose(plan["id"])
    before = await client.get(PROGRESS, headers=admin)
    assert before.json()["plan_id"] is None

    await plans.agree(plan["id"])

    after = await client.get(PROGRESS, headers=admin | {"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert (after.json()["plan_id"], after.json()["refresh_pending"]) == (plan["id"], True)
    performance = await client.get(PERFORMANCE, headers=admin)
    assert performance.json()["refresh_pending"] is True


async def test_a_queued_change_makes_the_figures_pending_at_once(
    client, refreshed, admin, service_key
):
    first = await client.get(PROGRESS, headers=admin)
    system = await client.get(PERFORMANCE, headers=admin)
    assert (first.json()["refresh_pending"], system.json()["refresh_pending"]) == (False, False)

    notice = {
        "submission_id": "00000000-0000-0000-0000-000000000001",
        "changes": [{"place_code": LEEDS, "metric_code": DISCHARGE, "periods": ["2025-10"]}],
    }
    queued = await client.post(
        "/internal/v1/observation-changes", json=notice, headers=bearer(service_key)
    )
    assert queued.status_code == 202, queued.text

    for path, before in ((PROGRESS, first), (PERFORMANCE, system)):
        after = await client.get(path, headers=admin | {"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200
        assert after.json()["refresh_pending"] is True


async def test_a_correction_changes_the_series_without_a_refresh(client, refreshed, admin, query):
    first = await client.get(SERIES, headers=admin)
    assert first.json()["points"][-1]["value"] == 90.0

    store_observations(query, [(LEEDS, DISCHARGE, "2025-09", 89.0, 890, 1000)])

    after = await client.get(SERIES, headers=admin | {"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["points"][-1]["value"] == 89.0
    cached = await client.get(SERIES, headers=admin | {"If-None-Match": after.headers["etag"]})
    assert cached.status_code == 304


Check = Callable[[httpx.Response], None]


def _not_found(response: httpx.Response) -> None:
    assert_problem(response, 404)


def _bad_period(response: httpx.Response) -> None:
    assert_problem(response, 422)
    assert response.json()["errors"][0]["loc"] == ["query", "period"]


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("/v1/places/E99999999/progress", _not_found),
        (f"/v1/places/{LEEDS}/progress/no-such-metric", _not_found),
        ("/v1/areas/E99999999/performance", _not_found),
        ("/v1/metrics/no-such-metric/league-table", _not_found),
        (f"{LEAGUE}?period=2025-Q1", _bad_period),
    ],
)
async def test_if_none_match_any_is_no_answer_for_what_does_not_exist(
    client, admin, path: str, check: Check
):
    check(await client.get(path, headers=admin | {"If-None-Match": "*"}))
