"""Completeness and timeliness, worked by hand: which (place, metric) pairs a period expects in
an area, which came, and whether the FIRST version came by the metric's deadline."""

import csv
import io
from datetime import date, timedelta

import pytest

from services.common.vocabulary import SPEND_METRICS
from services.ingest.completeness.schemas import CSV_FIELDS
from tests.ingest.support import MetricsAdmin, local_metric
from tests.support.areas import (
    BRADFORD,
    CORNWALL,
    CORNWALL_ICB,
    ENGLAND,
    KIRKLEES,
    LEEDS,
    SCILLY,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.submissions import DISCHARGE, FALLS, observation

AVOIDABLE = "bcf-avoidable-admissions"  # the other quarterly national outcome metric
# The eight quarterly national spend metrics, one per scheme, reporting from 2023-Q2; in code
# order they come after falls.
SPEND = sorted(SPEND_METRICS.values())
PLACES_IN_ENGLAND = 153  # services/data/NOTES.md
PLACES_IN_WEST_YORKSHIRE = 5  # Bradford, Calderdale, Kirklees, Leeds, Wakefield

LEEDS_ONLY = "leeds-only-measure"  # monthly, owned by Leeds, due 10 days after the month
WY_WIDE = "wy-measure"  # monthly, owned by West Yorkshire ICB: applies to its 5 places
WY_QUARTERLY = "wy-quarterly-measure"
WY_RETIRED = "wy-retired-measure"
CORNWALL_WIDE = "cornwall-measure"  # monthly, owned by Cornwall's ICB

TODAY = date.today()
LAST_MONTH_END = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = f"{LAST_MONTH_END:%Y-%m}"


@pytest.fixture
async def catalogue(database_url, make_key) -> None:
    """Local metrics made before ingest first reads the catalogue."""
    admin = MetricsAdmin(database_url, await make_key("admin"))
    await admin.create(
        local_metric(LEEDS_ONLY, submission_deadline_days=10),
        local_metric(WY_WIDE, owner=WEST_YORKSHIRE),
        local_metric(WY_QUARTERLY, owner=WEST_YORKSHIRE, periodicity="quarterly"),
        local_metric(WY_RETIRED, owner=WEST_YORKSHIRE),
        local_metric(CORNWALL_WIDE, owner=CORNWALL_ICB),
    )
    await admin.retire(WY_RETIRED)


async def submit(client, submitter, place: str, metric: str, period: str, value: int = 1):
    fields = {"numerator": value, "denominator": 10} if metric == DISCHARGE else {"value": value}
    response = await client.post(
        "/v1/submissions",
        headers=submitter,
        json={"place_code": place, "observations": [observation(metric, period, **fields)]},
    )
    assert response.status_code == 201, response.text


async def completeness(client, headers, **params) -> dict:
    response = await client.get("/v1/completeness", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def pairs(body: dict) -> list[tuple[str, str]]:
    return [(row["place_code"], row["metric_code"]) for row in body["data"]]


@pytest.mark.parametrize(
    ("area", "period", "expected"),
    [
        (LEEDS, "2025-07", 3),  # discharge, Leeds's own, West Yorkshire's (not the retired one)
        (WEST_YORKSHIRE, "2025-07", PLACES_IN_WEST_YORKSHIRE * 2 + 1),
        (CORNWALL_ICB, "2025-07", 2 * 2),  # discharge and Cornwall's own, for both places
        (ENGLAND, "2025-07", PLACES_IN_ENGLAND + PLACES_IN_WEST_YORKSHIRE + 1 + 2),
        # falls, avoidable admissions, the eight spend metrics, West Yorkshire's quarterly
        (LEEDS, "2025-Q2", 3 + len(SPEND)),
        (CORNWALL, "2025-Q2", 2 + len(SPEND)),
        (LEEDS, "2025", 2),  # the two annual national metrics
        (LEEDS, "FY2025-26", 0),  # no metric is reported by financial year
    ],
)
async def test_expected_pairs_are_the_places_times_the_metrics_that_apply(
    client, make_key, catalogue, area, period, expected
):
    viewer = bearer(await make_key("viewer"))  # reads every place, unlike a submitter
    body = await completeness(client, viewer, area=area, period=period, limit=1000)
    assert body["summary"]["expected"] == body["count"] == len(body["data"]) == expected
    assert len(set(pairs(body))) == expected
    assert {row["expected"] for row in body["data"]} <= {1}


async def test_the_pairs_for_a_place_are_named(client, submitter, catalogue):
    assert pairs(await completeness(client, submitter, area=LEEDS, period="2025-07")) == [
        (LEEDS, DISCHARGE),
        (LEEDS, LEEDS_ONLY),
        (LEEDS, WY_WIDE),
    ]
    assert pairs(await completeness(client, submitter, area=BRADFORD, period="2025-Q3")) == [
        (BRADFORD, AVOIDABLE),
        (BRADFORD, FALLS),
        *((BRADFORD, code) for code in SPEND),
        (BRADFORD, WY_QUARTERLY),
    ]


async def test_on_time_and_late_go_by_the_first_version_and_the_metrics_deadline(
    client, submitter, catalogue, query
):
    for place, metric in [
        (LEEDS, DISCHARGE),
        (LEEDS, LEEDS_ONLY),
        (BRADFORD, DISCHARGE),
        (KIRKLEES, DISCHARGE),
    ]:
        await submit(client, submitter, place, metric, "2025-07")
    # Discharge is due 45 days after 31 July, by 14 September; Leeds's own 10 days after.
    for place, metric, first_received in [
        (LEEDS, DISCHARGE, "2025-08-02 09:00Z"),
        (LEEDS, LEEDS_ONLY, "2025-08-11 00:30Z"),  # a day late
        # 23:30 on the last day in England (BST); 23:30Z would be 00:30 the next day there.
        (BRADFORD, DISCHARGE, "2025-09-14 22:30Z"),
        (KIRKLEES, DISCHARGE, "2025-09-15 00:01Z"),
    ]:  # the day after it
        query(
            "UPDATE observation SET recorded_at = %s WHERE place_code = %s AND metric_code = %s",
            first_received,
            place,
            metric,
        )
    # Corrections now (long after every deadline) change nothing: the first version counts.
    await submit(client, submitter, LEEDS, DISCHARGE, "2025-07", value=2)
    await submit(client, submitter, LEEDS, LEEDS_ONLY, "2025-07", value=2)

    body = await completeness(client, submitter, area=WEST_YORKSHIRE, period="2025-07")
    rows = {(r["place_code"], r["metric_code"]): r for r in body["data"]}
    assert {
        pair: (r["status"], r["received"], r["on_time"], r["late"], r["deadline"])
        for pair, r in rows.items()
        if r["received"]
    } == {
        (LEEDS, DISCHARGE): ("on_time", 1, 1, 0, "2025-09-14"),
        (LEEDS, LEEDS_ONLY): ("late", 1, 0, 1, "2025-08-10"),
        (BRADFORD, DISCHARGE): ("on_time", 1, 1, 0, "2025-09-14"),
        (KIRKLEES, DISCHARGE): ("late", 1, 0, 1, "2025-09-14"),
    }
    assert rows[(LEEDS, DISCHARGE)]["first_received_at"].startswith("2025-08-02T09:00")
    assert {r["status"] for pair, r in rows.items() if not r["received"]} == {"missing"}
    assert body["summary"] == {
        "expected": 11,
        "received": 4,
        "on_time": 2,
        "late": 2,
        "missing": 7,
        "pending": 0,
    }


async def test_nothing_received_is_pending_until_the_deadline_then_missing(
    client, submitter, catalogue
):
    await submit(client, submitter, LEEDS, DISCHARGE, LAST_MONTH)
    body = await completeness(client, submitter, area=LEEDS, period=LAST_MONTH)
    # Leeds's own metric is due 10 days after last month; the others 45 days after.
    leeds_only = "missing" if LAST_MONTH_END + timedelta(days=10) < TODAY else "pending"
    assert [(r["metric_code"], r["status"]) for r in body["data"]] == [
        (DISCHARGE, "on_time"),
        (LEEDS_ONLY, leeds_only),
        (WY_WIDE, "pending"),
    ]

    this_month = await completeness(client, submitter, area=LEEDS, period=f"{TODAY:%Y-%m}")
    assert {r["status"] for r in this_month["data"]} == {"pending"}
    assert this_month["summary"]["pending"] == 3


async def test_csv_has_a_row_per_pair(client, submitter, catalogue):
    await submit(client, submitter, LEEDS, DISCHARGE, "2025-07")  # now: long after its deadline
    response = await client.get(
        "/v1/completeness",
        params={"area": WEST_YORKSHIRE, "period": "2025-07", "limit": 1},
        headers={**submitter, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == ",".join(CSV_FIELDS)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == PLACES_IN_WEST_YORKSHIRE * 2 + 1
    leeds = next(r for r in rows if (r["place_code"], r["metric_code"]) == (LEEDS, DISCHARGE))
    assert (leeds["expected"], leeds["received"], leeds["late"], leeds["status"]) == (
        "1",
        "1",
        "1",
        "late",
    )


async def test_pages_slice_the_rows_but_not_the_summary(client, submitter, catalogue):
    whole = await completeness(client, submitter, area=WEST_YORKSHIRE, period="2025-07")
    page = await completeness(
        client, submitter, area=WEST_YORKSHIRE, period="2025-07", limit=4, offset=8
    )
    assert page["data"] == whole["data"][8:12]
    assert (page["count"], page["summary"]) == (whole["count"], whole["summary"])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"period": "2025-07", "area": "E99999999"}, 404),
        ({"period": "2025-07", "area": "leeds"}, 404),
        ({"period": "2025-13", "area": LEEDS}, 422),
        ({"period": "July", "area": LEEDS}, 422),
        ({"period": "", "area": LEEDS}, 422),
        ({"area": LEEDS}, 422),  # no period
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_unknown_areas_are_404_and_bad_periods_422(client, submitter, params, status, accept):
    response = await client.get(
        "/v1/completeness", params=params, headers={**submitter, "Accept": accept}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_completeness_needs_a_key(client, make_key):
    params = {"area": LEEDS, "period": "2025-07"}
    assert (await client.get("/v1/completeness", params=params)).status_code == 401
    viewer = bearer(await make_key("viewer", CORNWALL))
    assert (await client.get("/v1/completeness", params=params, headers=viewer)).status_code == 200


# --- who sees which places ---------------------------------------------------------------------


async def test_a_submitter_sees_only_the_places_in_its_scope(client, make_key, catalogue):
    leeds = bearer(await make_key("submitter", LEEDS))
    for area in (ENGLAND, WEST_YORKSHIRE, LEEDS):
        body = await completeness(client, leeds, area=area, period="2025-07")
        assert pairs(body) == [(LEEDS, DISCHARGE), (LEEDS, LEEDS_ONLY), (LEEDS, WY_WIDE)], area
        assert body["summary"]["expected"] == 3
    exported = await client.get(
        "/v1/completeness", params={"period": "2025-07"}, headers={**leeds, "Accept": "text/csv"}
    )
    assert {row["place_code"] for row in csv.DictReader(io.StringIO(exported.text))} == {LEEDS}


@pytest.mark.parametrize("area", [BRADFORD, CORNWALL_ICB, CORNWALL])
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_a_submitter_asking_about_places_outside_its_scope_is_403(
    client, make_key, catalogue, area, accept
):
    leeds = bearer(await make_key("submitter", LEEDS))
    response = await client.get(
        "/v1/completeness",
        params={"period": "2025-07", "area": area},
        headers={**leeds, "Accept": accept},
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert area in response.json()["detail"] and LEEDS in response.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "assessor", "steward", "signatory", "admin"])
async def test_the_other_roles_see_every_place(client, make_key, catalogue, role):
    key = bearer(await make_key(role, *([CORNWALL] if role in ("steward", "signatory") else [])))
    body = await completeness(client, key, area=ENGLAND, period="2025-07")
    assert body["summary"]["expected"] == PLACES_IN_ENGLAND + PLACES_IN_WEST_YORKSHIRE + 1 + 2


# --- reporting_from: never a period before it ---------------------------------------------------

REPLIES = "cornwall-replies"  # monthly, owned by Cornwall's ICB, reporting from 2025-06
RATIOS = {DISCHARGE, FALLS, AVOIDABLE}  # need a numerator and a denominator


@pytest.fixture
async def late_starter(database_url, make_key) -> None:
    admin = MetricsAdmin(database_url, await make_key("admin"))
    await admin.create(local_metric(REPLIES, owner=CORNWALL_ICB, reporting_from="2025-06"))


async def send(client, key, place: str, rows: list[tuple[str, str]]) -> None:
    response = await client.post(
        "/v1/submissions",
        headers=key,
        json={
            "place_code": place,
            "observations": [
                observation(
                    metric,
                    period,
                    **({"numerator": 1, "denominator": 10} if metric in RATIOS else {"value": 1}),
                )
                for metric, period in rows
            ],
        },
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2025-05", [DISCHARGE]),  # the month before it reports from
        ("2025-06", [DISCHARGE, REPLIES]),  # its first month
        ("2023-03", []),  # before the seeded discharge metric's own reporting_from, 2023-04
        ("2023-04", [DISCHARGE]),
        ("2023-Q1", []),
        ("2023-Q2", [AVOIDABLE, FALLS, *SPEND]),  # the quarterly ones: from 2023-Q2
        ("2022", []),
        ("2023", ["bcf-reablement-91-days", "bcf-residential-admissions-65plus"]),
    ],
)
async def test_no_period_before_a_metrics_reporting_from_is_expected(
    client, make_key, late_starter, period, expected
):
    viewer = bearer(await make_key("viewer"))
    body = await completeness(client, viewer, area=CORNWALL, period=period)
    assert [metric for _, metric in pairs(body)] == expected
    assert body["summary"]["expected"] == len(expected)


async def test_data_sent_before_reporting_from_is_not_counted(client, make_key, late_starter):
    cornwall = bearer(await make_key("submitter", CORNWALL))
    await send(client, cornwall, CORNWALL, [(REPLIES, "2025-05")])
    body = await completeness(client, cornwall, area=CORNWALL, period="2025-05")
    assert pairs(body) == [(CORNWALL, DISCHARGE)]
    assert body["summary"]["received"] == 0


# --- the range form ------------------------------------------------------------------------------


async def test_a_range_counts_each_metrics_own_periods_hand_worked(
    client, make_key, late_starter, query
):
    """Cornwall's ICB, April to September 2025: the monthly discharge metric has 6 months in
    it, the quarterly falls and avoidable admissions 2 quarters each (Q2, Q3), Cornwall's own
    monthly metric the 4 months from its reporting_from (June), and the annual metrics nothing
    (2025 is not wholly inside). Cornwall sends everything but avoidable admissions for Q3, all
    on time but discharge for May, and no spend (8 metrics, 2 quarters each); the Isles of
    Scilly send nothing."""
    cornwall = bearer(await make_key("submitter", CORNWALL))
    months = [f"2025-{m:02d}" for m in range(4, 10)]
    await send(
        client,
        cornwall,
        CORNWALL,
        [(DISCHARGE, m) for m in months]
        + [(FALLS, "2025-Q2"), (FALLS, "2025-Q3"), (AVOIDABLE, "2025-Q2")]
        + [(REPLIES, m) for m in ["2025-05", *months[2:]]],
    )  # May: before it reports
    # Each first version the day after its period ended; May's discharge figures 60 days after
    # (the deadline is 45 days).
    query("UPDATE observation SET recorded_at = public.period_end(period) + 1")
    query(
        "UPDATE observation SET recorded_at = public.period_end(period) + 60 "
        "WHERE metric_code = %s AND period = '2025-05'",
        DISCHARGE,
    )

    viewer = bearer(await make_key("viewer"))
    body = await completeness(
        client, viewer, area=CORNWALL_ICB, **{"from": "2025-04", "to": "2025-09"}
    )
    assert (body["from"], body["to"], body["area"], body["window_start"], body["window_end"]) == (
        "2025-04",
        "2025-09",
        CORNWALL_ICB,
        "2025-04-01",
        "2025-09-30",
    )
    counts = ("expected", "received", "on_time", "late", "missing", "pending")
    got = {
        (r["place_code"], r["metric_code"]): (
            r["periodicity"],
            r["first_period"],
            r["last_period"],
            *(r[c] for c in counts),
            r["missing_periods"],
            r["pending_periods"],
        )
        for r in body["data"]
    }
    assert got == {
        (CORNWALL, AVOIDABLE): (
            "quarterly",
            "2025-Q2",
            "2025-Q3",
            2,
            1,
            1,
            0,
            1,
            0,
            ["2025-Q3"],
            [],
        ),
        (CORNWALL, DISCHARGE): ("monthly", "2025-04", "2025-09", 6, 6, 5, 1, 0, 0, [], []),
        (CORNWALL, FALLS): ("quarterly", "2025-Q2", "2025-Q3", 2, 2, 2, 0, 0, 0, [], []),
        (CORNWALL, REPLIES): ("monthly", "2025-06", "2025-09", 4, 4, 4, 0, 0, 0, [], []),
        (SCILLY, AVOIDABLE): (
            "quarterly",
            "2025-Q2",
            "2025-Q3",
            2,
            0,
            0,
            0,
            2,
            0,
            ["2025-Q2", "2025-Q3"],
            [],
        ),
        (SCILLY, DISCHARGE): ("monthly", "2025-04", "2025-09", 6, 0, 0, 0, 6, 0, months, []),
        (SCILLY, FALLS): (
            "quarterly",
            "2025-Q2",
            "2025-Q3",
            2,
            0,
            0,
            0,
            2,
            0,
            ["2025-Q2", "2025-Q3"],
            [],
        ),
        (SCILLY, REPLIES): ("monthly", "2025-06", "2025-09", 4, 0, 0, 0, 4, 0, months[2:], []),
    } | {
        (place, code): (
            "quarterly",
            "2025-Q2",
            "2025-Q3",
            2,
            0,
            0,
            0,
            2,
            0,
            ["2025-Q2", "2025-Q3"],
            [],
        )
        for place in (CORNWALL, SCILLY)
        for code in SPEND
    }
    assert pairs(body) == sorted(got) and body["count"] == 8 + 2 * len(SPEND)
    spend = 2 * len(SPEND)  # expected and missing at each place
    assert body["places"] == [
        {
            "place_code": CORNWALL,
            "expected": 14 + spend,
            "received": 13,
            "on_time": 12,
            "late": 1,
            "missing": 1 + spend,
            "pending": 0,
        },
        {
            "place_code": SCILLY,
            "expected": 14 + spend,
            "received": 0,
            "on_time": 0,
            "late": 0,
            "missing": 14 + spend,
            "pending": 0,
        },
    ]
    assert body["summary"] == {
        "expected": 28 + 2 * spend,
        "received": 13,
        "on_time": 12,
        "late": 1,
        "missing": 15 + 2 * spend,
        "pending": 0,
    }


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # A quarter counts only when wholly inside: May to August holds no whole quarter.
        ("2025-05", "2025-08", {DISCHARGE: 4}),
        # Any periodicity bounds a range: the financial year 2025-26 is April 2025 to March 2026.
        (
            "FY2025-26",
            "FY2025-26",
            {DISCHARGE: 12, FALLS: 4, AVOIDABLE: 4, **dict.fromkeys(SPEND, 4)},
        ),
        (  # April to December
            "2025-Q2",
            "2025",
            {DISCHARGE: 9, FALLS: 3, AVOIDABLE: 3, **dict.fromkeys(SPEND, 3)},
        ),
        (
            "2024",
            "2025",
            {
                DISCHARGE: 24,
                FALLS: 8,
                AVOIDABLE: 8,
                "bcf-reablement-91-days": 2,
                "bcf-residential-admissions-65plus": 2,
                **dict.fromkeys(SPEND, 8),
            },
        ),
        (  # reporting from 2023-04 (monthly) and 2023-Q2
            "2022-01",
            "2023-06",
            {DISCHARGE: 3, FALLS: 1, AVOIDABLE: 1, **dict.fromkeys(SPEND, 1)},
        ),
    ],
)
async def test_a_range_holds_the_periods_wholly_inside_it(client, make_key, first, last, expected):
    viewer = bearer(await make_key("viewer"))
    body = await completeness(client, viewer, area=CORNWALL, **{"from": first, "to": last})
    assert {r["metric_code"]: r["expected"] for r in body["data"]} == expected


async def test_a_range_up_to_now_shows_what_is_still_pending(client, make_key):
    viewer = bearer(await make_key("viewer"))
    body = await completeness(
        client, viewer, area=CORNWALL, **{"from": LAST_MONTH, "to": LAST_MONTH}
    )
    # Last month's deadline (45 days after it ended) is still ahead.
    assert [(r["metric_code"], r["pending"], r["pending_periods"]) for r in body["data"]] == [
        (DISCHARGE, 1, [LAST_MONTH])
    ]


async def test_a_range_of_one_period_agrees_with_the_period_form(client, make_key, catalogue):
    viewer = bearer(await make_key("viewer"))
    for period in ("2025-07", "2025-Q3"):
        one = await completeness(client, viewer, area=WEST_YORKSHIRE, period=period)
        ranged = await completeness(
            client, viewer, area=WEST_YORKSHIRE, **{"from": period, "to": period}
        )
        # The quarter's range also holds its three months; the period form only the quarter's.
        same_form = [r for r in ranged["data"] if r["first_period"] == period]
        assert [(r["place_code"], r["metric_code"]) for r in same_form] == pairs(one)
        assert [r["missing"] for r in same_form] == [
            int(r["status"] == "missing") for r in one["data"]
        ]


async def test_a_submitter_reads_a_range_for_its_own_places_only(client, make_key, catalogue):
    leeds = bearer(await make_key("submitter", LEEDS))
    body = await completeness(client, leeds, **{"from": "2025-07", "to": "2025-09"})
    assert {r["place_code"] for r in body["data"]} == {LEEDS}
    assert [p["place_code"] for p in body["places"]] == [LEEDS]
    response = await client.get(
        "/v1/completeness",
        headers=leeds,
        params={"from": "2025-07", "to": "2025-09", "area": CORNWALL},
    )
    assert response.status_code == 403


async def test_a_range_as_csv_has_a_row_per_place_and_metric(client, make_key):
    viewer = bearer(await make_key("viewer"))
    response = await client.get(
        "/v1/completeness",
        headers={**viewer, "Accept": "text/csv"},
        params={"from": "2025-04", "to": "2025-06", "area": CORNWALL},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["metric_code"], r["expected"], r["missing_periods"]) for r in rows] == [
        (AVOIDABLE, "1", "2025-Q2"),
        (DISCHARGE, "3", "2025-04 2025-05 2025-06"),
        (FALLS, "1", "2025-Q2"),
        *((code, "1", "2025-Q2") for code in SPEND),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025-07", "from": "2025-07", "to": "2025-07"}, "period"),  # both forms
        ({"period": "2025-07", "to": "2025-07"}, "period"),
        ({}, "period"),  # neither
        ({"from": "2025-07"}, "to"),
        ({"to": "2025-07"}, "from"),
        ({"from": "2025-13", "to": "2025-12"}, "from"),
        ({"from": "2025-01", "to": "July"}, "to"),
        ({"from": "2025-07", "to": "2025-06"}, "to"),  # ends before it starts
        ({"from": "2025-07", "to": "2025-Q2"}, "to"),
        ({"from": "2015-01", "to": "2025-01"}, "to"),  # more than ten years
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_a_bad_range_is_422_naming_the_field(client, submitter, params, field, accept):
    response = await client.get(
        "/v1/completeness",
        params={"area": LEEDS, **params},
        headers={**submitter, "Accept": accept},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", field]]


async def test_ten_years_is_the_longest_range(client, submitter):
    body = await completeness(client, submitter, area=LEEDS, **{"from": "2015-01", "to": "2024-12"})
    assert {r["metric_code"]: r["expected"] for r in body["data"]}[DISCHARGE] == 21  # 2023-04 on
