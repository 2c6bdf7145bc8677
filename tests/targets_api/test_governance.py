"""The governance register: a place's model, members and delegated functions, versioned with
who and when; validation; what is derived (minimum membership, adoption by the national date,
scrutiny before adoption); the roll-up to an ICB, a region and England, with CSV; the audit."""

import csv
import io
from datetime import date, timedelta

import pytest

from services.common.vocabulary import MINIMUM_MEMBERSHIP
from services.targets_api.governance.assessment import assess, missing_categories
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.areas import (
    BRADFORD,
    CORNWALL,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
    WEST_YORKSHIRE_PLACES,
)
from tests.support.bodies import FULL_MEMBERSHIP, governance
from tests.support.clients import bearer, client_reading_catalogue
from tests.support.problems import assert_problem


async def put(client, headers, code: str = LEEDS, **changes):
    return await client.put(
        f"/v1/places/{code}/governance", json=governance(**changes), headers=headers
    )


def without(category: str) -> list[dict[str, str]]:
    return [m for m in FULL_MEMBERSHIP if m["category"] != category]


# --- recording and reading -------------------------------------------------------------------


async def test_the_first_arrangement_is_version_1_and_meets_everything(client, steward, viewer):
    response = await put(client, steward)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1 and body["place_code"] == LEEDS
    assert body["model"] == "icb_committee" and body["adopted_on"] == "2023-03-01"
    assert body["members"][0] == {**FULL_MEMBERSHIP[0], "description": None}
    assert body["delegated_functions"] == governance()["delegated_functions"]
    assert body["changed_by"].startswith("key:") and body["changed_at"]
    assert body["national_date"] == "2023-04-01"
    assert body["adopted"] and body["adopted_by_national_date"]
    assert body["scrutinised_before_adoption"] and body["meets_minimum_membership"]
    assert body["missing_categories"] == [] and body["shortfalls"] == []
    assert [v["version"] for v in body["history"]] == [1]
    read = await client.get(f"/v1/places/{LEEDS}/governance", headers=viewer)
    assert read.status_code == 200 and read.json() == body


async def test_a_change_is_a_new_version_and_the_history_keeps_every_one(
    client, steward, make_key, query
):
    first = (await put(client, steward)).json()
    other = bearer(await make_key("steward", LEEDS, name="Leeds partnership office"))
    second = await put(client, other, model="joint_committee", members=without("healthwatch"))
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["version"] == 2 and body["model"] == "joint_committee"
    assert "Leeds partnership office" in body["changed_by"]
    assert [v["version"] for v in body["history"]] == [2, 1]
    assert body["history"][1] == {k: first[k] for k in body["history"][1]}, (
        "an earlier version stays as it was recorded"
    )
    audits = query(
        "SELECT action, entity_id, before->>'version', after->>'version' FROM audit_log "
        "WHERE entity_type = 'place_governance' ORDER BY id"
    )
    assert audits == [
        ("place_governance.put", LEEDS, None, "1"),
        ("place_governance.put", LEEDS, "1", "2"),
    ]


async def test_the_current_arrangement_sent_again_changes_nothing(client, steward, query):
    first = (await put(client, steward)).json()
    again = await put(client, steward)
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert query("SELECT count(*) FROM place_governance") == [(1,)]
    assert query("SELECT count(*) FROM audit_log WHERE entity_type = 'place_governance'") == [(1,)]


async def test_a_place_without_an_arrangement_is_404(client, viewer):
    assert_problem(await client.get(f"/v1/places/{LEEDS}/governance", headers=viewer), 404)


# --- what is derived -------------------------------------------------------------------------


@pytest.mark.parametrize("category", MINIMUM_MEMBERSHIP)
async def test_each_minimum_category_missing_is_named(client, steward, category):
    body = (await put(client, steward, members=without(category))).json()
    assert body["meets_minimum_membership"] is False
    assert body["missing_categories"] == [category]
    assert body["shortfalls"] == ["missing_members"]


async def test_optional_categories_do_not_count_towards_the_minimum(client, steward):
    members = [m for m in FULL_MEMBERSHIP if m["category"] != "acute_provider"]
    body = (await put(client, steward, members=members)).json()
    assert body["meets_minimum_membership"] is True


@pytest.mark.parametrize(
    ("adopted_on", "scrutinised_on", "by_date", "scrutinised", "shortfalls"),
    [
        ("2023-04-01", "2023-03-31", True, True, []),
        ("2023-04-02", "2023-03-01", False, True, ["adopted_after_national_date"]),
        ("2023-03-01", "2023-03-01", True, False, ["not_scrutinised_before_adoption"]),
        ("2023-03-01", "2023-03-02", True, False, ["not_scrutinised_before_adoption"]),
        ("2023-03-01", None, True, False, ["not_scrutinised_before_adoption"]),
        (None, "2023-03-01", False, False, ["not_adopted"]),
    ],
    ids=[
        "on the national date",
        "a day late",
        "scrutinised the same day",
        "scrutinised after",
        "never scrutinised",
        "not adopted yet",
    ],
)
async def test_adoption_and_scrutiny(
    client, steward, adopted_on, scrutinised_on, by_date, scrutinised, shortfalls
):
    body = (await put(client, steward, adopted_on=adopted_on, scrutinised_on=scrutinised_on)).json()
    assert body["adopted"] is (adopted_on is not None)
    assert body["adopted_by_national_date"] is by_date
    assert body["scrutinised_before_adoption"] is scrutinised
    assert body["shortfalls"] == shortfalls


async def test_the_national_date_is_a_setting(database_url, make_key):
    settings = TargetsApiSettings(
        database_url=database_url,
        metrics_api_url="http://metrics_api",
        service_key=await make_key("service", name="targets_api"),
        governance_national_date=date(2024, 1, 1),
    )
    steward = bearer(await make_key("steward", LEEDS))
    async for client in client_reading_catalogue(create_targets_api, settings, database_url):
        body = (await put(client, steward, adopted_on="2023-12-01")).json()
        assert body["national_date"] == "2024-01-01" and body["adopted_by_national_date"]


def test_the_assessment_of_a_future_adoption_is_not_adopted():
    today = date(2026, 12, 2)
    later = assess(
        adopted_on=today + timedelta(days=1),
        scrutinised_on=None,
        members=[],
        national_date=date(2023, 4, 1),
        today=today,
    )
    assert not later.adopted and later.shortfalls == ["not_adopted", "missing_members"]
    assert missing_categories([{"category": "healthwatch"}]) == [
        c for c in MINIMUM_MEMBERSHIP if c != "healthwatch"
    ]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"model": "cabinet"}, ("model",)),
        ({"model": "other"}, ("model_description",)),
        ({"members": [{"organisation": "X", "category": "pharmacy"}]}, ("members", 0, "category")),
        ({"members": [{"organisation": "X", "category": "other"}]}, ("members", 0, "description")),
        (
            {"members": [{"organisation": "", "category": "healthwatch"}]},
            ("members", 0, "organisation"),
        ),
        (
            {"members": [{"organisation": "X\n", "category": "other", "description": "a\tb"}]},
            ("members", 0, "description"),
        ),
        ({"adopted_on": "2023-13-01"}, ("adopted_on",)),
        ({"adopted_on": "2999-01-01"}, ("adopted_on",)),
        ({"scrutinised_on": "1999-12-31"}, ("scrutinised_on",)),
        ({"delegated_functions": [""]}, ("delegated_functions", 0)),
        ({"delegated_functions": ["f"] * 51}, ("delegated_functions",)),
        ({"colour": "blue"}, ("colour",)),
    ],
    ids=[
        "unknown model",
        "other model undescribed",
        "unknown category",
        "other category undescribed",
        "organisation empty",
        "control characters",
        "not a date",
        "adopted ahead",
        "before 2000",
        "empty function",
        "too many functions",
        "unknown field",
    ],
)
async def test_bad_arrangements_are_422_and_name_the_field(client, steward, query, changes, loc):
    assert_problem(await put(client, steward, **changes), 422, loc)
    assert query("SELECT count(*) FROM place_governance") == [(0,)]


async def test_other_with_a_description_is_accepted(client, steward):
    body = (
        await put(
            client,
            steward,
            model="other",
            model_description="A place board with delegated budgets",
            members=[
                *FULL_MEMBERSHIP,
                {
                    "organisation": "Leeds Jobs",
                    "category": "other",
                    "description": "Employment support",
                },
            ],
        )
    ).json()
    assert body["model"] == "other" and body["members"][-1]["description"] == "Employment support"


# --- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role_and_scopes", "status"),
    [
        (("steward", LEEDS), 201),
        (("steward", WEST_YORKSHIRE), 201),
        (("steward", CORNWALL), 403),
        (("signatory", LEEDS), 403),
        (("viewer",), 403),
        (("admin",), 201),
    ],
    ids=[
        "its steward",
        "its ICB's steward",
        "another ICB's steward",
        "signatory",
        "viewer",
        "admin",
    ],
)
async def test_stewards_in_scope_record_arrangements(
    client, make_key, query, role_and_scopes, status
):
    response = await put(client, bearer(await make_key(*role_and_scopes)))
    if status == 201:
        assert response.status_code == 201, response.text
    else:
        assert_problem(response, status)
        assert query("SELECT count(*) FROM audit_log WHERE entity_type = 'place_governance'") == [
            (0,)
        ]


async def test_only_places_have_an_arrangement(client, steward):
    assert_problem(await put(client, steward, code=WEST_YORKSHIRE), 422)
    assert_problem(await put(client, steward, code="E99999999"), 404)


# --- the roll-up ---------------------------------------------------------------------------


async def test_an_icb_rolls_up_its_places_and_names_those_falling_short(client, steward, viewer):
    await put(client, steward)
    await put(
        client, steward, code=BRADFORD, members=without("healthwatch"), adopted_on="2023-06-01"
    )
    response = await client.get(f"/v1/areas/{WEST_YORKSHIRE}/governance", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["area_code"] == WEST_YORKSHIRE and body["level"] == "icb"
    assert body["places"] == len(WEST_YORKSHIRE_PLACES) == body["count"]
    assert body["with_model"] == 2 and body["adopted"] == 2
    assert body["adopted_by_national_date"] == 1
    assert body["meeting_minimum_membership"] == 1
    assert body["falling_short"] == sorted(WEST_YORKSHIRE_PLACES - {LEEDS})
    assert body["missing_by_category"]["healthwatch"] == len(WEST_YORKSHIRE_PLACES) - 1
    assert body["missing_by_category"]["primary_care"] == len(WEST_YORKSHIRE_PLACES) - 2
    assert body["by_model"] == {"icb_committee": 2}
    rows = {row["place_code"]: row for row in body["data"]}
    assert rows[BRADFORD]["shortfalls"] == ["adopted_after_national_date", "missing_members"]
    assert rows[BRADFORD]["missing_categories"] == ["healthwatch"]
    assert rows[LEEDS]["falls_short"] is False and rows[LEEDS]["icb_code"] == WEST_YORKSHIRE
    nothing = next(row for code, row in rows.items() if code not in (LEEDS, BRADFORD))
    assert nothing["shortfalls"] == ["no_model"] and nothing["model"] is None


@pytest.mark.parametrize("area", [NORTH_EAST_AND_YORKSHIRE, ENGLAND])
async def test_a_region_and_england_count_every_place_below_them(client, steward, viewer, area):
    await put(client, steward)
    body = (await client.get(f"/v1/areas/{area}/governance", headers=viewer)).json()
    assert body["places"] > len(WEST_YORKSHIRE_PLACES) and body["with_model"] == 1
    assert LEEDS not in body["falling_short"] and len(body["falling_short"]) == body["places"] - 1


async def test_the_roll_up_is_for_areas_above_places(client, viewer):
    assert_problem(await client.get(f"/v1/areas/{LEEDS}/governance", headers=viewer), 422)
    assert_problem(await client.get("/v1/areas/E99999999/governance", headers=viewer), 404)


async def test_the_roll_up_as_csv_has_a_row_per_place(client, steward, viewer):
    await put(client, steward, members=without("healthwatch"))
    response = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/governance", headers=viewer | {"Accept": "text/csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["place_code"] for r in rows} == WEST_YORKSHIRE_PLACES
    leeds = next(r for r in rows if r["place_code"] == LEEDS)
    assert leeds["missing_categories"] == "healthwatch" and leeds["falls_short"] == "true"
    other = next(r for r in rows if r["place_code"] != LEEDS)
    assert other["shortfalls"] == "no_model"
    assert other["missing_categories"] == ";".join(MINIMUM_MEMBERSHIP)
