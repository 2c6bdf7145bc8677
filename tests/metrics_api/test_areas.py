"""The area hierarchy: reading it, its populations, and adding ICBs and places."""

import asyncio

import pytest

from tests.metrics_api.support import ENGLAND_POPULATION, NEW_PLACE, new_area
from tests.support.areas import (
    BRADFORD,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
    WEST_YORKSHIRE_PLACES,
)
from tests.support.problems import assert_problem


async def list_areas(client, headers, **params) -> dict:
    response = await client.get("/v1/areas", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "count"}
    return body


async def get_area(client, headers, code: str) -> dict:
    response = await client.get(f"/v1/areas/{code}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_area_has_its_code_name_level_parent_and_population(client, as_admin):
    leeds = await get_area(client, as_admin, LEEDS)
    assert {k: leeds[k] for k in ("code", "name", "level", "parent_code")} == {
        "code": LEEDS,
        "name": "Leeds",
        "level": "place",
        "parent_code": WEST_YORKSHIRE,
    }
    assert leeds["population"] > 800_000


async def test_england_is_the_only_nation_and_has_no_parent(client, as_admin):
    england = await get_area(client, as_admin, ENGLAND)
    assert (england["name"], england["level"], england["parent_code"]) == (
        "England",
        "nation",
        None,
    )
    nations = await list_areas(client, as_admin, level="nation")
    assert ([a["code"] for a in nations["data"]], nations["count"]) == ([ENGLAND], 1)


@pytest.mark.parametrize(("level", "count"), [("place", 153), ("icb", 42), ("region", 7)])
async def test_list_by_level_counts_every_match_but_pages_them(client, as_admin, level, count):
    areas = await list_areas(client, as_admin, level=level)
    assert areas["count"] == count
    assert len(areas["data"]) == min(count, 100)
    assert {area["level"] for area in areas["data"]} == {level}


async def test_list_without_filters_has_every_area(client, as_admin):
    assert (await list_areas(client, as_admin, limit=1))["count"] == 203


async def test_list_children_of_a_parent(client, as_admin):
    places = await list_areas(client, as_admin, parent=WEST_YORKSHIRE)
    assert {area["code"] for area in places["data"]} == WEST_YORKSHIRE_PLACES
    assert places["count"] == len(WEST_YORKSHIRE_PLACES)
    icbs = await list_areas(client, as_admin, parent=NORTH_EAST_AND_YORKSHIRE, level="icb")
    assert WEST_YORKSHIRE in {area["code"] for area in icbs["data"]}
    assert (await list_areas(client, as_admin, parent=LEEDS))["count"] == 0


@pytest.mark.parametrize(("limit", "offset"), [(10, 0), (10, 145), (50, 100), (1, 152), (5, 153)])
async def test_pages_of_places_are_slices_of_the_whole_list(client, as_admin, limit, offset):
    everything = (await list_areas(client, as_admin, level="place", limit=1000))["data"]
    page = await list_areas(client, as_admin, level="place", limit=limit, offset=offset)
    assert page == {"data": everything[offset : offset + limit], "count": 153}


async def test_populations_roll_up_from_the_places(client, as_admin):
    areas = (await list_areas(client, as_admin, limit=1000))["data"]
    places = [area for area in areas if area["level"] == "place"]
    assert sum(place["population"] for place in places) == ENGLAND_POPULATION
    for parent in (area for area in areas if area["level"] != "place"):
        below = [a for a in places if parent["code"] in lineage(a, areas)]
        assert parent["population"] == sum(a["population"] for a in below), parent["code"]
    assert (await get_area(client, as_admin, ENGLAND))["population"] == ENGLAND_POPULATION


def lineage(area: dict, areas: list[dict]) -> set[str]:
    by_code = {a["code"]: a for a in areas}
    codes = set()
    while area["parent_code"]:
        codes.add(area["parent_code"])
        area = by_code[area["parent_code"]]
    return codes


async def test_unknown_area_is_404(client, as_admin):
    assert_problem(await client.get("/v1/areas/E08999999", headers=as_admin), 404)


async def test_bad_level_filter_is_422(client, as_admin):
    response = await client.get("/v1/areas", params={"level": "ward"}, headers=as_admin)
    assert_problem(response, 422, ("query", "level"))


@pytest.mark.parametrize(
    ("level", "code", "parent"),
    [
        ("place", NEW_PLACE, WEST_YORKSHIRE),
        ("icb", "E54000999", NORTH_EAST_AND_YORKSHIRE),
        ("region", "E40000999", ENGLAND),
    ],
)
async def test_admin_adds_an_area_under_the_level_above(client, as_admin, level, code, parent):
    body = new_area(code, parent, level, population=1234, population_year=2024)
    response = await client.post("/v1/areas", json=body, headers=as_admin)
    assert response.status_code == 201, response.text
    assert response.json() | {"created_at": None} == body | {"created_at": None}
    assert response.json()["created_at"]
    assert await get_area(client, as_admin, code) == response.json()
    children = await list_areas(client, as_admin, parent=parent, limit=1000)
    assert code in {area["code"] for area in children["data"]}


async def test_population_is_optional(client, as_admin):
    body = new_area(population=None)
    response = await client.post("/v1/areas", json=body, headers=as_admin)
    assert response.status_code == 201
    assert response.json()["population"] is None


ARABIC_INDIC_DIGITS = "E\u0660\u0666\u0660\u0660\u0660\u0669\u0669\u0669"  # \d, but not 0-9


@pytest.mark.parametrize(
    "code",
    [
        "E0600099",
        "E060009999",
        "e06000999",
        "W06000999",
        "E0600099X",
        "",
        "E06000999\n",
        ARABIC_INDIC_DIGITS,
    ],
)
async def test_area_code_must_be_e_and_eight_digits(client, as_admin, code):
    response = await client.post("/v1/areas", json=new_area(code), headers=as_admin)
    assert_problem(response, 422, ("code",))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"population": -1}, "population"),
        ({"population": 2**31}, "population"),
        ({"name": " "}, "name"),
        ({"level": "ward"}, "level"),
        ({"parent_code": "West Yorkshire"}, "parent_code"),
        ({"population_year": 1800}, "population_year"),
        ({"colour": "green"}, "colour"),
    ],
)
async def test_invalid_area_fields_are_422(client, as_admin, changes, field):
    response = await client.post("/v1/areas", json=new_area(**changes), headers=as_admin)
    assert_problem(response, 422, (field,))


async def test_area_without_a_parent_is_422(client, as_admin):
    body = new_area()
    del body["parent_code"]
    assert_problem(
        await client.post("/v1/areas", json=body, headers=as_admin), 422, ("parent_code",)
    )


async def test_parent_must_exist(client, as_admin):
    response = await client.post("/v1/areas", json=new_area(parent="E54000999"), headers=as_admin)
    assert_problem(response, 422, ("parent_code",))


@pytest.mark.parametrize(
    ("level", "parent"),
    [
        ("place", NORTH_EAST_AND_YORKSHIRE),
        ("place", ENGLAND),
        ("place", BRADFORD),
        ("icb", ENGLAND),
        ("icb", WEST_YORKSHIRE),
        ("icb", LEEDS),
        ("region", NORTH_EAST_AND_YORKSHIRE),
        ("region", WEST_YORKSHIRE),
    ],
)
async def test_parent_must_be_exactly_one_level_up(client, as_admin, level, parent):
    response = await client.post(
        "/v1/areas", json=new_area(level=level, parent=parent), headers=as_admin
    )
    assert_problem(response, 422, ("parent_code",))


async def test_a_nation_cannot_be_added(client, as_admin):
    response = await client.post(
        "/v1/areas", json=new_area("E92000002", ENGLAND, "nation"), headers=as_admin
    )
    assert_problem(response, 422, ("level",))


async def test_duplicate_area_is_409(client, as_admin):
    response = await client.post("/v1/areas", json=new_area(LEEDS), headers=as_admin)
    assert_problem(response, 409)
    assert (await get_area(client, as_admin, LEEDS))["name"] == "Leeds"


async def test_the_same_area_added_at_once_twice_is_one_201_and_409s(client, as_admin):
    responses = await asyncio.gather(
        *(client.post("/v1/areas", json=new_area(), headers=as_admin) for _ in range(3))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409]
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409)
