"""A metric's reporting_from (API.md amendments): the first period for which data is expected.
Part of the versioned definition; a period code of the metric's own periodicity; by default the
period containing the day the metric was created, in England."""

import pytest

from services.common.periods import england_today
from tests.metrics_api.support import SEEDED_METRIC_CODES, definition_of, local_metric
from tests.support.problems import assert_problem

CODE = "leeds-falls"


def hand_worked_period_of_today(periodicity: str) -> str:
    today = england_today()
    year_of_april = today.year if today.month >= 4 else today.year - 1
    return {
        "monthly": f"{today.year}-{today.month:02d}",
        "quarterly": f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        "annual": f"{today.year}",
        "financial_year": f"FY{year_of_april}-{(year_of_april + 1) % 100:02d}",
    }[periodicity]


async def create(client, headers, **fields):
    return await client.post("/v1/metrics", json=local_metric(CODE, **fields), headers=headers)


async def versions(client, headers) -> list[str]:
    response = await client.get(f"/v1/metrics/{CODE}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return [v["reporting_from"] for v in response.json()["data"]]


@pytest.mark.parametrize("periodicity", ["monthly", "quarterly", "annual", "financial_year"])
@pytest.mark.parametrize("sent", [{}, {"reporting_from": None}])
async def test_without_it_a_metric_reports_from_the_period_it_was_created_in(
    client, as_admin, periodicity, sent
):
    response = await create(client, as_admin, periodicity=periodicity, **sent)
    assert response.status_code == 201, response.text
    assert response.json()["reporting_from"] == hand_worked_period_of_today(periodicity)


@pytest.mark.parametrize(
    ("periodicity", "reporting_from"),
    [
        ("monthly", "2022-04"),
        ("quarterly", "2022-Q2"),
        ("annual", "2019"),
        ("financial_year", "FY2023-24"),
        ("monthly", "2030-01"),
    ],
)  # announced ahead: allowed
async def test_a_period_of_the_metrics_periodicity_is_kept_and_shown_everywhere(
    client, as_admin, periodicity, reporting_from
):
    response = await create(
        client, as_admin, periodicity=periodicity, reporting_from=reporting_from
    )
    assert response.status_code == 201, response.text
    assert response.json()["reporting_from"] == reporting_from
    fetched = await client.get(f"/v1/metrics/{CODE}", headers=as_admin)
    assert fetched.json()["reporting_from"] == reporting_from
    listed = await client.get(
        "/v1/metrics", params={"owner": local_metric()["owner_area_code"]}, headers=as_admin
    )
    assert [m["reporting_from"] for m in listed.json()["data"] if m["code"] == CODE] == [
        reporting_from
    ]
    assert await versions(client, as_admin) == [reporting_from]


@pytest.mark.parametrize(
    ("periodicity", "reporting_from"),
    [
        ("monthly", "2025-Q2"),  # a quarter for a monthly metric
        ("quarterly", "2025-04"),
        ("annual", "FY2025-26"),  # a financial year is not a calendar year
        ("financial_year", "2025"),
        ("monthly", "2025-13"),
        ("monthly", "July 2025"),
        ("monthly", ""),
        ("monthly", "2025-07" * 10),  # longer than any period code
        ("monthly", 202507),  # a number, not a code
    ],
)
async def test_anything_else_is_422_naming_reporting_from(
    client, as_admin, periodicity, reporting_from
):
    response = await create(
        client, as_admin, periodicity=periodicity, reporting_from=reporting_from
    )
    assert_problem(response, 422, ("reporting_from",))
    assert (await client.get(f"/v1/metrics/{CODE}", headers=as_admin)).status_code == 404


async def test_a_new_version_may_move_it_and_the_versions_keep_each_value(client, as_admin):
    created = (await create(client, as_admin, reporting_from="2022-04")).json()
    response = await client.put(
        f"/v1/metrics/{CODE}",
        headers=as_admin,
        json=definition_of(created, reporting_from="2023-01"),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["reporting_from"]) == (2, "2023-01")
    assert await versions(client, as_admin) == ["2022-04", "2023-01"]
    old = await client.get(f"/v1/metrics/{CODE}", params={"version": 1}, headers=as_admin)
    assert old.json()["reporting_from"] == "2022-04"


async def test_a_new_version_that_leaves_it_out_keeps_it(client, as_admin):
    created = (await create(client, as_admin, reporting_from="2022-04")).json()
    body = definition_of(created)
    del body["reporting_from"]
    same = await client.put(f"/v1/metrics/{CODE}", headers=as_admin, json=body)
    assert same.status_code == 200, same.text
    assert (same.json()["version"], same.json()["reporting_from"]) == (1, "2022-04")
    renamed = await client.put(
        f"/v1/metrics/{CODE}", headers=as_admin, json=body | {"name": "Falls at home"}
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["version"], renamed.json()["reporting_from"]) == (2, "2022-04")


@pytest.mark.parametrize(
    ("periodicity", "expected"),
    [("quarterly", "2022-Q2"), ("annual", "2022"), ("financial_year", "FY2022-23")],
)
async def test_a_new_periodicity_that_leaves_it_out_starts_where_the_old_one_started(
    client, as_admin, periodicity, expected
):
    created = (await create(client, as_admin, reporting_from="2022-05")).json()
    body = definition_of(created, periodicity=periodicity)
    del body["reporting_from"]
    response = await client.put(f"/v1/metrics/{CODE}", headers=as_admin, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["reporting_from"] == expected  # the one holding 1 May 2022


async def test_a_new_periodicity_with_the_old_form_is_422(client, as_admin):
    created = (await create(client, as_admin, reporting_from="2022-05")).json()
    response = await client.put(
        f"/v1/metrics/{CODE}",
        headers=as_admin,
        json=definition_of(created, periodicity="quarterly"),
    )
    assert_problem(response, 422, ("reporting_from",))
    assert await versions(client, as_admin) == ["2022-05"]


async def test_the_seeded_national_metrics_set_their_own(client, as_admin):
    response = await client.get("/v1/metrics", params={"scope": "national"}, headers=as_admin)
    assert {
        m["code"]: (m["periodicity"], m["reporting_from"]) for m in response.json()["data"]
    } == dict(
        zip(
            SEEDED_METRIC_CODES,
            [
                ("quarterly", "2023-Q2"),
                ("monthly", "2023-04"),
                ("quarterly", "2023-Q2"),
                ("annual", "2023"),
                ("annual", "2023"),
                *[("quarterly", "2023-Q2")] * 8,  # spend by scheme
            ],
            strict=True,
        )
    )
