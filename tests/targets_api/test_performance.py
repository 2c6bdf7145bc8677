"""GET /v1/areas/{code}/performance: a system's roll-ups, its member places' values and the
statuses of their agreed targets, after a full progress refresh. Member places come from the
seeded areas; every expected number is worked by hand in the comments."""

import csv
import io
from datetime import date

import pytest

from services.common.vocabulary import SPEND_METRICS
from tests.support.areas import (
    CORNWALL,
    CORNWALL_ICB,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
)
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import (
    AVOIDABLE,
    DISCHARGE,
    FALLS,
    REABLEMENT,
    RESIDENTIAL,
    TARGETS,
    target,
)
from tests.targets_api.progress_support import refresh, store_observations

TARGETED = "wy-social-prescribing"  # a local, neutral count with a target in Leeds's plan
UNTARGETED = "wy-untargeted"  # a local metric no plan has a target for
NATIONAL = sorted(TARGETS)  # the five seeded national outcome metrics, all active
# The seeded national spend metrics (no target: a plan's planned spend is set against them).
SPEND = sorted(SPEND_METRICS.values())


def places_under(query, code: str) -> list[tuple[str, str]]:
    """(code, name) of the seeded places below an area, by code."""
    return query(
        """
        WITH RECURSIVE below AS (
            SELECT code, name, level FROM area WHERE code = %s
            UNION ALL SELECT a.code, a.name, a.level FROM area a JOIN below b
                ON a.parent_code = b.code)
        SELECT code, name FROM below WHERE level = 'place' ORDER BY code""",
        code,
    )


def local_metric(code: str) -> dict:
    return {
        "code": code,
        "scope": "local",
        "owner_area_code": WEST_YORKSHIRE,
        "name": code,
        "domain": "Local",
        "kind": "count",
        "direction": "neutral",
        "periodicity": "quarterly",
    }


async def leeds_plan_with_a_local_target(plans, metrics_api, admin) -> None:
    """Leeds's agreed plan: the five national targets of plan_support.TARGETS and one on a
    local metric; a second local metric gets no target."""
    for code in (TARGETED, UNTARGETED):
        created = await metrics_api.post("/v1/metrics", json=local_metric(code), headers=admin)
        assert created.status_code == 201, created.text
    plan = await plans.create()
    await plans.fill(plan["id"])
    response = await plans.put_target(
        plan["id"], TARGETED, target(baseline_value=100.0, target_value=150.0, trajectory=[])
    )
    assert response.status_code == 200, response.text
    await plans.propose(plan["id"])
    await plans.agree(plan["id"])


def west_yorkshire_observations(members: list[str]) -> list[tuple]:
    """Leeds's series give each of its targets a different status (worked below); the other
    members report what makes the roll-ups."""
    others = [code for code in members if code != LEEDS]
    bradford, last = others[0], members[-1]
    rows = [
        # Discharge (monthly %, higher better), 2026-03, every member: Leeds 90 / 100,
        # Bradford 160 / 200, each other member 85 / 100.
        (LEEDS, DISCHARGE, "2026-03", 90.0, 90, 100),
        (bradford, DISCHARGE, "2026-03", 80.0, 160, 200),
        *[(code, DISCHARGE, "2026-03", 85.0, 85, 100) for code in others[1:]],
        # 2026-04: every member but the last, and Cornwall, outside West Yorkshire.
        (LEEDS, DISCHARGE, "2026-04", 89.5, 179, 200),
        *[(code, DISCHARGE, "2026-04", 85.0, 85, 100) for code in others if code != last],
        (CORNWALL, DISCHARGE, "2026-04", 70.0, 35, 50),
        # Avoidable admissions (quarterly rate per 100,000, lower better), 2026-Q2, every
        # member: Leeds 47 / 10,000 = 470, each other 50 / 10,000 = 500.
        (LEEDS, AVOIDABLE, "2026-Q2", 470.0, 47, 10_000),
        *[(code, AVOIDABLE, "2026-Q2", 500.0, 50, 10_000) for code in others],
        # Leeds alone for the rest; nothing at all for reablement.
        (LEEDS, FALLS, "2026-Q4", 550.0, 55, 10_000),
        (LEEDS, RESIDENTIAL, "2025", 545.0, 109, 20_000),
        (LEEDS, TARGETED, "2026-Q2", 120.0, None, None),
    ]
    assert last not in (LEEDS, bradford)  # the member missing from 2026-04 is neither
    return rows


@pytest.fixture
async def west_yorkshire(
    fresh_catalogue, client, plans, metrics_api, admin, query, clock
) -> list[tuple[str, str]]:
    """The ICB's member places after Leeds's plan is agreed, the data stored and refreshed;
    today is 2026-12-01, which the comments below work from."""
    clock.today = date(2026, 12, 1)
    members = places_under(query, WEST_YORKSHIRE)
    assert len(members) >= 3 and LEEDS in dict(members)
    await leeds_plan_with_a_local_target(plans, metrics_api, admin)
    store_observations(query, west_yorkshire_observations([code for code, _ in members]))
    await refresh(client, admin)
    return members


async def performance(client, headers, code: str, **params) -> dict:
    response = await client.get(f"/v1/areas/{code}/performance", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(**counts: int) -> dict[str, int]:
    return {
        status: counts.get(status, 0)
        for status in ("on_track", "at_risk", "off_track", "achieved", "no_data", "not_assessed")
    }


# Leeds's targets (plan_support.TARGETS) and where its data leaves them:
# - discharge: latest 2026-04 = 89.5. No trajectory point there, so the straight line from
#   (2025-03, 88.5) to (2027-03, 92.0): 88.5 + 3.5 x 13 / 24 = 90.396. Short by 0.896, within
#   the tolerance of 1.0: at_risk.
# - avoidable admissions: latest 2026-Q2 = 470; the trajectory says 480 then; lower is better,
#   so on_track.
# - falls: 2026-Q4 = 550, at the target period and below the target of 560: achieved.
# - residential: 2025 = 545; the trajectory says 530; 15 worse, beyond the tolerance of 10:
#   off_track.
# - reablement: nothing after the 2024 baseline: no_data.
# - the local metric is neutral: not_assessed.
LEEDS_STATUS = {
    DISCHARGE: "at_risk",
    AVOIDABLE: "on_track",
    FALLS: "achieved",
    RESIDENTIAL: "off_track",
    REABLEMENT: "no_data",
    TARGETED: "not_assessed",
}


async def test_an_icb_s_performance(west_yorkshire, client, viewer):
    members = west_yorkshire
    n = len(members)  # five in the seed: Bradford, Calderdale, Kirklees, Leeds, Wakefield
    codes = [code for code, _ in members]

    body = await performance(client, viewer, WEST_YORKSHIRE)

    assert (body["area_code"], body["level"], body["member_places"]) == (WEST_YORKSHIRE, "icb", n)
    assert body["area_name"] == "NHS West Yorkshire Integrated Care Board"
    assert (body["refresh_pending"], body["min_coverage"]) == (False, 0.9)
    # Every metric that applies to a member place: the national ones and both of West
    # Yorkshire's local metrics, targeted or not.
    metrics = {m["metric_code"]: m for m in body["metrics"]}
    assert list(metrics) == sorted([*NATIONAL, *SPEND, TARGETED, UNTARGETED])
    for code, status in LEEDS_STATUS.items():
        assert metrics[code]["status_counts"] == statuses(**{status: 1}), code
    # Assessed: on_track, at_risk, off_track and achieved, one each; no_data and not_assessed
    # are left out. (1 on track + 1 achieved) / 4 = 0.5.
    assert body["on_track_share"] == 0.5

    # Today is 2026-12-01 (set by the west_yorkshire fixture): every month to 2026-10 is
    # closed (its end + 45 days has passed).
    discharge = metrics[DISCHARGE]
    # 2026-04 is the latest with any data, but the last member did not report it: coverage
    # 4 / 5 = 0.8, below 0.9. 2026-03 has every member: the ratio of sums
    # (90 + 160 + 85 (n - 2)) / (100 + 200 + 100 (n - 2)) = 505 / 600 = 84.17 % with five,
    # not the mean of the ratios, (90 + 80 + 3 x 85) / 5 = 85 %.
    assert (discharge["period"], discharge["latest_period"], discharge["provisional"]) == (
        "2026-03",
        "2026-04",
        False,
    )
    assert (
        discharge["places_expected"],
        discharge["places_reported"],
        discharge["coverage"],
        discharge["missing_places"],
        discharge["below_min_coverage"],
    ) == (n, n, 1.0, [], False)
    assert discharge["value"] == pytest.approx((250 + 85 * (n - 2)) / (300 + 100 * (n - 2)) * 100)
    assert discharge["value"] != pytest.approx((90 + 80 + 85 * (n - 2)) / n)
    places = {p["place_code"]: p for p in discharge["places"]}
    assert [p["place_code"] for p in discharge["places"]] == codes
    # Leeds's row is its 2026-03 value (not its latest, 89.5) with its target's current status;
    # at 2026-03 only members reported, higher is better: Leeds 90 first of n.
    assert {k: places[LEEDS][k] for k in ("place_name", "value", "status", "rank", "rank_of")} == {
        "place_name": "Leeds",
        "value": 90.0,
        "status": "at_risk",
        "rank": 1,
        "rank_of": n,
    }
    # Places without a plan have values but no status.
    assert {p["status"] for code, p in places.items() if code != LEEDS} == {None}
    assert all(p["value"] is not None for p in places.values())

    # Avoidable admissions: every member at 2026-Q2, the ratio of sums x 100,000:
    # (47 + 50 (n - 1)) / (10,000 n) x 100,000 = 247 / 50,000 x 100,000 = 494 with five.
    avoidable = metrics[AVOIDABLE]
    assert avoidable["period"] == avoidable["latest_period"] == "2026-Q2"
    assert avoidable["value"] == pytest.approx((47 + 50 * (n - 1)) / (10_000 * n) * 100_000)
    # Lower is better: Leeds's 470 first; the others tie at 500 and share rank 2.
    ranks = {p["place_code"]: p["rank"] for p in avoidable["places"]}
    assert ranks.pop(LEEDS) == 1 and set(ranks.values()) == {2}

    # Residential (annual): only Leeds, at 2025 (closed): the latest closed period with any
    # data, flagged as below the minimum; the value is Leeds's own, 109 / 20,000 x 100,000.
    residential = metrics[RESIDENTIAL]
    assert (
        residential["period"],
        residential["value"],
        residential["coverage"],
        residential["below_min_coverage"],
        residential["provisional"],
    ) == ("2025", pytest.approx(545.0), 1 / n, True, False)
    assert residential["missing_places"] == [c for c in codes if c != LEEDS]
    # Falls: only Leeds, at 2026-Q4, which is still open (it ends 2026-12-31): no closed
    # period at all, so the open one, provisional.
    falls = metrics[FALLS]
    assert (falls["period"], falls["value"], falls["provisional"], falls["below_min_coverage"]) == (
        "2026-Q4",
        pytest.approx(550.0),
        True,
        True,
    )
    # Reablement: nothing ever.
    reablement = metrics[REABLEMENT]
    assert (
        reablement["period"],
        reablement["latest_period"],
        reablement["coverage"],
        reablement["provisional"],
    ) == (None, None, None, None)
    # The local metric without a target: shown, with a row per member it applies to.
    assert [p["place_code"] for p in metrics[UNTARGETED]["places"]] == codes


async def test_a_closed_period_is_chosen_once_its_deadline_passes(
    west_yorkshire, client, viewer, clock
):
    # Back on 2026-06-14, 2026-04's deadline (2026-04-30 + 45 days) had not passed: 2026-04
    # was open and 2026-03 the latest closed month.
    clock.today = date(2026, 6, 14)
    early = {
        m["metric_code"]: m
        for m in (await performance(client, viewer, WEST_YORKSHIRE, min_coverage=0.8))["metrics"]
    }
    # With min_coverage 0.8, 2026-04's 4 of 5 would do, but it is still open.
    assert early[DISCHARGE]["period"] == "2026-03"

    # The next day it closes, with no new data.
    clock.today = date(2026, 6, 15)
    late = {
        m["metric_code"]: m
        for m in (await performance(client, viewer, WEST_YORKSHIRE, min_coverage=0.8))["metrics"]
    }
    discharge = late[DISCHARGE]
    assert (
        discharge["period"],
        discharge["coverage"],
        discharge["below_min_coverage"],
        discharge["provisional"],
    ) == ("2026-04", 0.8, False, False)
    assert len(discharge["missing_places"]) == 1
    assert LEEDS not in discharge["missing_places"]


async def test_a_region_and_england_count_their_own_members(west_yorkshire, client, viewer, query):
    for code, level in ((NORTH_EAST_AND_YORKSHIRE, "region"), (ENGLAND, "nation")):
        body = await performance(client, viewer, code)

        members = places_under(query, code)
        assert (body["level"], body["member_places"]) == (level, len(members))
        metrics = {m["metric_code"]: m for m in body["metrics"]}
        discharge = metrics[DISCHARGE]
        assert [p["place_code"] for p in discharge["places"]] == [c for c, _ in members]
        # Places outside West Yorkshire never reported: no closed month reaches 0.9, so the
        # latest closed month with any data, 2026-04, flagged.
        assert (
            discharge["period"],
            discharge["latest_period"],
            discharge["below_min_coverage"],
        ) == ("2026-04", "2026-04", True)
        assert discharge["places_expected"] == len(members)
        # Leeds's targets are the only ones in both: the same counts and share as the ICB.
        assert discharge["status_counts"] == statuses(at_risk=1)
        assert body["on_track_share"] == 0.5
        # A local metric counts only the places it applies to: West Yorkshire's five.
        targeted = metrics[TARGETED]
        assert (targeted["places_expected"], len(targeted["places"])) == (5, 5)


async def test_a_system_without_plans_has_no_share(west_yorkshire, client, viewer):
    body = await performance(client, viewer, CORNWALL_ICB)

    # Only the national metrics: West Yorkshire's local metrics do not apply here.
    assert [m["metric_code"] for m in body["metrics"]] == sorted([*NATIONAL, *SPEND])
    assert body["on_track_share"] is None
    assert all(m["status_counts"] == statuses() for m in body["metrics"])
    discharge = next(m for m in body["metrics"] if m["metric_code"] == DISCHARGE)
    # Cornwall's ICB has two places (Cornwall, Isles of Scilly); only Cornwall reported 2026-04.
    assert (discharge["period"], discharge["coverage"], discharge["missing_places"]) == (
        "2026-04",
        0.5,
        ["E06000053"],
    )


async def test_performance_answers_csv_one_row_per_metric_and_place(west_yorkshire, client, viewer):
    response = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/performance", headers=viewer | {"Accept": "text/csv"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == (
        "area_code,metric_code,period,provisional,area_value,places_expected,"
        "places_reported,coverage,below_min_coverage,place_code,place_name,"
        "value,status,comparison,rank,rank_of,variation,assurance"
    )
    # Fifteen metrics (five national outcomes, eight national spend, two local) x the members,
    # plus the header.
    assert len(lines) == 1 + (5 + len(SPEND) + 2) * len(west_yorkshire)
    leeds_discharge = [
        line
        for line in lines
        if f",{DISCHARGE},2026-03,false," in line and f",{LEEDS},Leeds,90.0,at_risk," in line
    ]
    assert len(leeds_discharge) == 1 and leeds_discharge[0].startswith(WEST_YORKSHIRE)


async def test_format_fingertips_gives_the_system_and_its_places_in_fingertips_columns(
    west_yorkshire, client, viewer
):
    response = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/performance", params={"format": "fingertips"}, headers=viewer
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert list(records[0])[:7] == [
        "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name",
        "Area Type",
    ]  # fmt: skip
    discharge = [r for r in records if r["Indicator ID"] == DISCHARGE]
    system, *places = discharge
    assert (system["Area Code"], system["Area Type"]) == (WEST_YORKSHIRE, "ICB")
    assert system["Time period"] == "Mar 2026"
    assert {p["Area Code"] for p in places} == {place[0] for place in west_yorkshire}
    leeds = next(p for p in places if p["Area Code"] == LEEDS)
    assert (leeds["Area Name"], leeds["Value"], leeds["Parent Code"]) == (
        "Leeds",
        "90.0",
        WEST_YORKSHIRE,
    )
    assert leeds["Compared to England value or percentiles"] in {
        "Better 95%", "Similar", "Worse 95%", "Not compared",
    }  # fmt: skip


@pytest.mark.parametrize("min_coverage", ["-0.1", "1.5", "most"])
async def test_min_coverage_is_a_share_from_0_to_1(client, viewer, min_coverage):
    response = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/performance",
        params={"min_coverage": min_coverage},
        headers=viewer,
    )
    assert_problem(response, 422, ("query", "min_coverage"))


async def test_targets_agreed_since_the_refresh_are_pending(client, plans, viewer):
    await plans.in_state("agreed")

    body = await performance(client, viewer, WEST_YORKSHIRE)

    # No refresh has computed them: no status to count, and the response says so.
    assert body["refresh_pending"] is True
    assert body["on_track_share"] is None
    assert all(m["status_counts"] == statuses() for m in body["metrics"])


async def test_a_place_is_422_pointing_to_its_progress(client, viewer):
    problem = assert_problem(
        await client.get(f"/v1/areas/{LEEDS}/performance", headers=viewer), 422, ("path", "code")
    )
    assert f"/v1/places/{LEEDS}/progress" in problem["detail"]


async def test_an_unknown_area_is_404(client, viewer):
    assert_problem(await client.get("/v1/areas/E99999999/performance", headers=viewer), 404)


async def test_a_key_is_needed(client):
    assert_problem(await client.get(f"/v1/areas/{WEST_YORKSHIRE}/performance"), 401)


async def test_each_place_row_carries_its_target_s_variation_and_assurance(
    west_yorkshire, client, viewer
):
    """The matrix of places x measures needs the SPC icons of every place in one call: each
    row says what the place's own progress says, and None where the place has no target."""
    body = await performance(client, viewer, WEST_YORKSHIRE)
    response = await client.get(f"/v1/places/{LEEDS}/progress", headers=viewer)
    assert response.status_code == 200, response.text
    progress = {i["metric_code"]: i for i in response.json()["items"]}
    assert any(i["variation"] for i in progress.values())  # something to compare
    for metric in body["metrics"]:
        for place in metric["places"]:
            own = progress.get(metric["metric_code"]) if place["place_code"] == LEEDS else None
            expected = (own["variation"], own["assurance"]) if own else (None, None)
            assert (place["variation"], place["assurance"]) == expected, (metric, place)
