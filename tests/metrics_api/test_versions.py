"""Versioning and retiring metrics, and the ETags that make reads cheap and writes safe."""

import pytest

from tests.metrics_api.support import SEEDED_METRIC, definition_of, local_metric
from tests.support.areas import BRADFORD, LEEDS, WEST_YORKSHIRE
from tests.support.problems import assert_problem

CODE = "leeds-falls"


@pytest.fixture
async def metric(client, as_admin) -> dict:
    """A local metric at version 1, as its response shows it."""
    response = await client.post("/v1/metrics", json=local_metric(CODE), headers=as_admin)
    assert response.status_code == 201
    return response.json()


async def fetch(client, headers, path: str = f"/v1/metrics/{CODE}", **params):
    response = await client.get(path, params=params or None, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def put(client, headers, body: dict, code: str = CODE, **extra_headers):
    return await client.put(f"/v1/metrics/{code}", json=body, headers=headers | extra_headers)


async def retire(client, headers, code: str = CODE):
    return await client.post(f"/v1/metrics/{code}/retire", headers=headers)


async def test_a_changed_definition_is_a_new_version(client, as_admin, metric):
    response = await put(client, as_admin, definition_of(metric, name="Falls at home", decimals=2))
    assert response.status_code == 200, response.text
    v2 = response.json()
    assert (v2["version"], v2["name"], v2["decimals"]) == (2, "Falls at home", 2)
    assert v2["created_at"] == metric["created_at"]
    assert v2["version_created_at"] >= metric["version_created_at"]
    assert (await fetch(client, as_admin)).json() == v2


async def test_versions_are_listed_oldest_first_and_stay_readable(client, as_admin, metric):
    for n, name in enumerate(["Second", "Third"], start=2):
        response = await put(client, as_admin, definition_of(metric, name=name))
        assert response.json()["version"] == n
    versions = (await fetch(client, as_admin, f"/v1/metrics/{CODE}/versions")).json()
    assert versions["count"] == 3
    assert [(v["version"], v["name"]) for v in versions["data"]] == [
        (1, metric["name"]),
        (2, "Second"),
        (3, "Third"),
    ]
    assert all(v["code"] == CODE for v in versions["data"])
    first = (await fetch(client, as_admin, version=1)).json()
    assert definition_of(first) == definition_of(metric)
    assert (await fetch(client, as_admin, version=3)).json()["name"] == "Third"


async def test_a_version_that_does_not_exist_is_404(client, as_admin, metric):
    response = await client.get(f"/v1/metrics/{CODE}", params={"version": 2}, headers=as_admin)
    assert_problem(response, 404)
    response = await client.get(f"/v1/metrics/{CODE}", params={"version": 0}, headers=as_admin)
    assert_problem(response, 422, ("query", "version"))


async def test_the_same_definition_makes_no_new_version(client, as_admin, metric):
    response = await put(client, as_admin, definition_of(metric))
    assert response.status_code == 200
    assert response.json() == metric
    versions = (await fetch(client, as_admin, f"/v1/metrics/{CODE}/versions")).json()
    assert versions["count"] == 1


async def test_defaults_apply_again_when_put_leaves_fields_out(client, as_admin, metric):
    response = await put(client, as_admin, local_metric(CODE))
    assert response.json()["version"] == 1
    response = await put(client, as_admin, local_metric(CODE, kind="value"))
    assert (response.json()["version"], response.json()["valid_min"]) == (2, None)


async def test_a_seeded_national_metric_can_be_versioned(client, as_admin):
    current = (await fetch(client, as_admin, f"/v1/metrics/{SEEDED_METRIC}")).json()
    response = await put(
        client, as_admin, definition_of(current, submission_deadline_days=30), code=SEEDED_METRIC
    )
    assert (response.json()["version"], response.json()["submission_deadline_days"]) == (2, 30)
    old = (await fetch(client, as_admin, f"/v1/metrics/{SEEDED_METRIC}", version=1)).json()
    assert old["submission_deadline_days"] == 45


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "leeds-other"),
        ("scope", "national"),
        ("owner_area_code", BRADFORD),
        ("owner_area_code", WEST_YORKSHIRE),
    ],
)
async def test_put_cannot_change_code_scope_or_owner(client, as_admin, metric, field, value):
    response = await put(client, as_admin, definition_of(metric, **{field: value}, name="New"))
    assert_problem(response, 422, (field,))
    assert (await fetch(client, as_admin)).json() == metric


async def test_put_may_leave_out_code_scope_and_owner(client, as_admin, metric):
    body = {
        k: v
        for k, v in definition_of(metric, name="New").items()
        if k not in ("code", "scope", "owner_area_code")
    }
    response = await put(client, as_admin, body)
    assert (response.json()["version"], response.json()["owner_area_code"]) == (2, LEEDS)


@pytest.mark.parametrize(
    ("changes", "locs"),
    [
        ({"mandatory": True}, [("mandatory",)]),
        ({"kind": "rate", "multiplier": None, "aggregation": None}, [("multiplier",)]),
        ({"aggregation": "population_weighted_mean"}, [("aggregation",)]),
        ({"valid_min": 3, "valid_max": 2}, [("valid_min",)]),
        ({"direction": "up"}, [("direction",)]),
        ({"version": 7}, [("version",)]),
    ],
)
async def test_put_applies_the_definition_rules(client, as_admin, metric, changes, locs):
    response = await put(client, as_admin, definition_of(metric, **changes))
    assert_problem(response, 422, *locs)
    assert (await fetch(client, as_admin)).json() == metric


async def test_changing_an_unknown_metric_is_404(client, as_admin):
    assert_problem(await put(client, as_admin, local_metric("nothing"), code="nothing"), 404)
    assert_problem(await retire(client, as_admin, "nothing"), 404)


async def test_a_retired_metric_stays_readable_and_says_so(client, as_admin, metric):
    assert metric["retired_at"] is None
    response = await retire(client, as_admin)
    assert response.status_code == 200
    retired = response.json()
    assert (retired["status"], retired["version"]) == ("retired", 1)
    assert retired["retired_at"] >= retired["created_at"]
    assert definition_of(retired) == definition_of(metric)
    assert (await fetch(client, as_admin)).json() == retired


async def test_a_metric_is_retired_only_once(client, as_admin, metric):
    first = await retire(client, as_admin)
    assert first.status_code == 200
    assert_problem(await retire(client, as_admin), 409)
    assert (await fetch(client, as_admin)).json()["retired_at"] == first.json()["retired_at"]


@pytest.mark.parametrize("same", [True, False], ids=["same definition", "new definition"])
async def test_a_retired_metric_cannot_be_changed(client, as_admin, metric, same):
    await retire(client, as_admin)
    body = definition_of(metric) if same else definition_of(metric, name="Revived")
    assert_problem(await put(client, as_admin, body), 409)
    versions = (await fetch(client, as_admin, f"/v1/metrics/{CODE}/versions")).json()
    assert versions["count"] == 1


async def test_if_match_with_the_current_etag_allows_the_change(client, as_admin, metric):
    etag = (await fetch(client, as_admin)).headers["etag"]
    response = await put(client, as_admin, definition_of(metric, name="New"), **{"If-Match": etag})
    assert response.status_code == 200
    assert response.json()["version"] == 2


async def test_if_match_with_a_stale_etag_is_412(client, as_admin, metric):
    stale = (await fetch(client, as_admin)).headers["etag"]
    await put(client, as_admin, definition_of(metric, name="Someone else's change"))
    response = await put(
        client, as_admin, definition_of(metric, name="Mine"), **{"If-Match": stale}
    )
    assert_problem(response, 412)
    assert (await fetch(client, as_admin)).json()["name"] == "Someone else's change"


async def test_if_match_star_or_one_of_a_list_matches(client, as_admin, metric):
    etag = (await fetch(client, as_admin)).headers["etag"]
    response = await put(
        client, as_admin, definition_of(metric, name="Two"), **{"If-Match": f'"stale", {etag}'}
    )
    assert response.json()["version"] == 2
    response = await put(client, as_admin, definition_of(metric, name="Three"), **{"If-Match": "*"})
    assert response.json()["version"] == 3


ETAGGED_READS = [
    "/v1/metrics",
    f"/v1/metrics/{CODE}",
    f"/v1/metrics/{CODE}/versions",
    f"/v1/metrics/{CODE}?version=1",
    "/v1/areas",
    f"/v1/areas/{LEEDS}",
    f"/v1/areas?parent={WEST_YORKSHIRE}",
]


@pytest.mark.parametrize("path", ETAGGED_READS)
async def test_if_none_match_with_the_etag_is_304_with_no_body(client, as_admin, metric, path):
    etag = (await fetch(client, as_admin, path)).headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.get(path, headers=as_admin | {"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    response = await client.get(path, headers=as_admin | {"If-None-Match": '"other"'})
    assert response.status_code == 200
    assert response.json()


async def test_etags_change_when_the_metric_changes(client, as_admin, metric):
    paths = ["/v1/metrics", f"/v1/metrics/{CODE}", f"/v1/metrics/{CODE}/versions"]
    before = [(await fetch(client, as_admin, path)).headers["etag"] for path in paths]
    await put(client, as_admin, definition_of(metric, name="New"))
    after_version = [(await fetch(client, as_admin, path)).headers["etag"] for path in paths]
    await retire(client, as_admin)
    after_retire = [(await fetch(client, as_admin, path)).headers["etag"] for path in paths]
    for old, versioned, retired in list(zip(before, after_version, after_retire, strict=True))[:2]:
        assert len({old, versioned, retired}) == 3
    assert before[2] != after_version[2] == after_retire[2]  # retiring adds no version
    for path, old in zip(paths, before, strict=True):
        response = await client.get(path, headers=as_admin | {"If-None-Match": old})
        assert response.status_code == 200


async def test_old_version_keeps_its_etag_across_new_versions(client, as_admin, metric):
    etag = (await fetch(client, as_admin, version=1)).headers["etag"]
    await put(client, as_admin, definition_of(metric, name="New"))
    response = await client.get(
        f"/v1/metrics/{CODE}", params={"version": 1}, headers=as_admin | {"If-None-Match": etag}
    )
    assert response.status_code == 304


async def test_area_etags_change_when_an_area_is_added(client, as_admin):
    path = f"/v1/areas?parent={WEST_YORKSHIRE}"
    etag = (await fetch(client, as_admin, path)).headers["etag"]
    created = await client.post(
        "/v1/areas",
        json={
            "code": "E06000999",
            "name": "Newtown",
            "level": "place",
            "parent_code": WEST_YORKSHIRE,
        },
        headers=as_admin,
    )
    assert created.status_code == 201
    response = await client.get(path, headers=as_admin | {"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["etag"] != etag
    assert response.json()["count"] == 6
