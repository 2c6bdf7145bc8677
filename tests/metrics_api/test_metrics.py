"""Creating and listing metrics: the definition rules, the defaults and the filters."""

import asyncio
import json

import pytest

from services.common.periods import england_today
from tests.metrics_api.support import (
    SEEDED_METRIC,
    SEEDED_METRIC_CODES,
    local_metric,
    national_metric,
)
from tests.support.areas import BRADFORD, ENGLAND, LEEDS, NORTH_EAST_AND_YORKSHIRE, WEST_YORKSHIRE
from tests.support.problems import assert_problem


@pytest.fixture
def create(client, as_admin):
    async def post(body: dict):
        return await client.post("/v1/metrics", json=body, headers=as_admin)

    return post


async def assert_invalid(create, body: dict, *locs: tuple) -> dict:
    problem = assert_problem(await create(body), 422, *locs)
    assert problem["type"] == "urn:joinedup:problem:validation-error"
    return problem


async def test_created_metric_is_returned_and_readable(client, create, as_admin):
    response = await create(local_metric("leeds-falls", description="Falls at home"))
    assert response.status_code == 201
    assert response.headers["location"] == "/v1/metrics/leeds-falls"
    assert response.headers["etag"]
    created = response.json()
    assert created | {"created_at": None, "version_created_at": None} == {
        "code": "leeds-falls",
        "scope": "local",
        "owner_area_code": LEEDS,
        "name": "People who fell at home",
        "description": "Falls at home",
        "domain": "Falls",
        "mandatory": False,
        "kind": "count",
        "multiplier": None,
        "unit": "people",
        "direction": "lower_is_better",
        "periodicity": "monthly",
        "aggregation": "sum",
        "valid_min": 0.0,
        "valid_max": None,
        "decimals": 0,
        "submission_deadline_days": 45,
        "source": "",
        "version": 1,
        "status": "active",
        "retired_at": None,
        "created_at": None,
        "version_created_at": None,
        # Not given: the month it was created in, in England (tests/metrics_api/
        # test_reporting_from.py works the other periodicities).
        "reporting_from": f"{england_today():%Y-%m}",
    }
    assert created["created_at"] and created["version_created_at"]
    fetched = await client.get("/v1/metrics/leeds-falls", headers=as_admin)
    assert fetched.json() == created
    assert fetched.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize("code", ["ab", "a" * 64, "0-start-with-a-digit", "x--y-", "a1"])
async def test_codes_matching_the_pattern_are_accepted(create, code):
    assert (await create(local_metric(code))).status_code == 201


@pytest.mark.parametrize(
    "code",
    [
        "a",
        "a" * 65,
        "-leading-dash",
        "Upper-case",
        "under_score",
        "with space",
        "dot.ted",
        "ümlaut",
        "",
    ],
)
async def test_codes_not_matching_the_pattern_are_422(create, code):
    await assert_invalid(create, local_metric(code), ("code",))


async def test_duplicate_code_is_409(create):
    assert (await create(local_metric("leeds-falls"))).status_code == 201
    assert_problem(await create(local_metric("leeds-falls", owner=BRADFORD)), 409)
    assert_problem(await create(national_metric(SEEDED_METRIC)), 409)


@pytest.mark.parametrize("field", ["kind", "direction", "periodicity", "aggregation", "scope"])
async def test_unknown_enum_value_is_422_naming_the_field(create, field):
    await assert_invalid(create, local_metric(**{field: "sideways"}), (field,))


@pytest.mark.parametrize(
    "field", ["name", "domain", "kind", "direction", "periodicity", "scope", "code"]
)
async def test_missing_required_field_is_422_naming_it(create, field):
    body = local_metric()
    del body[field]
    await assert_invalid(create, body, (field,))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"multiplier": 0, "kind": "rate"}, "multiplier"),
        ({"multiplier": -100, "kind": "proportion"}, "multiplier"),
        ({"decimals": 7}, "decimals"),
        ({"decimals": -1}, "decimals"),
        ({"submission_deadline_days": -1}, "submission_deadline_days"),
        ({"name": "   "}, "name"),
        ({"mandatory": "perhaps"}, "mandatory"),
    ],
)
async def test_out_of_range_field_is_422(create, changes, field):
    await assert_invalid(create, local_metric(**changes), (field,))


@pytest.mark.parametrize("field", ["valid_min", "valid_max", "multiplier"])
@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
async def test_non_finite_numbers_are_422(client, as_admin, field, number):
    body = json.dumps(local_metric(kind="rate", multiplier=1000))[:-1] + f', "{field}": {number}}}'
    response = await client.post(
        "/v1/metrics", content=body, headers=as_admin | {"Content-Type": "application/json"}
    )
    assert_problem(response, 422, (field,))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "value", "valid_max": 1e300}, "valid_max"),
        ({"kind": "value", "valid_min": -1e13}, "valid_min"),
        ({"kind": "value", "valid_min": 1e-13}, "valid_min"),
        ({"kind": "rate", "multiplier": 1e13}, "multiplier"),
        ({"kind": "rate", "multiplier": 1e-13}, "multiplier"),
    ],
)
async def test_numbers_beyond_the_magnitude_bound_are_422(create, changes, field):
    # The bound of services/common/magnitude.py holds for definitions as for observations.
    await assert_invalid(create, local_metric(**changes), (field,))


async def test_numbers_at_the_magnitude_bound_are_accepted(create):
    response = await create(local_metric(kind="value", valid_min=-1e12, valid_max=1e12))
    assert response.status_code == 201, response.text
    assert (response.json()["valid_min"], response.json()["valid_max"]) == (-1e12, 1e12)


async def test_the_same_code_created_at_once_twice_is_one_201_and_409s(create):
    responses = await asyncio.gather(*(create(local_metric("leeds-race")) for _ in range(3)))
    assert sorted(response.status_code for response in responses) == [201, 409, 409]
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409)


async def test_unknown_extra_field_is_422(create):
    await assert_invalid(create, local_metric(colour="blue"), ("colour",))


async def test_valid_min_above_valid_max_is_422(create):
    await assert_invalid(create, local_metric(valid_min=10, valid_max=5), ("valid_min",))


async def test_valid_min_above_default_proportion_maximum_is_422(create):
    body = local_metric(kind="proportion", multiplier=100, aggregation=None, valid_min=101)
    await assert_invalid(create, body, ("valid_min",))


async def test_equal_valid_min_and_max_are_accepted(create):
    assert (await create(local_metric(valid_min=5, valid_max=5))).status_code == 201


@pytest.mark.parametrize("kind", ["proportion", "rate"])
async def test_ratio_kind_without_multiplier_is_422(create, kind):
    await assert_invalid(create, local_metric(kind=kind), ("multiplier",))


@pytest.mark.parametrize(
    ("kind", "aggregation"),
    [
        ("count", "ratio_of_sums"),
        ("count", "population_weighted_mean"),
        ("proportion", "sum"),
        ("rate", "sum"),
        ("value", "ratio_of_sums"),
    ],
)
async def test_aggregation_incompatible_with_kind_is_422(create, kind, aggregation):
    body = local_metric(kind=kind, multiplier=100, aggregation=aggregation)
    await assert_invalid(create, body, ("aggregation",))


@pytest.mark.parametrize(
    ("kind", "aggregation"),
    [
        ("proportion", "population_weighted_mean"),
        ("rate", "population_weighted_mean"),
        ("value", "sum"),
        ("count", "sum"),
        ("proportion", "ratio_of_sums"),
    ],
)
async def test_aggregation_compatible_with_kind_is_kept(create, kind, aggregation):
    response = await create(local_metric(kind=kind, multiplier=100, aggregation=aggregation))
    assert response.status_code == 201
    assert response.json()["aggregation"] == aggregation


async def test_every_definition_problem_is_reported_at_once(create):
    body = local_metric(kind="proportion", mandatory=True, valid_min=5, valid_max=1)
    await assert_invalid(create, body, ("multiplier",), ("mandatory",), ("valid_min",))


@pytest.mark.parametrize(
    ("kind", "multiplier", "defaults"),
    [
        ("count", None, {"aggregation": "sum", "decimals": 0, "valid_min": 0, "valid_max": None}),
        (
            "proportion",
            100,
            {"aggregation": "ratio_of_sums", "decimals": 1, "valid_min": 0, "valid_max": 100},
        ),
        (
            "proportion",
            1000,
            {"aggregation": "ratio_of_sums", "decimals": 1, "valid_min": 0, "valid_max": 1000},
        ),
        (
            "rate",
            100000,
            {"aggregation": "ratio_of_sums", "decimals": 1, "valid_min": 0, "valid_max": None},
        ),
        (
            "value",
            None,
            {
                "aggregation": "population_weighted_mean",
                "decimals": 1,
                "valid_min": None,
                "valid_max": None,
            },
        ),
    ],
)
async def test_defaults_come_from_the_kind(create, kind, multiplier, defaults):
    response = await create(local_metric(kind=kind, multiplier=multiplier))
    assert response.status_code == 201, response.text
    created = response.json()
    assert {field: created[field] for field in defaults} == defaults
    assert created["submission_deadline_days"] == 45
    assert created["mandatory"] is False


async def test_given_values_override_the_defaults(create):
    response = await create(
        local_metric(
            kind="proportion",
            multiplier=100,
            decimals=3,
            valid_min=10,
            valid_max=90,
            submission_deadline_days=30,
            aggregation="population_weighted_mean",
        )
    )
    created = response.json()
    assert (
        created["decimals"],
        created["valid_min"],
        created["valid_max"],
        created["submission_deadline_days"],
        created["aggregation"],
    ) == (3, 10, 90, 30, "population_weighted_mean")


@pytest.mark.parametrize("owner", [LEEDS, WEST_YORKSHIRE])
async def test_local_metric_may_be_owned_by_a_place_or_an_icb(create, owner):
    response = await create(local_metric(owner=owner))
    assert response.status_code == 201
    assert response.json()["owner_area_code"] == owner


@pytest.mark.parametrize("owner", [NORTH_EAST_AND_YORKSHIRE, ENGLAND])
async def test_local_metric_owned_by_a_region_or_england_is_422(create, owner):
    await assert_invalid(create, local_metric(owner=owner), ("owner_area_code",))


@pytest.mark.parametrize("owner", ["E08999999", "nowhere", None])
async def test_local_metric_needs_an_existing_owner(create, owner):
    await assert_invalid(create, local_metric(owner=owner), ("owner_area_code",))


async def test_local_metric_cannot_be_mandatory(create):
    await assert_invalid(create, local_metric(mandatory=True), ("mandatory",))


@pytest.mark.parametrize("owner", [ENGLAND, None])
async def test_national_metric_belongs_to_england(create, owner):
    body = national_metric(mandatory=True) | ({"owner_area_code": owner} if owner else {})
    response = await create(body)
    assert response.status_code == 201
    assert (response.json()["owner_area_code"], response.json()["mandatory"]) == (ENGLAND, True)


@pytest.mark.parametrize("owner", [LEEDS, WEST_YORKSHIRE, "E08999999"])
async def test_national_metric_owned_elsewhere_is_422(create, owner):
    await assert_invalid(create, national_metric(owner_area_code=owner), ("owner_area_code",))


async def test_unknown_metric_is_404(client, as_admin):
    assert_problem(await client.get("/v1/metrics/no-such-metric", headers=as_admin), 404)
    assert_problem(await client.get("/v1/metrics/no-such-metric/versions", headers=as_admin), 404)


async def list_codes(client, headers, **params) -> tuple[list[str], int]:
    response = await client.get("/v1/metrics", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "count"}
    return [metric["code"] for metric in body["data"]], body["count"]


@pytest.fixture
async def catalogue(create, client, as_admin):
    """The seeded national metrics, two local ones and a retired local one."""
    for body in [
        local_metric("leeds-falls", domain="Falls"),
        local_metric("wy-discharges", owner=WEST_YORKSHIRE, domain="Independence"),
        local_metric("leeds-old", domain="Falls"),
    ]:
        assert (await create(body)).status_code == 201
    retired = await client.post("/v1/metrics/leeds-old/retire", headers=as_admin)
    assert retired.status_code == 200


async def test_list_shows_every_metric_in_code_order(client, as_admin, catalogue):
    codes, count = await list_codes(client, as_admin)
    assert codes == sorted(SEEDED_METRIC_CODES + ["leeds-falls", "leeds-old", "wy-discharges"])
    assert count == len(SEEDED_METRIC_CODES) + 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"scope": "national"}, SEEDED_METRIC_CODES),
        ({"scope": "local"}, ["leeds-falls", "leeds-old", "wy-discharges"]),
        ({"owner": ENGLAND}, SEEDED_METRIC_CODES),
        ({"owner": LEEDS}, ["leeds-falls", "leeds-old"]),
        ({"owner": WEST_YORKSHIRE}, ["wy-discharges"]),
        ({"owner": BRADFORD}, []),
        ({"status": "retired"}, ["leeds-old"]),
        ({"status": "active", "scope": "local"}, ["leeds-falls", "wy-discharges"]),
        (
            {"domain": "Independence"},
            ["bcf-reablement-91-days", "bcf-residential-admissions-65plus", "wy-discharges"],
        ),
        ({"domain": "Falls", "owner": LEEDS, "status": "active"}, ["leeds-falls"]),
    ],
)
async def test_list_filters(client, as_admin, catalogue, params, expected):
    assert await list_codes(client, as_admin, **params) == (expected, len(expected))


@pytest.mark.parametrize(("limit", "offset"), [(2, 0), (2, 2), (3, 6), (1, 7), (5, 8), (100, 0)])
async def test_list_pages_keep_the_total_count(client, as_admin, catalogue, limit, offset):
    everything, _ = await list_codes(client, as_admin)
    page = await list_codes(client, as_admin, limit=limit, offset=offset)
    assert page == (everything[offset : offset + limit], len(SEEDED_METRIC_CODES) + 3)


@pytest.mark.parametrize(
    "params",
    [
        {"scope": "regional"},
        {"status": "gone"},
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"limit": "ten"},
    ],
)
async def test_bad_list_parameters_are_422(client, as_admin, params):
    response = await client.get("/v1/metrics", params=params, headers=as_admin)
    assert_problem(response, 422, ("query", next(iter(params))))
