"""The resources behind a plan: partners' contributions and planned spend by scheme, set whole
while the plan is a draft (steward in scope, audited, a retry changes nothing), frozen once it
is submitted, copied to a revision; validation naming the row; and planned spend against the
actual spend submitted through ingest as the bcf-spend-* national metrics, rolled up by the
progress refresh like any other metric."""

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.vocabulary import SCHEMES, SPEND_METRICS
from services.metrics_api.seed import national_metric_rows
from tests.support.areas import CORNWALL, LEEDS, WEST_YORKSHIRE, WEST_YORKSHIRE_PLACES
from tests.support.bodies import FULL_MEMBERSHIP, governance, resources
from tests.support.clients import bearer, ingest_client
from tests.support.problems import assert_problem
from tests.support.submissions import json_submission
from tests.targets_api.plan_support import assert_illegal
from tests.targets_api.progress_support import refresh

HOME_CARE = SPEND_METRICS["home_care"]
REABLEMENT = SPEND_METRICS["reablement"]


@pytest.fixture
async def ingest(database_url: str, make_key) -> AsyncIterator[httpx.AsyncClient]:
    async for c in ingest_client(database_url, await make_key("service", name="ingest")):
        yield c


@pytest.fixture
async def submitter(make_key) -> dict[str, str]:
    return bearer(await make_key("submitter", WEST_YORKSHIRE))


async def put(client, headers, plan_id: int, body: dict | None = None) -> httpx.Response:
    return await client.put(
        f"/v1/plans/{plan_id}/resources",
        json=resources() if body is None else body,
        headers=headers,
    )


async def submit_spend(ingest, submitter, place: str, metric: str, values: dict[str, float]):
    observations = [{"metric_code": metric, "period": p, "value": v} for p, v in values.items()]
    response = await ingest.post(
        "/v1/submissions", json=json_submission(*observations, place=place), headers=submitter
    )
    assert response.status_code == 201, response.text


def audits(query, plan_id: int) -> list[tuple]:
    return query(
        "SELECT action, before, after FROM audit_log WHERE entity_type = 'plan' "
        "AND entity_id = %s AND action = 'plan.resources.put' ORDER BY id",
        str(plan_id),
    )


# --- the seeded spend metrics ------------------------------------------------------------------


def test_every_scheme_has_a_seeded_quarterly_spend_metric_summed_up():
    seeded = {row["code"]: row for row in national_metric_rows()}
    for scheme in SCHEMES:
        metric = seeded[SPEND_METRICS[scheme]]
        assert (metric["kind"], metric["periodicity"], metric["aggregation"]) == (
            "value",
            "quarterly",
            "sum",
        ), scheme
        assert (metric["unit"], metric["mandatory"], metric["valid_min"]) == ("GBP", False, 0.0)


# --- setting and reading -------------------------------------------------------------------------


async def test_a_draft_s_resources_are_set_whole_and_read_back(client, plans, steward, viewer):
    plan = await plans.create()
    response = await put(client, steward, plan["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan_id"] == plan["id"] and body["place_code"] == LEEDS
    assert body["financial_years"] == ["FY2025-26", "FY2026-27"] and body["frozen"] is False
    assert len(body["contributions"]) == 5 and len(body["planned_spend"]) == 3
    assert {
        "financial_year": "FY2025-26",
        "organisation": WEST_YORKSHIRE,
        "kind": "aligned",
        "amount_gbp": 1250000.5,
    } in body["contributions"]
    totals = {t["financial_year"]: t for t in body["totals"]}
    assert totals["FY2025-26"] == {
        "financial_year": "FY2025-26",
        "pooled_gbp": 10_500_000.0,
        "aligned_gbp": 1_250_000.5,
        "contributed_gbp": 11_750_000.5,
        "planned_spend_gbp": 7_000_000.0,
        "actual_spend_gbp": None,
    }
    assert totals["FY2026-27"]["planned_spend_gbp"] == 5_200_000.0
    assert [(s["financial_year"], s["scheme"], s["planned_gbp"]) for s in body["spend"]] == [
        ("FY2025-26", "home_care", 5_000_000.0),
        ("FY2025-26", "reablement", 2_000_000.0),
        ("FY2026-27", "home_care", 5_200_000.0),
    ]
    read = await client.get(f"/v1/plans/{plan['id']}/resources", headers=viewer)
    assert read.status_code == 200 and read.json() == body
    assert (await plans.get(plan["id"]))["resources"] == body


async def test_a_new_plan_has_no_resources(client, plans, viewer):
    plan = await plans.create()
    assert plan["resources"]["contributions"] == [] and plan["resources"]["spend"] == []
    assert [t["contributed_gbp"] for t in plan["resources"]["totals"]] == [0.0, 0.0]


async def test_a_put_replaces_the_whole_and_is_audited_under_the_plan(
    client, plans, steward, query
):
    plan = await plans.create()
    await put(client, steward, plan["id"])
    smaller = resources(contributions=[], planned_spend=resources()["planned_spend"][:1])
    body = (await put(client, steward, plan["id"], smaller)).json()
    assert body["contributions"] == [] and len(body["planned_spend"]) == 1
    assert query("SELECT count(*) FROM plan_contribution") == [(0,)]
    entries = audits(query, plan["id"])
    assert len(entries) == 2
    (_, before, after), (_, before2, after2) = entries
    assert before == {"contributions": [], "planned_spend": []}
    assert len(after["contributions"]) == 5 and before2 == after
    assert after2 == {
        "contributions": [],
        "planned_spend": [
            {"financial_year": "FY2025-26", "scheme": "home_care", "amount_gbp": "5000000.00"}
        ],
    }


async def test_the_same_resources_sent_again_change_nothing(client, plans, steward, query):
    plan = await plans.create()
    first = await put(client, steward, plan["id"])
    # The same rows in another order, with amounts written differently, are the same resources.
    body = resources()
    body["contributions"].reverse()
    body["planned_spend"][0]["amount_gbp"] = "5000000.00"
    again = await put(client, steward, plan["id"], body)
    assert again.status_code == 200 and again.json() == first.json()
    assert len(audits(query, plan["id"])) == 1
    assert query("SELECT count(*) FROM plan_contribution") == [(5,)]


async def test_a_member_of_the_place_s_partnership_may_contribute(client, plans, steward):
    plan = await plans.create()
    partner = {
        "financial_year": "FY2025-26",
        "organisation": "Leeds Community Healthcare NHS Trust",
        "kind": "aligned",
        "amount_gbp": 300_000,
    }
    body = resources(contributions=[partner])
    assert_problem(await put(client, steward, plan["id"], body), 422)
    response = await client.put(
        f"/v1/places/{LEEDS}/governance", json=governance(), headers=steward
    )
    assert response.status_code == 201, response.text
    assert FULL_MEMBERSHIP[3]["organisation"] == partner["organisation"]
    response = await put(client, steward, plan["id"], body)
    assert response.status_code == 200, response.text
    assert response.json()["contributions"] == [{**partner, "amount_gbp": 300_000.0}]


# --- who may -----------------------------------------------------------------------------------


async def test_a_steward_out_of_scope_is_403_and_nothing_is_written(client, plans, make_key, query):
    plan = await plans.create()
    elsewhere = bearer(await make_key("steward", CORNWALL))
    assert_problem(await put(client, elsewhere, plan["id"]), 403)
    assert query("SELECT count(*) FROM plan_contribution") == [(0,)]
    assert audits(query, plan["id"]) == []


@pytest.mark.parametrize("role", ["viewer", "assessor", "signatory", "submitter"])
async def test_only_a_steward_sets_resources(client, plans, make_key, role):
    plan = await plans.create()
    scopes = () if role in ("viewer", "assessor") else (LEEDS,)
    key = bearer(await make_key(role, *scopes))
    assert_problem(await put(client, key, plan["id"]), 403)


async def test_no_key_is_401_and_an_unknown_plan_404(client, steward):
    assert_problem(await client.get("/v1/plans/1/resources"), 401)
    assert_problem(await put(client, steward, 999_999), 404)
    assert_problem(await client.get("/v1/plans/999999/resources", headers=steward), 404)


# --- frozen with the plan -----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["proposed", "agreed", "superseded"])
async def test_a_plan_past_draft_is_frozen(client, plans, steward, state, query):
    plan = await plans.in_state(state)
    problem = assert_illegal(await put(client, steward, plan["id"]), state)
    assert "resources" in problem["detail"]
    assert audits(query, plan["id"]) == []
    assert (await plans.get(plan["id"]))["resources"]["frozen"] is True


async def test_a_revision_of_an_agreed_plan_copies_its_resources(client, plans, steward, query):
    plan = await plans.draft()
    await put(client, steward, plan["id"])
    await plans.propose(plan["id"])
    agreed = await plans.agree(plan["id"])
    revision = await plans.open_revision(plan["id"])
    theirs, ours = agreed["resources"], revision["resources"]
    assert ours["frozen"] is False and theirs["frozen"] is True
    for part in ("contributions", "planned_spend", "totals", "spend"):
        assert ours[part] == theirs[part], part
    (after,) = query(
        "SELECT after->'resources' FROM audit_log WHERE action = 'plan.revise' AND entity_id = %s",
        str(revision["id"]),
    )[0]
    assert len(after["contributions"]) == 5 and len(after["planned_spend"]) == 3
    # The revision's resources are its own: changing them leaves the agreed plan's as they were.
    assert (await put(client, steward, revision["id"], resources(contributions=[]))).is_success
    assert (await plans.get(plan["id"]))["resources"]["contributions"] == theirs["contributions"]


# --- validation ---------------------------------------------------------------------------------


def _with(section: str, **row) -> dict:
    body = resources()
    body[section][1] = {**body[section][1], **row}
    return body


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (_with("planned_spend", scheme="day_centres"), ["planned_spend", 1, "scheme"]),
        (_with("planned_spend", financial_year="2025-26"), ["planned_spend", 1, "financial_year"]),
        (
            _with("planned_spend", financial_year="FY2025-27"),
            ["planned_spend", 1, "financial_year"],
        ),
        (_with("planned_spend", amount_gbp=-1), ["planned_spend", 1, "amount_gbp"]),
        (_with("planned_spend", amount_gbp=10.005), ["planned_spend", 1, "amount_gbp"]),
        (_with("planned_spend", amount_gbp=1e13), ["planned_spend", 1, "amount_gbp"]),
        (_with("planned_spend", amount_gbp="NaN"), ["planned_spend", 1, "amount_gbp"]),
        (_with("planned_spend", amount_gbp=True), ["planned_spend", 1, "amount_gbp"]),
        (_with("contributions", kind="ringfenced"), ["contributions", 1, "kind"]),
        (_with("contributions", organisation=" "), ["contributions", 1, "organisation"]),
        # Outside the plan's period (April 2025 to March 2027): checked against the plan.
        (
            _with("contributions", financial_year="FY2027-28"),
            ["contributions", 1, "financial_year"],
        ),
        (
            _with("planned_spend", financial_year="FY2024-25"),
            ["planned_spend", 1, "financial_year"],
        ),
        # Not the place, its ICB or a member of its partnership.
        (_with("contributions", organisation=CORNWALL), ["contributions", 1, "organisation"]),
        # The same year, organisation and kind twice; the same year and scheme twice.
        (_with("contributions", organisation=LEEDS), ["contributions", 1]),
        (_with("planned_spend", scheme="home_care"), ["planned_spend", 1]),
    ],
)
async def test_a_bad_row_is_422_naming_it_and_nothing_is_written(
    client, plans, steward, query, body, loc
):
    plan = await plans.create()
    response = await put(client, steward, plan["id"], body)
    problem = assert_problem(response, 422)
    assert loc in [e["loc"][: len(loc)] for e in problem["errors"]], problem
    assert query("SELECT count(*) FROM plan_contribution") == [(0,)]
    assert query("SELECT count(*) FROM plan_spend") == [(0,)]


async def test_an_unknown_field_is_422(client, plans, steward):
    plan = await plans.create()
    assert_problem(await put(client, steward, plan["id"], resources(pooled=True)), 422)


# --- planned against actual ---------------------------------------------------------------------


async def test_planned_spend_is_set_against_spend_to_date_from_ingest(
    client, plans, steward, viewer, ingest, submitter
):
    plan = await plans.create()
    await put(client, steward, plan["id"])
    # Home care, FY2025-26 (2025-Q2 to 2026-Q1): spend to date each quarter, the last below
    # the 5,000,000 planned. Reablement: only two quarters in, and a quarter of FY2024-25,
    # outside the plan, which is not shown.
    await submit_spend(
        ingest,
        submitter,
        LEEDS,
        HOME_CARE,
        {"2025-Q2": 1_100_000, "2025-Q3": 2_300_000, "2025-Q4": 3_500_000, "2026-Q1": 4_600_000},
    )
    await submit_spend(
        ingest, submitter, LEEDS, REABLEMENT, {"2025-Q2": 400_000, "2025-Q3": 900_000}
    )
    await submit_spend(ingest, submitter, LEEDS, REABLEMENT, {"2025-Q1": 9_999_999})
    # Intermediate care has actual spend with nothing planned; Bradford's spend is not Leeds's.
    await submit_spend(
        ingest, submitter, LEEDS, SPEND_METRICS["intermediate_care"], {"2026-Q2": 250_000}
    )
    await submit_spend(ingest, submitter, "E08000032", HOME_CARE, {"2026-Q2": 7_000_000})

    body = (await client.get(f"/v1/plans/{plan['id']}/resources", headers=viewer)).json()
    spend = {(s["financial_year"], s["scheme"]): s for s in body["spend"]}
    assert list(spend) == [
        ("FY2025-26", "home_care"),
        ("FY2025-26", "reablement"),
        ("FY2026-27", "home_care"),
        ("FY2026-27", "intermediate_care"),
    ]
    home = spend[("FY2025-26", "home_care")]
    assert home == {
        "financial_year": "FY2025-26",
        "scheme": "home_care",
        "metric_code": HOME_CARE,
        "planned_gbp": 5_000_000.0,
        "actual_gbp": 4_600_000.0,
        "actual_to": "2026-Q1",
        "year_complete": True,
        "variance_gbp": -400_000.0,
        "spent_share": pytest.approx(0.92),
        "below_plan": True,
    }
    reablement = spend[("FY2025-26", "reablement")]
    assert (reablement["actual_gbp"], reablement["actual_to"]) == (900_000.0, "2025-Q3")
    assert reablement["year_complete"] is False and reablement["below_plan"] is False
    later = spend[("FY2026-27", "home_care")]
    assert (later["actual_gbp"], later["variance_gbp"], later["below_plan"]) == (None, None, False)
    extra = spend[("FY2026-27", "intermediate_care")]
    assert (extra["planned_gbp"], extra["actual_gbp"], extra["variance_gbp"]) == (
        None,
        250_000.0,
        None,
    )
    totals = {t["financial_year"]: t["actual_spend_gbp"] for t in body["totals"]}
    assert totals == {"FY2025-26": 5_500_000.0, "FY2026-27": 250_000.0}

    # A correction through ingest is the new current value: the home care year ends on plan.
    await submit_spend(ingest, submitter, LEEDS, HOME_CARE, {"2026-Q1": 5_100_000})
    body = (await client.get(f"/v1/plans/{plan['id']}/resources", headers=viewer)).json()
    home = next(s for s in body["spend"] if s["scheme"] == "home_care")
    assert (home["actual_gbp"], home["variance_gbp"], home["below_plan"]) == (
        5_100_000.0,
        100_000.0,
        False,
    )
    assert (await plans.get(plan["id"]))["resources"]["spend"] == body["spend"]


async def test_planned_against_actual_as_csv(client, plans, steward, viewer, ingest, submitter):
    plan = await plans.create()
    await put(client, steward, plan["id"])
    await submit_spend(ingest, submitter, LEEDS, HOME_CARE, {"2026-Q1": 4_600_000})
    response = await client.get(
        f"/v1/plans/{plan['id']}/resources", headers={**viewer, "Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["financial_year"], r["scheme"]) for r in rows] == [
        ("FY2025-26", "home_care"),
        ("FY2025-26", "reablement"),
        ("FY2026-27", "home_care"),
    ]
    assert (rows[0]["planned_gbp"], rows[0]["actual_gbp"], rows[0]["below_plan"]) == (
        "5000000.0",
        "4600000.0",
        "true",
    )


async def test_spend_is_summed_up_to_the_icb_by_the_refresh(
    client, ingest, submitter, admin, viewer
):
    amounts = {code: 100_000 * (i + 1) for i, code in enumerate(sorted(WEST_YORKSHIRE_PLACES))}
    for code, amount in amounts.items():
        await submit_spend(ingest, submitter, code, HOME_CARE, {"2025-Q2": amount})
    await refresh(client, admin)
    response = await client.get(f"/v1/areas/{WEST_YORKSHIRE}/performance", headers=viewer)
    assert response.status_code == 200, response.text
    home = next(m for m in response.json()["metrics"] if m["metric_code"] == HOME_CARE)
    assert (home["period"], home["places_reported"]) == ("2025-Q2", len(amounts))
    assert home["value"] == sum(amounts.values())
