"""A JSON submission's rows reach the row checks as a jsonb parameter, a CSV's through COPY:
the same observations must be stored as the same rows and refused with the same errors."""

from tests.ingest.support import csv_line, json_text, post_body
from tests.support.areas import BRADFORD, LEEDS
from tests.support.submissions import CSV_HEADER, DISCHARGE, FALLS, observation

# Valid rows and every kind of row error, with numbers as JSON numbers and as text, padded
# cells, quotes and newlines in a note, and a NUL that neither path can store.
OBSERVATIONS = [
    observation(),
    observation(period="2025-08", value=50.0, numerator=1, denominator=2),
    observation(period="2025-09", value="90.9", numerator=909, denominator="1000"),
    observation(period=" 2025-10 ", numerator=" 5 ", denominator="10\t"),
    observation(period="2025-11", value=12.0, numerator=1, denominator=2),
    observation(period="2025-12", numerator="abc", denominator=10),
    observation(period="2024-12", value="NaN", numerator=1, denominator=2),
    observation(FALLS, "2025-07", numerator=1, denominator=100),
    observation("no-such-metric", "2025-07", value=1),
    observation(period="2025-07", numerator=1, denominator=4),
    observation(FALLS, "2025-Q1", numerator=30, denominator=60000, note='a "quoted"\nnote'),
    observation(period="2024-01", numerator=1, denominator=2, note="x" * 1001),
    observation(period="2024-02", numerator=-1, denominator=2),
    observation(period="2024-03", numerator=1, denominator=2, note="a NUL \x00 here"),
    observation(period="2024-04", value="1e999", numerator=1, denominator=2),
    observation(period="2024-05", numerator=10**400, denominator=1),
    observation(period="2024-06", numerator=0, denominator=0, note=""),
    observation(DISCHARGE, "", numerator=1, denominator=2),
]


async def submit_both(client, submitter, mode: str):
    """The observations as JSON for Leeds and as CSV for Bradford (both in the key's scope)."""
    body = {"place_code": LEEDS, "mode": mode, "observations": OBSERVATIONS}
    as_json = await post_body(client, submitter, json_text(body), "application/json")
    as_csv = await post_body(
        client,
        submitter,
        CSV_HEADER + "".join(csv_line(obs, BRADFORD) for obs in OBSERVATIONS),
        mode=mode,
    )
    return as_json, as_csv


def stored(query, place: str) -> list[tuple]:
    return query(
        "SELECT metric_code, period, version, value, numerator, denominator, note, "
        "metric_version, superseded_at IS NULL FROM observation WHERE place_code = %s "
        "ORDER BY metric_code, period, version",
        place,
    )


def row_errors(errors: list[dict]) -> list[dict]:
    """The errors without ``loc``, which names the row as each format does (by design)."""
    return [{k: e[k] for k in ("row", "field", "code", "msg")} for e in errors]


async def test_json_and_csv_store_the_same_rows_and_report_the_same_errors(
    client, submitter, query
):
    as_json, as_csv = await submit_both(client, submitter, "partial")
    assert as_json.status_code == as_csv.status_code == 201, (as_json.text, as_csv.text)
    json_body, csv_body = as_json.json(), as_csv.json()
    assert len(json_body["errors"]) >= 12
    assert json_body["errors"] == csv_body["errors"]
    for field in ("status", "accepted", "rejected", "superseded", "unchanged", "error_count"):
        assert json_body[field] == csv_body[field], field
    assert json_body["accepted"] == 5
    rows = stored(query, LEEDS)
    assert len(rows) == 5
    assert rows == stored(query, BRADFORD)


async def test_an_atomic_refusal_reports_the_same_errors_in_either_format(client, submitter, query):
    as_json, as_csv = await submit_both(client, submitter, "atomic")
    assert as_json.status_code == as_csv.status_code == 422, (as_json.text, as_csv.text)
    json_problem, csv_problem = as_json.json(), as_csv.json()
    assert row_errors(json_problem["errors"]) == row_errors(csv_problem["errors"])
    assert json_problem["rejected"] == csv_problem["rejected"] == len(OBSERVATIONS) - 5
    assert query("SELECT count(*) FROM observation") == [(0,)]


async def test_plain_csv_lines_and_quoted_ones_stage_the_same(client, submitter, query):
    """Lines with no quote are staged by string operations, others by the csv module: the same
    records give the same rows and the same errors either way (padding, blank lines, too few
    or too many columns)."""
    records = [
        f"{{place}},{DISCHARGE},2025-07,,912,1003,",
        "",
        f"{{place}},{DISCHARGE}, 2025-08 ,50.0,1,2,a note",
        f"{{place}},{DISCHARGE},2025-09,,1,2",
        f"{{place}},{DISCHARGE},2025-10,,1,2,,extra",
        f"{{place}},{DISCHARGE},2025-11,,abc,2,",
        "   ",
        f"{{place}},{FALLS},2025-Q1,,30,60000,",
    ]
    plain = CSV_HEADER + "".join(r.format(place=LEEDS) + "\n" for r in records)
    quoted = CSV_HEADER + "".join(r.format(place=f'"{BRADFORD}"') + "\n" for r in records)
    as_plain = await post_body(client, submitter, plain, mode="partial")
    as_quoted = await post_body(client, submitter, quoted, mode="partial")
    assert as_plain.status_code == as_quoted.status_code == 201, (as_plain.text, as_quoted.text)
    assert [e["code"] for e in as_plain.json()["errors"]] == [
        "column_count",
        "column_count",
        "not_a_number",
        "column_count",
    ]
    assert as_plain.json()["errors"] == as_quoted.json()["errors"]
    assert as_plain.json()["accepted"] == 3
    assert stored(query, LEEDS) == stored(query, BRADFORD)
