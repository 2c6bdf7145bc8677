"""Every row check of API.md, in JSON and in CSV: each rejection names its row, field and code
with a readable message; atomic submissions store nothing, partial ones store the valid rows."""

from datetime import date

import pytest

from tests.ingest.support import MetricsAdmin, csv_line, json_text, local_metric, post_body
from tests.support.areas import BRADFORD, LEEDS, WEST_YORKSHIRE
from tests.support.submissions import CSV_HEADER, DISCHARGE, FALLS, json_submission, observation

COUNT = "leeds-delayed-transfers"  # a local count metric with valid_max 5000
SCORE = "leeds-wellbeing-score"  # a local value metric with no valid_min or valid_max
RESIDENTIAL = "bcf-residential-admissions-65plus"  # rate x100000, annual
RETIRED = "bcf-reablement-91-days"  # retired by the catalogue fixture
TODAY = date.today()
THIS_MONTH = f"{TODAY:%Y-%m}"
THIS_QUARTER = f"{TODAY.year}-Q{(TODAY.month - 1) // 3 + 1}"
GOOD = observation(period="2025-01")  # no case below uses DISCHARGE 2025-01


def ratio(metric: str, period: str, **fields) -> dict:
    return observation(metric, period, **{"numerator": 1, "denominator": 10, **fields})


# (observation, [(field, code, part of the message)]); every (metric, period) is distinct, so
# that all of them can go in one submission without being duplicates of each other.
CASES = {
    "unknown metric": (
        observation("no-such-metric", "2025-07", value=1),
        [("metric_code", "unknown_metric", "no-such-metric")],
    ),
    "retired metric": (ratio(RETIRED, "2024"), [("metric_code", "retired_metric", "retired")]),
    "no metric": (
        observation("", "2025-07", value=1),
        [("metric_code", "required", "metric_code is required")],
    ),
    "no period": (ratio(DISCHARGE, ""), [("period", "required", "period is required")]),
    "quarter for a monthly metric": (
        ratio(DISCHARGE, "2025-Q2"),
        [("period", "wrong_periodicity", "monthly")],
    ),
    "month for a quarterly metric": (
        ratio(FALLS, "2025-07"),
        [("period", "wrong_periodicity", "quarterly")],
    ),
    "financial year for an annual metric": (
        ratio(RESIDENTIAL, "FY2024-25"),
        [("period", "wrong_periodicity", "2025")],
    ),
    "this month": (ratio(DISCHARGE, THIS_MONTH), [("period", "period_not_ended", THIS_MONTH)]),
    "this quarter": (ratio(FALLS, THIS_QUARTER), [("period", "period_not_ended", "not ended")]),
    "a future month": (ratio(DISCHARGE, "2099-01"), [("period", "period_not_ended", "2099-01")]),
    **{
        f"period {code}": (ratio(DISCHARGE, code), [("period", "invalid_period", code)])
        for code in (
            "2025-13",
            "2025-00",
            "2025-Q5",
            "2025-7",
            "July 2025",
            "FY2025-27",
            "1899-12",
            "２０２５-07",
        )
    },
    "proportion above 100": (
        observation(period="2024-01", numerator=1500, denominator=1000),
        [("value", "out_of_range", "above the maximum 100")],
    ),
    "count below valid_min": (
        observation(COUNT, "2024-01", value=-1),
        [("value", "out_of_range", "below the minimum 0")],
    ),
    "count above valid_max": (
        observation(COUNT, "2024-02", value=5001),
        [("value", "out_of_range", "above the maximum 5000")],
    ),
    "ratio with a value only": (
        observation(period="2024-02", value=90.9),
        [
            ("numerator", "required", "needs a numerator"),
            ("denominator", "required", "needs a denominator"),
        ],
    ),
    "ratio without a denominator": (
        observation(period="2024-03", numerator=912),
        [("denominator", "required", "needs a denominator")],
    ),
    "denominator 0": (
        observation(period="2024-04", numerator=0, denominator=0),
        [("denominator", "not_positive", "above 0")],
    ),
    "denominator below 0": (
        ratio(FALLS, "2024-Q1", numerator=5, denominator=-10),
        [("denominator", "not_positive", "above 0, not -10")],
    ),
    "numerator below 0": (
        ratio(FALLS, "2024-Q2", numerator=-1),
        [
            ("value", "out_of_range", "below the minimum 0"),
            ("numerator", "out_of_range", "negative"),
        ],
    ),
    "value disagrees with its ratio": (
        observation(period="2024-05", value=91.0, numerator=912, denominator=1003),
        [("value", "value_mismatch", "= 90.9")],
    ),
    "rate disagrees with its ratio": (
        ratio(FALLS, "2024-Q3", value=50.1, numerator=30, denominator=60000),
        [("value", "value_mismatch", "disagrees")],
    ),
    "value not a number": (
        observation(COUNT, "2024-03", value="12 patients"),
        [("value", "not_a_number", "'12 patients' is not a")],
    ),
    "value with a thousands separator": (
        observation(COUNT, "2024-04", value="1,200"),
        [("value", "not_a_number", "'1,200'")],
    ),
    "value NaN": (
        observation(COUNT, "2024-05", value=float("nan")),
        [("value", "not_a_number", "is not a")],
    ),
    "value Infinity": (
        observation(COUNT, "2024-06", value=float("inf")),
        [("value", "not_a_number", "is not a")],
    ),
    "value -Infinity": (
        observation(COUNT, "2024-07", value=float("-inf")),
        [("value", "not_a_number", "is not a")],
    ),
    "value 1e999": (
        observation(COUNT, "2024-08", value="1e999"),
        [("value", "not_a_number", "'1e999'")],
    ),
    "value hexadecimal": (
        observation(COUNT, "2024-09", value="0x10"),
        [("value", "not_a_number", "'0x10'")],
    ),
    "numerator not a number": (
        observation(period="2024-06", numerator="912a", denominator=1003),
        [("numerator", "not_a_number", "'912a'")],
    ),
    "denominator not a number": (
        observation(period="2024-07", numerator=912, denominator="n/a"),
        [("denominator", "not_a_number", "'n/a'")],
    ),
    # Beyond the bound of services/common/magnitude.py, which no valid_min or valid_max widens
    # (issue 11: 1e304 for a value metric without valid_max stopped every progress refresh).
    "value 1e304 without a valid_max": (
        observation(SCORE, "2024-01", value="1e304"),
        [("value", "magnitude", "1e304 is beyond the bound")],
    ),
    "value -1e13": (
        observation(SCORE, "2024-02", value="-1e13"),
        [("value", "magnitude", "from 1e-12 to 1e+12")],
    ),
    "value nearer 0 than the bound": (
        observation(SCORE, "2024-03", value="1e-13"),
        [("value", "magnitude", "1e-13")],
    ),
    "numerator and denominator beyond the bound": (
        observation(period="2023-01", numerator="2e12", denominator="3e12"),
        [("numerator", "magnitude", "2e12"), ("denominator", "magnitude", "3e12")],
    ),
    "denominator nearer 0 than the bound": (
        observation(period="2023-02", numerator=0, denominator="1e-13"),
        [("denominator", "magnitude", "1e-13")],
    ),
    "a ratio whose value is beyond the bound": (
        ratio(FALLS, "2023-Q1", numerator=10**12, denominator=1),
        [("value", "magnitude", "x 100000 = 1e+17 is beyond the bound")],
    ),
    "count 1.5": (
        observation(COUNT, "2024-12", value=1.5),
        [("value", "not_an_integer", "whole numbers, not 1.5")],
    ),
    "count 1e-3": (
        observation(COUNT, "2023-12", value="1e-3"),
        [("value", "not_an_integer", "1e-3")],
    ),
    "count without a value": (
        observation(COUNT, "2024-10"),
        [("value", "required", "count metric needs a value")],
    ),
    "count with a ratio": (
        observation(COUNT, "2024-11", value=3, numerator=3, denominator=4),
        [
            ("numerator", "unexpected", "takes no numerator"),
            ("denominator", "unexpected", "takes no denominator"),
        ],
    ),
    "note over 1000 characters": (
        ratio(DISCHARGE, "2024-08", note="x" * 1001),
        [("note", "too_long", "1000")],
    ),
}


@pytest.fixture
async def catalogue(database_url: str, make_key) -> MetricsAdmin:
    """Local count and value metrics for Leeds and a retired national metric, made before ingest
    first reads the catalogue."""
    admin = MetricsAdmin(database_url, await make_key("admin"))
    await admin.create(local_metric(COUNT, valid_max=5000), local_metric(SCORE, kind="value"))
    await admin.retire(RETIRED)
    return admin


@pytest.fixture(params=["json", "csv"])
def send(request, client, submitter, catalogue):
    """Posts observations of one place, as JSON or as CSV (the same values either way)."""

    async def send(*observations: dict, place: str = LEEDS, mode: str = "atomic"):
        if request.param == "json":
            return await post_body(
                client,
                submitter,
                json_text(json_submission(*observations, place=place, mode=mode)),
                "application/json",
            )
        body = CSV_HEADER + "".join(csv_line(obs, place) for obs in observations)
        return await post_body(client, submitter, body, mode=mode)

    send.format = request.param  # type: ignore[attr-defined]
    return send


def assert_rejected(response, expected: list[tuple[int, str, str, str]]) -> None:
    """A 422 problem listing exactly these (row, field, code, message part) errors."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert_errors(response.json()["errors"], expected)


def assert_errors(errors: list[dict], expected: list[tuple[int, str, str, str]]) -> None:
    assert [(e["row"], e["field"], e["code"]) for e in errors] == [
        (row, field, code) for row, field, code, _ in expected
    ]
    for error, (*_, words) in zip(errors, expected, strict=True):
        assert words in error["msg"], error


def numbered(*cases: tuple[dict, list], first_row: int) -> list[tuple[int, str, str, str]]:
    return [
        (row, *error) for row, (_, errors) in enumerate(cases, start=first_row) for error in errors
    ]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_bad_row_fails_an_atomic_submission_naming_its_row_field_and_code(
    send, query, case
):
    bad, errors = case
    response = await send(GOOD, bad)
    assert_rejected(response, numbered(case, first_row=2))
    problem = response.json()
    assert (problem["accepted"], problem["rejected"]) == (0, 1)
    # Row 2: in JSON, the second observation, ["observations", 1, field] as the framework's
    # own errors count; in CSV the second data row (API.md amendments).
    assert [e["loc"] for e in problem["errors"]] == [
        ["observations", 1, f] if send.format == "json" else ["rows", 2, f] for f, *_ in errors
    ]
    assert query("SELECT count(*) FROM observation") == [(0,)]
    assert query("SELECT count(*) FROM submission") == [(0,)]


async def test_atomic_lists_every_rows_errors_and_partial_stores_only_the_valid_rows(send, query):
    expected = numbered(*CASES.values(), first_row=2)
    assert_rejected(await send(GOOD, *(bad for bad, _ in CASES.values())), expected)
    assert query("SELECT count(*) FROM observation") == [(0,)]

    response = await send(GOOD, *(bad for bad, _ in CASES.values()), mode="partial")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["accepted"], body["rejected"]) == (
        "partially_accepted",
        1,
        len(CASES),
    )
    assert body["error_count"] == len(expected)
    assert_errors(body["errors"], expected)
    assert query("SELECT metric_code, period FROM observation") == [(DISCHARGE, "2025-01")]


@pytest.mark.parametrize("place", ["E99999999", WEST_YORKSHIRE, "leeds"])
async def test_an_unknown_place_is_a_row_error(send, query, place):
    response = await send(GOOD, observation(period="2025-02"), place=place)
    assert_rejected(response, [(row, "place_code", "unknown_place", place) for row in (1, 2)])
    assert query("SELECT count(*) FROM observation") == [(0,)]


async def test_a_csv_row_for_an_unknown_place_leaves_the_other_places_rows(
    client, submitter, query
):
    body = CSV_HEADER + csv_line(GOOD) + csv_line(GOOD, place="E99999999")
    response = await post_body(client, submitter, body, mode="partial")
    assert response.status_code == 201, response.text
    assert_errors(response.json()["errors"], [(2, "place_code", "unknown_place", "E99999999")])
    assert query("SELECT place_code FROM observation") == [(LEEDS,)]


async def test_a_duplicate_is_reported_against_the_first_row_and_the_first_is_kept(send, query):
    response = await send(
        observation(numerator=900, denominator=1000),
        observation(period="2025-06"),
        observation(numerator=901, denominator=1000),
        observation(numerator=902, denominator=1000),
        mode="partial",
    )
    assert response.status_code == 201, response.text
    assert_errors(
        response.json()["errors"],
        [(3, "row", "duplicate", "as row 1"), (4, "row", "duplicate", "as row 1")],
    )
    assert query("SELECT period, numerator FROM observation ORDER BY period") == [
        ("2025-06", 912.0),
        ("2025-07", 900.0),
    ]


@pytest.mark.parametrize(
    ("metric", "period", "value", "numerator", "denominator"),
    [
        (DISCHARGE, "2025-07", 90.9, 912, 1003),  # 90.927..., rounded to the metric's 1 decimal
        (DISCHARGE, "2025-07", 90.93, 912, 1003),
        (DISCHARGE, "2025-07", 90.927, 912, 1003),
        (DISCHARGE, "2025-07", 90.97, 912, 1003),  # within half of the last decimal
        (DISCHARGE, "2025-07", 100, 7, 7),  # the valid_max itself
        (DISCHARGE, "2025-07", 0, 0, 7),  # and the valid_min
        (FALLS, "2025-Q2", 50.04, 30, 60000),  # 50 per 100,000
    ],
)
async def test_a_value_that_agrees_with_its_ratio_within_rounding_is_stored_as_given(
    send, query, metric, period, value, numerator, denominator
):
    response = await send(
        observation(metric, period, value=value, numerator=numerator, denominator=denominator)
    )
    assert response.status_code == 201, response.text
    assert query("SELECT value, numerator, denominator FROM observation") == [
        (value, numerator, denominator)
    ]


async def test_a_count_metric_takes_a_value_alone(send, query):
    response = await send(
        observation(COUNT, "2025-07", value=5000),
        observation(COUNT, "2025-08", value="0"),
        observation(COUNT, "2025-09", value=2.0),  # a whole number written so
        observation(COUNT, "2025-10", value="1.2e3"),
    )
    assert response.status_code == 201, response.text
    assert query(
        "SELECT period, value, numerator, denominator, metric_version "
        "FROM observation ORDER BY period"
    ) == [
        ("2025-07", 5000.0, None, None, 1),
        ("2025-08", 0.0, None, None, 1),
        ("2025-09", 2.0, None, None, 1),
        ("2025-10", 1200.0, None, None, 1),
    ]


async def test_numbers_at_the_edges_of_the_bound_are_stored(send, query):
    edges = ["1e12", "-1e12", "1e-12", "-1e-12", "0"]
    response = await send(
        *(
            observation(SCORE, f"2024-{month:02}", value=value)
            for month, value in enumerate(edges, start=1)
        ),
        observation(period="2024-01", numerator="1e12", denominator="1e12"),
        observation(period="2024-02", numerator="1e-12", denominator=1),
    )
    assert response.status_code == 201, response.text
    assert query("SELECT value FROM observation WHERE metric_code = %s ORDER BY period", SCORE) == [
        (1e12,),
        (-1e12,),
        (1e-12,),
        (-1e-12,),
        (0.0,),
    ]
    assert query(
        "SELECT value FROM observation WHERE metric_code = %s ORDER BY period", DISCHARGE
    ) == [(100.0,), (pytest.approx(1e-10),)]


async def test_whitespace_around_csv_cells_and_header_names_is_tolerated(client, submitter, query):
    body = (
        " place_code , metric_code,period ,value,numerator,denominator,note\n"
        f"  {LEEDS} ,\t{DISCHARGE} , 2025-07 ,  , 912 ,\t1003\t,\n"
    )
    response = await post_body(client, submitter, body)
    assert response.status_code == 201, response.text
    assert query(
        "SELECT place_code, metric_code, period, numerator, denominator, note FROM observation"
    ) == [(LEEDS, DISCHARGE, "2025-07", 912.0, 1003.0, None)]


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "9" * 5000]
)
async def test_json_numbers_no_float_can_hold_are_row_errors(client, submitter, query, literal):
    body = (
        f'{{"place_code": "{LEEDS}", "observations": ['
        f'{{"metric_code": "{DISCHARGE}", "period": "2025-07", "numerator": 912, '
        f'"denominator": {literal}}}]}}'
    )
    response = await post_body(client, submitter, body, "application/json")
    assert_rejected(response, [(1, "denominator", "not_a_number", literal[:20])])
    assert query("SELECT count(*) FROM submission") == [(0,)]


@pytest.mark.parametrize(
    ("numerator", "denominator", "fields"),
    [
        ("1e300", "1e-300", ["numerator", "denominator"]),  # the ratio would overflow a float
        ("1e-300", "1e300", ["numerator", "denominator"]),  # and here underflow
        ("1e308", "1", ["numerator"]),  # times the multiplier would overflow
        ("1e12", "1e-12", ["value"]),  # within the bound, but the ratio is not
    ],
)
async def test_extreme_ratios_are_row_errors_not_server_errors(
    send, query, numerator, denominator, fields
):
    response = await send(observation(numerator=numerator, denominator=denominator))
    assert_rejected(response, [(1, field, "magnitude", "beyond the bound") for field in fields])
    assert query("SELECT count(*) FROM observation") == [(0,)]


async def test_a_metric_created_after_ingest_read_the_catalogue_is_known(
    client, submitter, database_url, make_key, query
):
    assert (
        await post_body(
            client, submitter, json_text(json_submission(observation())), "application/json"
        )
    ).status_code == 201
    admin = MetricsAdmin(database_url, await make_key("admin"))
    await admin.create(local_metric("leeds-new-measure"))
    response = await post_body(
        client,
        submitter,
        json_text(json_submission(observation("leeds-new-measure", "2025-07", value=4))),
        "application/json",
    )
    assert response.status_code == 201, response.text
    assert query("SELECT count(*) FROM observation") == [(2,)]


async def test_a_local_metric_applies_only_to_its_owner_and_the_places_of_its_owning_icb(
    send, query, catalogue
):
    icb_metric = "west-yorkshire-falls"
    await catalogue.create(local_metric(icb_metric, owner=WEST_YORKSHIRE))
    refused = await send(observation(COUNT, "2025-07", value=5), place=BRADFORD)
    assert_rejected(refused, [(1, "metric_code", "not_applicable", "local to E08000035")])
    accepted = await send(observation(icb_metric, "2025-07", value=5), place=BRADFORD)
    assert accepted.status_code == 201, accepted.text
    assert query("SELECT place_code, metric_code FROM observation") == [(BRADFORD, icb_metric)]
