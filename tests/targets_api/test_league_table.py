"""GET /v1/metrics/{code}/league-table: the area values a full progress refresh materialised,
ranked. Every expected number below is worked by hand in the comments."""

import csv
import io
from datetime import date

import pytest

from services.targets_api.assessments import fingertips
from tests.support.areas import (
    BRADFORD,
    CALDERDALE,
    CORNWALL,
    CORNWALL_ICB,
    LEEDS,
    SCILLY,
    WEST_YORKSHIRE,
)
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import AVOIDABLE, DISCHARGE, REABLEMENT
from tests.targets_api.progress_support import refresh, store_observations

KIRKLEES, WAKEFIELD = "E08000034", "E08000036"  # the other two of its five
LINCOLNSHIRE, LINCOLNSHIRE_ICB = "E10000019", "E54000013"  # an ICB of one place
DELAYS = "delayed-discharges"  # a national count made by the test: the seed has none


async def table(client, headers, code: str, **params) -> dict:
    response = await client.get(f"/v1/metrics/{code}/league-table", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def by_area(rows: list[dict]) -> dict[str, dict]:
    return {row["area_code"]: row for row in rows}


# Discharge to usual residence, 2026-01: a proportion x 100, higher is better.
#   Leeds      90 / 100 = 90.0 %
#   Bradford  160 / 200 = 80.0 %
#   Cornwall   35 /  50 = 70.0 %
PROPORTIONS = [
    (LEEDS, DISCHARGE, "2026-01", 90.0, 90, 100),
    (BRADFORD, DISCHARGE, "2026-01", 80.0, 160, 200),
    (CORNWALL, DISCHARGE, "2026-01", 70.0, 35, 50),
]


async def test_places_are_ranked_best_first_with_wilson_intervals(client, admin, viewer, query):
    store_observations(query, PROPORTIONS)
    await refresh(client, admin)

    body = await table(client, viewer, DISCHARGE, level="place", period="2026-01")

    # England is the ratio of sums: (90 + 160 + 35) / (100 + 200 + 50) = 285 / 350 = 81.42857 %.
    assert body["national_value"] == pytest.approx(285 / 350 * 100)
    assert [r["area_code"] for r in body["data"]] == [LEEDS, BRADFORD, CORNWALL]
    rows = by_area(body["data"])
    assert [rows[c]["rank"] for c in (LEEDS, BRADFORD, CORNWALL)] == [1, 2, 3]
    assert {r["rank_of"] for r in body["data"]} == {3}
    # quintile = 5 (rank - 1) // rank_of + 1: 0 // 3 + 1 = 1, 5 // 3 + 1 = 2, 10 // 3 + 1 = 4.
    assert [rows[c]["quintile"] for c in (LEEDS, BRADFORD, CORNWALL)] == [1, 2, 4]
    # Wilson for Leeds, p = 0.9, n = 100, z = 1.959964, z^2 = 3.841459:
    #   centre = p + z^2 / 2n = 0.9 + 0.019207 = 0.919207
    #   spread = z sqrt(p (1 - p) / n + z^2 / 4n^2) = 1.959964 sqrt(0.0009 + 0.0000960) = 0.061857
    #   scale = 1 + z^2 / n = 1.038415
    #   lower = (0.919207 - 0.061857) / 1.038415 = 0.825634, upper = 0.981064 / 1.038415 = 0.944771
    assert rows[LEEDS]["ci_lower"] == pytest.approx(82.5634, abs=1e-3)
    assert rows[LEEDS]["ci_upper"] == pytest.approx(94.4771, abs=1e-3)
    # Leeds's interval lies above 81.43: better. Bradford's (73.91, 84.95) holds it: similar.
    # Cornwall, p = 0.7, n = 50: (0.738415 +- 0.132702) / 1.076829 = (0.5625, 0.8090), wholly
    # below 81.43 %: worse.
    assert rows[CORNWALL]["ci_upper"] == pytest.approx(80.8964, abs=1e-3)
    assert [rows[c]["comparison"] for c in (LEEDS, BRADFORD, CORNWALL)] == [
        "better",
        "similar",
        "worse",
    ]
    assert rows[LEEDS]["area_name"] == "Leeds"
    assert rows[LEEDS]["value"] == 90.0 and rows[LEEDS]["places_reported"] == 1


async def test_an_icb_proportion_is_the_ratio_of_its_sums(client, admin, viewer, query):
    store_observations(query, PROPORTIONS)
    await refresh(client, admin)

    body = await table(client, viewer, DISCHARGE, level="icb")

    # West Yorkshire: (90 + 160) / (100 + 200) = 250 / 300 = 83.33 %, not the mean of the two
    # percentages, (90 + 80) / 2 = 85 %: Bradford's larger denominator weighs more.
    rows = by_area(body["data"])
    assert rows[WEST_YORKSHIRE]["value"] == pytest.approx(250 / 300 * 100)
    assert rows[WEST_YORKSHIRE]["value"] != pytest.approx(85.0)
    assert rows[CORNWALL_ICB]["value"] == pytest.approx(70.0)
    # Two of West Yorkshire's five places and one of Cornwall's ICB's two reported: both
    # roll-ups are shown, and neither is ranked against the other.
    assert [
        (
            r["area_code"],
            r["places_reported"],
            r["places_expected"],
            r["coverage"],
            r["complete"],
            r["rank"],
            r["rank_of"],
            r["quintile"],
        )
        for r in body["data"]
    ] == [
        (CORNWALL_ICB, 1, 2, 0.5, False, None, None, None),
        (WEST_YORKSHIRE, 2, 5, 0.4, False, None, None, None),
    ]
    assert (body["period"], body["level"], body["count"]) == ("2026-01", "icb", 2)
    # England: 3 of the 153 places.
    assert body["national_coverage"] == pytest.approx(3 / 153)


async def test_only_complete_icb_roll_ups_are_ranked_and_counted(client, admin, viewer, query):
    west_yorkshire = [
        (code, DISCHARGE, "2026-01", 80.0, 80, 100)
        for code in (LEEDS, BRADFORD, CALDERDALE, KIRKLEES, WAKEFIELD)
    ]
    store_observations(
        query,
        [
            *west_yorkshire,
            (LINCOLNSHIRE, DISCHARGE, "2026-01", 90.0, 90, 100),
            (CORNWALL, DISCHARGE, "2026-01", 99.0, 99, 100),
        ],
    )
    await refresh(client, admin)

    body = await table(client, viewer, DISCHARGE, level="icb", period="2026-01")

    # Lincolnshire (1 of 1) 90 % and West Yorkshire (5 of 5) 80 % are complete: ranked 1 and
    # 2 of 2 (quintile 5 x 1 // 2 + 1 = 3). Cornwall's ICB, 1 of 2, has the best value, 99 %,
    # but is shown unranked and does not count in the others' rank_of.
    assert [
        (r["area_code"], r["complete"], r["rank"], r["rank_of"], r["quintile"])
        for r in body["data"]
    ] == [
        (LINCOLNSHIRE_ICB, True, 1, 2, 1),
        (WEST_YORKSHIRE, True, 2, 2, 3),
        (CORNWALL_ICB, False, None, None, None),
    ]


# Avoidable admissions, 2026-Q2: a rate per 100,000, lower is better.
#   Leeds       40 / 10,000 = 400   Bradford   80 / 20,000 = 400 (a tie with Leeds)
#   Calderdale  45 / 10,000 = 450   Cornwall   50 / 10,000 = 500
RATES = [
    (LEEDS, AVOIDABLE, "2026-Q2", 400.0, 40, 10_000),
    (BRADFORD, AVOIDABLE, "2026-Q2", 400.0, 80, 20_000),
    (CALDERDALE, AVOIDABLE, "2026-Q2", 450.0, 45, 10_000),
    (CORNWALL, AVOIDABLE, "2026-Q2", 500.0, 50, 10_000),
]


async def test_derived_figures_carry_no_floating_point_noise(client, admin, viewer, query):
    store_observations(
        query,
        [(LEEDS, DISCHARGE, "2026-01", 3.0, 3, 100), (BRADFORD, DISCHARGE, "2026-01", 4.0, 4, 100)],
    )
    await refresh(client, admin)

    body = await table(client, viewer, DISCHARGE, level="icb")

    # (3 + 4) / (100 + 100) x 100 is 3.5000000000000004 in binary floating point: shown as 3.5,
    # as are England's value and the interval's limits (to 12 significant digits).
    [west_yorkshire] = body["data"]
    assert west_yorkshire["value"] == 3.5 and body["national_value"] == 3.5
    assert all(
        len(repr(west_yorkshire[k]).replace("0.", "").lstrip("0")) <= 13
        for k in ("ci_lower", "ci_upper")
    )


async def test_lower_is_better_ranks_upwards_and_ties_share_rank_and_quintile(
    client, admin, viewer, query
):
    store_observations(query, RATES)
    await refresh(client, admin)

    body = await table(client, viewer, AVOIDABLE)

    # Lowest first; the tie is ordered by area code (Bradford E08000032 before Leeds E08000035)
    # and both are rank 1, so the next is rank 3.
    # Quintiles of 4: rank 1: 0 // 4 + 1 = 1; rank 3: 10 // 4 + 1 = 3; rank 4: 15 // 4 + 1 = 4.
    assert [(r["area_code"], r["rank"], r["quintile"]) for r in body["data"]] == [
        (BRADFORD, 1, 1),
        (LEEDS, 1, 1),
        (CALDERDALE, 3, 3),
        (CORNWALL, 4, 4),
    ]
    # England: (40 + 80 + 45 + 50) / 50,000 x 100,000 = 215 / 50,000 x 100,000 = 430.
    assert body["national_value"] == pytest.approx(430.0)
    # Byar's method for Leeds's 40 events: 40 (1 - 1/(9 x 40) - 1.959964 / (3 sqrt 40))^3
    # = 40 (1 - 0.002778 - 0.103295)^3 = 40 x 0.893927^3 = 28.5733 events, per 10,000 people
    # x 100,000 = 285.733. Every interval holds 430: similar.
    leeds = by_area(body["data"])[LEEDS]
    assert leeds["ci_lower"] == pytest.approx(285.733, abs=1e-2)
    assert {r["comparison"] for r in body["data"]} == {"similar"}


async def test_an_icb_rate_is_the_ratio_of_sums_times_the_multiplier(client, admin, viewer, query):
    store_observations(query, RATES)
    await refresh(client, admin)

    body = await table(client, viewer, AVOIDABLE, level="icb")

    # West Yorkshire: (40 + 80 + 45) / (10,000 + 20,000 + 10,000) x 100,000 = 165 / 40,000 x
    # 100,000 = 412.5; Cornwall's ICB 500. Neither is complete, so neither is ranked.
    assert [(r["area_code"], r["value"], r["rank"]) for r in body["data"]] == [
        (CORNWALL_ICB, pytest.approx(500.0), None),
        (WEST_YORKSHIRE, pytest.approx(412.5), None),
    ]


async def test_a_count_rolls_up_by_sum_and_is_not_compared(
    fresh_catalogue, client, metrics_api, admin, viewer, query
):
    created = await metrics_api.post(
        "/v1/metrics",
        headers=admin,
        json={
            "code": DELAYS,
            "scope": "national",
            "name": "Delayed discharges",
            "domain": "Flow",
            "kind": "count",
            "direction": "lower_is_better",
            "periodicity": "monthly",
        },
    )
    assert created.status_code == 201, created.text
    store_observations(
        query,
        [
            (LEEDS, DELAYS, "2026-01", 12.0, None, None),
            (BRADFORD, DELAYS, "2026-01", 30.0, None, None),
            *[
                (code, DELAYS, "2026-01", 0.0, None, None)
                for code in (CALDERDALE, KIRKLEES, WAKEFIELD)
            ],
            (CORNWALL, DELAYS, "2026-01", 7.0, None, None),
            (SCILLY, DELAYS, "2026-01", 0.0, None, None),
        ],
    )
    await refresh(client, admin)

    body = await table(client, viewer, DELAYS, level="icb")

    # West Yorkshire 12 + 30 + 0 + 0 + 0 = 42; Cornwall's ICB 7 + 0, the fewer, so first;
    # England 42 + 7 = 49. Both ICBs complete, so both ranked.
    assert [(r["area_code"], r["value"], r["rank"]) for r in body["data"]] == [
        (CORNWALL_ICB, 7.0, 1),
        (WEST_YORKSHIRE, 42.0, 2),
    ]
    assert body["national_value"] == 49.0
    # A count has no numerator and denominator here, so no interval and no comparison.
    assert {(r["ci_lower"], r["ci_upper"], r["comparison"]) for r in body["data"]} == {
        (None, None, "not_compared")
    }


async def test_a_population_weighted_proportion_has_no_interval_above_place_level(
    fresh_catalogue, client, metrics_api, admin, query
):
    created = await metrics_api.post(
        "/v1/metrics",
        headers=admin,
        json={
            "code": "weighted-share",
            "scope": "national",
            "name": "A weighted share",
            "domain": "Flow",
            "kind": "proportion",
            "multiplier": 100,
            "unit": "%",
            "direction": "higher_is_better",
            "periodicity": "monthly",
            "aggregation": "population_weighted_mean",
        },
    )
    assert created.status_code == 201, created.text
    store_observations(
        query,
        [
            (LEEDS, "weighted-share", "2026-01", 90.0, 90, 100),
            (BRADFORD, "weighted-share", "2026-01", 50.0, 100, 200),
        ],
    )
    await refresh(client, admin)

    rows = query(
        "SELECT level, ci_lower IS NULL, comparison FROM area_value "
        "WHERE metric_code = 'weighted-share' ORDER BY level, area_code"
    )
    # Places keep their own Wilson interval (Bradford first by code: 50 % against England's
    # weighted mean of about 74 %, worse; Leeds 90 %, better); the ICB, region and England (a
    # weighted mean of ratios, not a count) have none and are not compared (API.md
    # amendments). The summed counts' interval, 190 / 300 = 63.3 % (57.7, 68.6), would exclude
    # the weighted mean itself.
    assert rows == [
        ("icb", True, "not_compared"),
        ("nation", True, "not_compared"),
        ("place", False, "worse"),
        ("place", False, "better"),
        ("region", True, "not_compared"),
    ]


async def test_the_default_period_is_the_latest_in_the_metric_s_form(client, admin, viewer, query):
    store_observations(
        query,
        [
            *PROPORTIONS,
            (CORNWALL, DISCHARGE, "2026-02", 72.0, 36, 50),
            # A quarter, left from an earlier quarterly version of the monthly
            # metric: "2026-Q4" sorts after "2026-02" as text, but is not on
            # the monthly timeline.
            (LEEDS, DISCHARGE, "2026-Q4", 95.0, 95, 100),
        ],
    )
    await refresh(client, admin)

    latest = await table(client, viewer, DISCHARGE)
    earlier = await table(client, viewer, DISCHARGE, period="2026-01")

    assert (latest["period"], latest["level"]) == ("2026-02", "place")
    # Only Cornwall reported 2026-02, so England is Cornwall, 72 %, and it ranks 1 of 1.
    assert [(r["area_code"], r["rank"], r["rank_of"]) for r in latest["data"]] == [(CORNWALL, 1, 1)]
    assert latest["national_value"] == pytest.approx(72.0)
    assert [r["area_code"] for r in earlier["data"]] == [LEEDS, BRADFORD, CORNWALL]


async def test_the_default_period_is_never_one_still_open(client, admin, viewer, query, clock):
    # Leeds alone sends 2026-02 early; everyone has sent 2026-01.
    store_observations(query, [*PROPORTIONS, (LEEDS, DISCHARGE, "2026-02", 99.0, 99, 100)])
    await refresh(client, admin)

    # On 2026-03-20, 2026-01 has closed (31 January + 45 days = 17 March) but 2026-02 is open
    # until 14 April: the table defaults to 2026-01, not to Leeds's lone month.
    clock.today = date(2026, 3, 20)
    body = await table(client, viewer, DISCHARGE, level="icb")
    assert (body["period"], body["provisional"]) == ("2026-01", False)
    assert body["national_value"] == pytest.approx(285 / 350 * 100)
    # Asked for, the open month is answered and says it is provisional.
    asked = await table(client, viewer, DISCHARGE, level="icb", period="2026-02")
    assert (asked["provisional"], asked["national_coverage"]) == (True, pytest.approx(1 / 153))

    # Once 2026-02 closes too, it is the default.
    clock.today = date(2026, 4, 15)
    assert (await table(client, viewer, DISCHARGE, level="icb"))["period"] == "2026-02"


async def test_no_data_is_an_empty_table(client, admin, viewer, query):
    store_observations(query, PROPORTIONS)
    await refresh(client, admin)

    assert await table(client, viewer, REABLEMENT) == {
        "metric_code": REABLEMENT,
        "level": "place",
        "period": None,
        "provisional": None,
        "national_value": None,
        "national_coverage": None,
        "data": [],
        "count": 0,
    }
    assert (await table(client, viewer, DISCHARGE, period="2020-01"))["data"] == []


async def test_the_table_answers_csv(client, admin, viewer, query):
    store_observations(query, PROPORTIONS)
    await refresh(client, admin)

    response = await client.get(
        f"/v1/metrics/{DISCHARGE}/league-table",
        params={"level": "icb"},
        headers=viewer | {"Accept": "text/csv"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == (
        "metric_code,level,period,provisional,area_code,area_name,value,"
        "ci_lower,ci_upper,comparison,rank,rank_of,quintile,places_reported,"
        "places_expected,coverage,complete,trend"
    )
    assert len(lines) == 3
    # Cornwall's ICB first: neither roll-up is complete, so neither is ranked (by code).
    assert lines[1].startswith(f"{DISCHARGE},icb,2026-01,false,{CORNWALL_ICB},")
    assert lines[2].startswith(f"{DISCHARGE},icb,2026-01,false,{WEST_YORKSHIRE},NHS West")
    # Unranked, 2 of 5 places reported, coverage 0.4, incomplete, too short for a trend.
    assert lines[2].endswith(",,,,2,5,0.4,false,cannot_be_calculated")


async def test_an_unknown_metric_is_404(client, viewer):
    response = await client.get("/v1/metrics/no-such-metric/league-table", headers=viewer)
    assert "no-such-metric" in assert_problem(response, 404)["detail"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"level": "region"}, ("query", "level")),
        ({"period": "2026-Q1"}, ("query", "period")),  # a quarter for a monthly metric
        ({"period": "2026-13"}, ("query", "period")),
    ],
)
async def test_a_bad_level_or_period_is_422_naming_the_field(client, viewer, params, loc):
    response = await client.get(
        f"/v1/metrics/{DISCHARGE}/league-table", params=params, headers=viewer
    )
    assert_problem(response, 422, loc)


async def test_a_key_is_needed(client):
    response = await client.get(f"/v1/metrics/{DISCHARGE}/league-table")
    assert_problem(response, 401)


async def test_format_fingertips_is_csv_with_fingertips_columns_and_words(
    client, admin, viewer, query
):
    """The columns of an OHID Fingertips indicator download, in its order, and its words for
    the comparison with England, filled from the same table as the JSON."""
    store_observations(query, PROPORTIONS)
    await refresh(client, admin)

    response = await client.get(
        f"/v1/metrics/{DISCHARGE}/league-table",
        params={"level": "place", "period": "2026-01", "format": "fingertips"},
        headers=viewer,
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert list(records[0]) == [
        "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code",
        "Area Name", "Area Type", "Sex", "Age", "Category Type", "Category", "Time period",
        "Value", "Lower CI 95.0 limit", "Upper CI 95.0 limit", "Lower CI 99.8 limit",
        "Upper CI 99.8 limit", "Count", "Denominator", "Value note", "Recent Trend",
        "Compared to England value or percentiles", "Compared to percentiles",
        "Time period Sortable", "New data", "Compared to goal", "Time period range",
    ]  # fmt: skip
    england, *places = records
    assert (england["Area Code"], england["Area Type"]) == ("E92000001", "England")
    assert float(england["Value"]) == pytest.approx(285 / 350 * 100)
    assert [p["Area Code"] for p in places] == [LEEDS, BRADFORD, CORNWALL]
    leeds = places[0]
    assert leeds["Indicator ID"] == DISCHARGE
    assert leeds["Parent Code"] == WEST_YORKSHIRE
    assert (leeds["Time period"], leeds["Time period Sortable"]) == ("Jan 2026", "20260100")
    assert (leeds["Count"], leeds["Denominator"]) == ("90.0", "100.0")
    assert float(leeds["Lower CI 95.0 limit"]) == pytest.approx(82.5634, abs=1e-3)
    assert [p["Compared to England value or percentiles"] for p in places] == [
        "Better 95%",
        "Similar",
        "Worse 95%",
    ]
    assert leeds["Recent Trend"] == "Cannot be calculated"
    json_rows = by_area((await table(client, viewer, DISCHARGE, period="2026-01"))["data"])
    assert float(leeds["Value"]) == json_rows[LEEDS]["value"]
    assert "numerator" not in json_rows[LEEDS]


@pytest.mark.parametrize(
    ("code", "text"),
    [("2025-07", "Jul 2025"), ("2025-Q2", "2025 Q2"), ("2025", "2025"), ("FY2025-26", "2025/26")],
)
def test_fingertips_time_periods(code, text):
    assert fingertips.time_period(code)[0] == text
