"""Reading observations: filters, period bounds by the days periods cover, history, paging,
CSV export, and who may read."""

import csv
import io

import pytest

from services.ingest.observations.schemas import CSV_FIELDS
from tests.support.areas import BRADFORD, CORNWALL, KIRKLEES, LEEDS
from tests.support.clients import bearer
from tests.support.submissions import DISCHARGE, FALLS, json_submission, observation

RESIDENTIAL = "bcf-residential-admissions-65plus"  # annual

# Sorted as the API sorts: place, metric, then the period's first day.
STORED = [
    (BRADFORD, DISCHARGE, "2025-07"),
    (LEEDS, DISCHARGE, "2025-05"),
    (LEEDS, DISCHARGE, "2025-06"),
    (LEEDS, DISCHARGE, "2025-07"),
    (LEEDS, FALLS, "2025-Q1"),
    (LEEDS, FALLS, "2025-Q2"),
    (LEEDS, RESIDENTIAL, "2024"),
]


def ratio(metric: str, period: str, numerator: int = 1) -> dict:
    return observation(metric, period, numerator=numerator, denominator=10)


@pytest.fixture
async def stored(client, submitter) -> None:
    for place in (LEEDS, BRADFORD):
        body = json_submission(
            *(ratio(m, p) for code, m, p in STORED if code == place), place=place
        )
        response = await client.post("/v1/submissions", json=body, headers=submitter)
        assert response.status_code == 201, response.text


async def correct_leeds_july(client, submitter) -> None:
    response = await client.post(
        "/v1/submissions",
        headers=submitter,
        json=json_submission(ratio(DISCHARGE, "2025-07", numerator=2)),
    )
    assert response.status_code == 201, response.text
    assert response.json()["superseded"] == 1


def where(place: str | None = None, metric: str | None = None, periods=None) -> list[tuple]:
    return [
        row
        for row in STORED
        if place in (None, row[0])
        and metric in (None, row[1])
        and (periods is None or row[2] in periods)
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, STORED),
        ({"place_code": BRADFORD}, where(BRADFORD)),
        ({"metric_code": FALLS}, where(metric=FALLS)),
        ({"place_code": LEEDS, "metric_code": DISCHARGE}, where(LEEDS, DISCHARGE)),
        ({"place_code": KIRKLEES}, []),  # in the submitter's scope, with no data
        # A period is in range when the days it covers are: from its first day, to its last.
        ({"from": "2025-Q3"}, where(periods={"2025-07"})),
        ({"to": "2025-Q1"}, where(periods={"2025-Q1", "2024"})),
        ({"from": "2025-06", "to": "2025-06"}, where(periods={"2025-06"})),
        ({"from": "2025-05", "to": "2025-Q2"}, where(periods={"2025-05", "2025-06"})),
        (
            {"from": "2025", "to": "2025"},
            where(periods={"2025-05", "2025-06", "2025-07", "2025-Q1", "2025-Q2"}),
        ),
        ({"from": "FY2025-26"}, where(periods={"2025-05", "2025-06", "2025-07", "2025-Q2"})),
        ({"to": "FY2024-25"}, where(periods={"2025-Q1", "2024"})),
        ({"from": "2024", "to": "2024"}, where(periods={"2024"})),
        (
            {"place_code": LEEDS, "from": "2025-Q2", "to": "2025-Q2"},
            where(LEEDS, periods={"2025-05", "2025-06", "2025-Q2"}),
        ),
    ],
)
async def test_filters(client, submitter, stored, params, expected):
    response = await client.get("/v1/observations", headers=submitter, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(o["place_code"], o["metric_code"], o["period"]) for o in body["data"]] == expected
    assert body["count"] == len(expected)


async def test_history_has_every_version_with_where_it_came_from(client, submitter, stored):
    await correct_leeds_july(client, submitter)
    params = {"place_code": LEEDS, "metric_code": DISCHARGE, "from": "2025-07"}
    current = (await client.get("/v1/observations", headers=submitter, params=params)).json()
    assert [(o["version"], o["numerator"], o["superseded_at"]) for o in current["data"]] == [
        (2, 2.0, None)
    ]

    history = (
        await client.get(
            "/v1/observations", headers=submitter, params={**params, "history": "true"}
        )
    ).json()
    first, second = history["data"]
    assert history["count"] == 2
    assert (first["version"], first["numerator"], second["version"]) == (1, 1.0, 2)
    assert first["superseded_at"] is not None and second["superseded_at"] is None
    assert first["submission_id"] != second["submission_id"]
    assert first["recorded_at"] <= first["superseded_at"] <= second["recorded_at"]
    everything = (
        await client.get("/v1/observations", headers=submitter, params={"history": "true"})
    ).json()
    assert everything["count"] == len(STORED) + 1


@pytest.mark.parametrize(("limit", "offset"), [(2, 0), (2, 2), (3, 6), (5, 7), (1000, 0)])
async def test_pages_slice_the_rows_and_count_them_all(client, submitter, stored, limit, offset):
    body = (
        await client.get(
            "/v1/observations", headers=submitter, params={"limit": limit, "offset": offset}
        )
    ).json()
    assert [(o["place_code"], o["metric_code"], o["period"]) for o in body["data"]] == STORED[
        offset : offset + limit
    ]
    assert body["count"] == len(STORED)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0] == ",".join(CSV_FIELDS)
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_csv_export_has_every_matching_row_without_paging(client, submitter, stored):
    await correct_leeds_july(client, submitter)
    headers = {**submitter, "Accept": "text/csv"}
    rows = read_csv(await client.get("/v1/observations", headers=headers, params={"limit": 1}))
    assert [(r["place_code"], r["metric_code"], r["period"]) for r in rows] == STORED
    july = rows[STORED.index((LEEDS, DISCHARGE, "2025-07"))]
    assert (
        july["value"],
        july["numerator"],
        july["denominator"],
        july["version"],
        july["note"],
        july["superseded_at"],
    ) == ("20.0", "2.0", "10.0", "2", "", "")

    history = read_csv(
        await client.get(
            "/v1/observations",
            headers=headers,
            params={
                "history": "true",
                "place_code": LEEDS,
                "metric_code": DISCHARGE,
                "from": "2025-07",
            },
        )
    )
    assert [(r["version"], r["superseded_at"] != "") for r in history] == [
        ("1", True),
        ("2", False),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-13"},
        {"to": "banana"},
        {"from": "2025-Q5"},
        {"to": ""},
        {"from": "FY2025-27"},
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"history": "maybe"},
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_invalid_query_parameters_are_422(client, submitter, params, accept):
    response = await client.get(
        "/v1/observations", params=params, headers={**submitter, "Accept": accept}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [name] = params
    assert [e["loc"][-1] for e in response.json()["errors"]] == [name]


async def test_reading_needs_a_key_and_the_roles_but_submitter_read_every_place(
    client, make_key, stored
):
    assert (await client.get("/v1/observations")).status_code == 401
    assert (await client.get("/v1/observations", headers=bearer("not-a-key"))).status_code == 401
    for role in ("viewer", "assessor", "steward", "signatory", "admin"):
        key = await make_key(role, CORNWALL)  # these roles' scopes limit writing, not reading
        response = await client.get("/v1/observations", headers=bearer(key))
        assert (response.status_code, response.json()["count"]) == (200, len(STORED)), role


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_a_submitter_reads_only_the_places_in_its_scope(client, make_key, stored, accept):
    """Submitter keys are place systems': each reads back its own places' data and notes."""
    leeds = bearer(await make_key("submitter", LEEDS)) | {"Accept": accept}

    def places(response) -> list[str]:
        assert response.status_code == 200, response.text
        rows = response.json()["data"] if accept == "application/json" else read_csv(response)
        return [row["place_code"] for row in rows]

    assert places(await client.get("/v1/observations", headers=leeds)) == [
        place for place, _, _ in where(LEEDS)
    ]
    assert places(
        await client.get(
            "/v1/observations", headers=leeds, params={"place_code": LEEDS, "history": "true"}
        )
    ) == [place for place, _, _ in where(LEEDS)]
    for outside in (BRADFORD, CORNWALL):
        refused = await client.get(
            "/v1/observations", headers=leeds, params={"place_code": outside}
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert outside in refused.json()["detail"]
    # A scope of several places reads each of them.
    both = bearer(await make_key("submitter", LEEDS, BRADFORD)) | {"Accept": accept}
    assert places(await client.get("/v1/observations", headers=both)) == [
        place for place, _, _ in STORED
    ]
