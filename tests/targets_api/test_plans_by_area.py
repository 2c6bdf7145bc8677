"""GET /v1/areas/{code}/plans: the plans of every place under an area in one call (what a
signatory's work list reads), with the place list's status filter, paging and CSV."""

import csv
import io

import pytest

from tests.support.areas import (
    BRADFORD,
    CORNWALL,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import PLAN, Plans


@pytest.fixture
async def scene(client, plans: Plans, make_key) -> dict[str, int]:
    """Leeds: a draft and a proposed plan; Bradford: a draft; Cornwall (another ICB): a draft
    made by a steward of its own."""
    cornwall_steward = bearer(await make_key("steward", CORNWALL))
    made = await client.post(f"/v1/places/{CORNWALL}/plans", json=PLAN, headers=cornwall_steward)
    assert made.status_code == 201, made.text
    leeds_draft = await plans.create(title="Leeds draft")
    bradford = await plans.create(BRADFORD, title="Bradford draft")
    proposed = await plans.draft()
    await plans.propose(proposed["id"])
    return {
        "leeds_draft": leeds_draft["id"],
        "bradford": bradford["id"],
        "proposed": proposed["id"],
        "cornwall": made.json()["id"],
    }


async def _ids(client, path: str, headers: dict[str, str]) -> tuple[int, list[int]]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["count"], [p["id"] for p in body["data"]]


async def test_an_icb_lists_its_places_plans_newest_first(client, scene, viewer):
    assert await _ids(client, f"/v1/areas/{WEST_YORKSHIRE}/plans", viewer) == (
        3,
        [scene["proposed"], scene["bradford"], scene["leeds_draft"]],
    )
    assert await _ids(client, f"/v1/areas/{WEST_YORKSHIRE}/plans?status=proposed", viewer) == (
        1,
        [scene["proposed"]],
    )
    assert await _ids(client, f"/v1/areas/{WEST_YORKSHIRE}/plans?limit=1&offset=1", viewer) == (
        3,
        [scene["bradford"]],
    )


async def test_england_and_a_region_hold_the_places_below_them(client, scene, viewer):
    everything = await _ids(client, f"/v1/areas/{ENGLAND}/plans", viewer)
    assert everything == (4, sorted(scene.values(), reverse=True))
    region = await _ids(client, f"/v1/areas/{NORTH_EAST_AND_YORKSHIRE}/plans", viewer)
    assert region == (3, [scene["proposed"], scene["bradford"], scene["leeds_draft"]])
    # A place is an area too: its own plans, as the place's list has them.
    assert await _ids(client, f"/v1/areas/{LEEDS}/plans", viewer) == await _ids(
        client, f"/v1/places/{LEEDS}/plans", viewer
    )


async def test_the_area_list_answers_csv_with_every_plan(client, scene, viewer):
    response = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/plans?limit=1&status=draft",
        headers={**viewer, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(int(r["id"]), r["place_code"], r["status"]) for r in rows] == [
        (scene["bradford"], BRADFORD, "draft"),
        (scene["leeds_draft"], LEEDS, "draft"),
    ]


async def test_an_unknown_area_is_404_and_a_bad_status_422(client, viewer):
    assert_problem(await client.get("/v1/areas/E99999999/plans", headers=viewer), 404)
    assert_problem(
        await client.get(f"/v1/areas/{WEST_YORKSHIRE}/plans?status=finished", headers=viewer),
        422,
        ("query", "status"),
    )


async def test_the_area_list_needs_a_key(client):
    assert_problem(await client.get(f"/v1/areas/{WEST_YORKSHIRE}/plans"), 401)
