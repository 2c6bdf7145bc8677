"""Completeness and timeliness, worked by hand: which (place, metric) pairs a period expects in
an area, which came, and whether the FIRST version came by the metric's deadline."""

import csv
import io
from datetime import date, timedelta

import pytest

from services.ingest.completeness.schemas import CSV_FIELDS
from tests.conftest import bearer
from tests.ingest.conftest import BRADFORD, CORNWALL, DISCHARGE, FALLS, LEEDS, observation
from tests.ingest.support import WEST_YORKSHIRE, MetricsAdmin, local_metric

KIRKLEES = "E08000034"
CORNWALL_ICB = "E54000036"  # Cornwall and the Isles of Scilly: 2 places
AVOIDABLE = "bcf-avoidable-admissions"  # the other quarterly national metric
ENGLAND = "E92000001"
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
    await admin.create(local_metric(LEEDS_ONLY, submission_deadline_days=10),
                       local_metric(WY_WIDE, owner=WEST_YORKSHIRE),
                       local_metric(WY_QUARTERLY, owner=WEST_YORKSHIRE, periodicity="quarterly"),
                       local_metric(WY_RETIRED, owner=WEST_YORKSHIRE),
                       local_metric(CORNWALL_WIDE, owner=CORNWALL_ICB))
    await admin.retire(WY_RETIRED)


async def submit(client, submitter, place: str, metric: str, period: str, value: int = 1):
    fields = ({"numerator": value, "denominator": 10} if metric == DISCHARGE
              else {"value": value})
    response = await client.post("/v1/submissions", headers=submitter, json={
        "place_code": place, "observations": [observation(metric, period, **fields)]})
    assert response.status_code == 201, response.text


async def completeness(client, headers, **params) -> dict:
    response = await client.get("/v1/completeness", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def pairs(body: dict) -> list[tuple[str, str]]:
    return [(row["place_code"], row["metric_code"]) for row in body["data"]]


@pytest.mark.parametrize(("area", "period", "expected"), [
    (LEEDS, "2025-07", 3),  # discharge, Leeds's own, West Yorkshire's (not the retired one)
    (WEST_YORKSHIRE, "2025-07", PLACES_IN_WEST_YORKSHIRE * 2 + 1),
    (CORNWALL_ICB, "2025-07", 2 * 2),  # discharge and Cornwall's own, for both places
    (ENGLAND, "2025-07", PLACES_IN_ENGLAND + PLACES_IN_WEST_YORKSHIRE + 1 + 2),
    (LEEDS, "2025-Q2", 3),  # falls, avoidable admissions, West Yorkshire's quarterly
    (CORNWALL, "2025-Q2", 2),
    (LEEDS, "2025", 2),  # the two annual national metrics
    (LEEDS, "FY2025-26", 0),  # no metric is reported by financial year
])
async def test_expected_pairs_are_the_places_times_the_metrics_that_apply(
        client, make_key, catalogue, area, period, expected):
    viewer = bearer(await make_key("viewer"))  # reads every place, unlike a submitter
    body = await completeness(client, viewer, area=area, period=period, limit=1000)
    assert body["summary"]["expected"] == body["count"] == len(body["data"]) == expected
    assert len(set(pairs(body))) == expected
    assert {row["expected"] for row in body["data"]} <= {1}


async def test_the_pairs_for_a_place_are_named(client, submitter, catalogue):
    assert pairs(await completeness(client, submitter, area=LEEDS, period="2025-07")) == [
        (LEEDS, DISCHARGE), (LEEDS, LEEDS_ONLY), (LEEDS, WY_WIDE)]
    assert pairs(await completeness(client, submitter, area=BRADFORD, period="2025-Q3")) == [
        (BRADFORD, AVOIDABLE), (BRADFORD, FALLS), (BRADFORD, WY_QUARTERLY)]


async def test_on_time_and_late_go_by_the_first_version_and_the_metrics_deadline(
        client, submitter, catalogue, query):
    for place, metric in [(LEEDS, DISCHARGE), (LEEDS, LEEDS_ONLY), (BRADFORD, DISCHARGE),
                          (KIRKLEES, DISCHARGE)]:
        await submit(client, submitter, place, metric, "2025-07")
    # Discharge is due 45 days after 31 July, by 14 September; Leeds's own 10 days after.
    for place, metric, first_received in [
            (LEEDS, DISCHARGE, "2025-08-02 09:00Z"),
            (LEEDS, LEEDS_ONLY, "2025-08-11 00:30Z"),  # a day late
            (BRADFORD, DISCHARGE, "2025-09-14 23:30Z"),  # on the last day
            (KIRKLEES, DISCHARGE, "2025-09-15 00:01Z")]:  # the day after it
        query("UPDATE observation SET recorded_at = %s WHERE place_code = %s "
              "AND metric_code = %s", first_received, place, metric)
    # Corrections now (long after every deadline) change nothing: the first version counts.
    await submit(client, submitter, LEEDS, DISCHARGE, "2025-07", value=2)
    await submit(client, submitter, LEEDS, LEEDS_ONLY, "2025-07", value=2)

    body = await completeness(client, submitter, area=WEST_YORKSHIRE, period="2025-07")
    rows = {(r["place_code"], r["metric_code"]): r for r in body["data"]}
    assert {pair: (r["status"], r["received"], r["on_time"], r["late"], r["deadline"])
            for pair, r in rows.items() if r["received"]} == {
        (LEEDS, DISCHARGE): ("on_time", 1, 1, 0, "2025-09-14"),
        (LEEDS, LEEDS_ONLY): ("late", 1, 0, 1, "2025-08-10"),
        (BRADFORD, DISCHARGE): ("on_time", 1, 1, 0, "2025-09-14"),
        (KIRKLEES, DISCHARGE): ("late", 1, 0, 1, "2025-09-14")}
    assert rows[(LEEDS, DISCHARGE)]["first_received_at"].startswith("2025-08-02T09:00")
    assert {r["status"] for pair, r in rows.items() if not r["received"]} == {"missing"}
    assert body["summary"] == {"expected": 11, "received": 4, "on_time": 2, "late": 2,
                               "missing": 7, "pending": 0}


async def test_nothing_received_is_pending_until_the_deadline_then_missing(
        client, submitter, catalogue):
    await submit(client, submitter, LEEDS, DISCHARGE, LAST_MONTH)
    body = await completeness(client, submitter, area=LEEDS, period=LAST_MONTH)
    # Leeds's own metric is due 10 days after last month; the others 45 days after.
    leeds_only = "missing" if LAST_MONTH_END + timedelta(days=10) < TODAY else "pending"
    assert [(r["metric_code"], r["status"]) for r in body["data"]] == [
        (DISCHARGE, "on_time"), (LEEDS_ONLY, leeds_only), (WY_WIDE, "pending")]

    this_month = await completeness(client, submitter, area=LEEDS, period=f"{TODAY:%Y-%m}")
    assert {r["status"] for r in this_month["data"]} == {"pending"}
    assert this_month["summary"]["pending"] == 3


async def test_csv_has_a_row_per_pair(client, submitter, catalogue):
    await submit(client, submitter, LEEDS, DISCHARGE, "2025-07")  # now: long after its deadline
    response = await client.get("/v1/completeness", params={"area": WEST_YORKSHIRE,
                                                            "period": "2025-07", "limit": 1},
                                headers={**submitter, "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == ",".join(CSV_FIELDS)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == PLACES_IN_WEST_YORKSHIRE * 2 + 1
    leeds = next(r for r in rows if (r["place_code"], r["metric_code"]) == (LEEDS, DISCHARGE))
    assert (leeds["expected"], leeds["received"], leeds["late"], leeds["status"]) == (
        "1", "1", "1", "late")


async def test_pages_slice_the_rows_but_not_the_summary(client, submitter, catalogue):
    whole = await completeness(client, submitter, area=WEST_YORKSHIRE, period="2025-07")
    page = await completeness(client, submitter, area=WEST_YORKSHIRE, period="2025-07",
                              limit=4, offset=8)
    assert page["data"] == whole["data"][8:12]
    assert (page["count"], page["summary"]) == (whole["count"], whole["summary"])


@pytest.mark.parametrize(("params", "status"), [
    ({"period": "2025-07", "area": "E99999999"}, 404),
    ({"period": "2025-07", "area": "leeds"}, 404),
    ({"period": "2025-13", "area": LEEDS}, 422),
    ({"period": "July", "area": LEEDS}, 422),
    ({"period": "", "area": LEEDS}, 422),
    ({"area": LEEDS}, 422),  # no period
])
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_unknown_areas_are_404_and_bad_periods_422(client, submitter, params, status,
                                                         accept):
    response = await client.get("/v1/completeness", params=params,
                                headers={**submitter, "Accept": accept})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_completeness_needs_a_key(client, make_key):
    params = {"area": LEEDS, "period": "2025-07"}
    assert (await client.get("/v1/completeness", params=params)).status_code == 401
    viewer = bearer(await make_key("viewer", CORNWALL))
    assert (await client.get("/v1/completeness", params=params, headers=viewer)).status_code \
        == 200


# --- who sees which places ---------------------------------------------------------------------

async def test_a_submitter_sees_only_the_places_in_its_scope(client, make_key, catalogue):
    leeds = bearer(await make_key("submitter", LEEDS))
    for area in (ENGLAND, WEST_YORKSHIRE, LEEDS):
        body = await completeness(client, leeds, area=area, period="2025-07")
        assert pairs(body) == [(LEEDS, DISCHARGE), (LEEDS, LEEDS_ONLY), (LEEDS, WY_WIDE)], area
        assert body["summary"]["expected"] == 3
    exported = await client.get("/v1/completeness", params={"period": "2025-07"},
                                headers={**leeds, "Accept": "text/csv"})
    assert {row["place_code"] for row in csv.DictReader(io.StringIO(exported.text))} == {LEEDS}


@pytest.mark.parametrize("area", [BRADFORD, CORNWALL_ICB, CORNWALL])
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_a_submitter_asking_about_places_outside_its_scope_is_403(client, make_key,
                                                                         catalogue, area,
                                                                         accept):
    leeds = bearer(await make_key("submitter", LEEDS))
    response = await client.get("/v1/completeness", params={"period": "2025-07", "area": area},
                                headers={**leeds, "Accept": accept})
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert area in response.json()["detail"] and LEEDS in response.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "assessor", "steward", "signatory", "admin"])
async def test_the_other_roles_see_every_place(client, make_key, catalogue, role):
    key = bearer(await make_key(role, *([CORNWALL] if role in ("steward", "signatory") else [])))
    body = await completeness(client, key, area=ENGLAND, period="2025-07")
    assert body["summary"]["expected"] == PLACES_IN_ENGLAND + PLACES_IN_WEST_YORKSHIRE + 1 + 2
