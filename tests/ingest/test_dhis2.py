"""DHIS2 dataValueSets on ingest: translated to a native submission and taken by it, so the same
observations are stored as the same rows and refused with the same row errors either way."""

import csv
import io
import json

import pytest

from services.ingest.dhis2 import periods
from services.ingest.dhis2.schemas import CSV_COLUMNS
from tests.ingest.support import dhis2_of, post_body
from tests.support.areas import BRADFORD, CORNWALL, LEEDS
from tests.support.submissions import CSV_HEADER, DISCHARGE, FALLS

ADMISSIONS = "bcf-avoidable-admissions"  # rate x100000, quarterly
REABLEMENT = "bcf-reablement-91-days"  # proportion x100, annual
URL = "/v1/dhis2/dataValueSets"


@pytest.mark.parametrize(
    ("dhis2", "native"),
    [("202507", "2025-07"), ("2025Q2", "2025-Q2"), ("2025", "2025"), ("2025April", "FY2025-26")],
)
def test_periods_map_both_ways(dhis2, native):
    assert periods.to_native(dhis2) == native
    assert periods.to_dhis2(native) == dhis2


@pytest.mark.parametrize("code", ["2025W27", "2025-07", "FY2025-26", "2025AprilS1", ""])
def test_other_codes_pass_through_for_the_period_check_to_judge(code):
    assert periods.to_native(code) == code


def ratio(metric, period, numerator, denominator, place=None, value=None, comment=None):
    """A proportion or rate as DHIS2 sends it: its parts under their category option combos."""
    where = {"dataElement": metric, "period": period} | ({"orgUnit": place} if place else {})
    values = [
        {**where, "categoryOptionCombo": "numerator", "value": numerator},
        {**where, "categoryOptionCombo": "denominator", "value": denominator},
    ]
    if value is not None:
        values.insert(0, {**where, "value": value})
    if comment is not None:
        values[0]["comment"] = comment
    return values


# A month of Leeds's returns: July's discharges, the second quarter's admissions, last
# year's reablement; with the value given beside its parts once, and a comment.
MONTH = [
    *ratio(DISCHARGE, "202507", "912", "1003", comment="SUS extract"),
    *ratio(FALLS, "2025Q2", 410, 140000),
    *ratio(ADMISSIONS, "2025Q2", "300", "800000", value="37.5"),
    *ratio(REABLEMENT, "2025", "80", "100"),
]
MONTH_NATIVE = [
    (DISCHARGE, "2025-07", 912, 1003, "SUS extract"),
    (FALLS, "2025-Q2", 410, 140000, None),
    (ADMISSIONS, "2025-Q2", 300, 800000, None),
    (REABLEMENT, "2025", 80, 100, None),
]


def as_csv(values, place=LEEDS):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for v in values:
        writer.writerow(
            [
                v["dataElement"],
                v["period"],
                v.get("orgUnit", place),
                v.get("categoryOptionCombo", ""),
                "",
                v["value"],
                "",
                "",
                v.get("comment", ""),
            ]
        )
    return buffer.getvalue()


async def post(client, key, body, content_type="application/json", **params):
    content = json.dumps(body) if content_type == "application/json" else body
    return await client.post(
        URL, content=content, headers={**key, "Content-Type": content_type}, params=params
    )


def stored(query, place):
    return query(
        "SELECT metric_code, period, version, value, numerator, denominator, note, "
        "superseded_at IS NULL FROM observation WHERE place_code = %s "
        "ORDER BY metric_code, period, version",
        place,
    )


async def test_a_month_as_json_and_as_csv_is_stored_and_exported_back(client, submitter, query):
    as_json = await post(client, submitter, {"orgUnit": LEEDS, "dataValues": MONTH})
    assert as_json.status_code == 200, as_json.text
    summary = as_json.json()
    assert summary["status"] == "SUCCESS"
    assert summary["importCount"] == {"imported": 4, "updated": 0, "ignored": 0, "deleted": 0}
    assert summary["conflicts"] == []
    submission = query(
        "SELECT format, accepted FROM submission WHERE id = %s", summary["reference"]
    )
    assert submission == [("csv", 4)]
    rows = [(m, p, n, d, note) for m, p, _, _, n, d, note, _ in stored(query, LEEDS)]
    assert rows == sorted(MONTH_NATIVE)

    as_csv_file = await post(client, submitter, as_csv(MONTH, BRADFORD), "application/csv")
    assert as_csv_file.json()["importCount"]["imported"] == 4, as_csv_file.text
    assert stored(query, BRADFORD) == stored(query, LEEDS)

    exported = await client.get(URL, params={"orgUnit": LEEDS}, headers=submitter)
    assert exported.status_code == 200, exported.text
    values = exported.json()["dataValues"]
    discharge = [v for v in values if v["dataElement"] == DISCHARGE]
    assert [(v["period"], v["categoryOptionCombo"], v["value"]) for v in discharge] == [
        ("202507", None, repr(912 / 1003 * 100)[:16]),
        ("202507", "numerator", "912"),
        ("202507", "denominator", "1003"),
    ]
    # The export read back is the same data: every value unchanged, nothing new stored.
    again = await post(client, submitter, {"dataValues": values})
    assert again.json()["importCount"] == {"imported": 0, "updated": 0, "ignored": 4, "deleted": 0}
    assert query("SELECT count(*) FROM observation") == [(8,)]
    one = await client.get(
        URL, params={"orgUnit": LEEDS, "dataSet": FALLS, "period": "2025Q2"}, headers=submitter
    )
    assert {v["dataElement"] for v in one.json()["dataValues"]} == {FALLS}
    as_file = await client.get(
        URL, params={"orgUnit": LEEDS}, headers={**submitter, "Accept": "text/csv"}
    )
    records = list(csv.reader(io.StringIO(as_file.text)))
    assert records[0] == list(CSV_COLUMNS)
    reimported = await post(client, submitter, as_file.text, "application/csv", dryRun="true")
    assert reimported.json()["importCount"]["ignored"] == 4, reimported.text


async def dry_run_writes_nothing_and_answers_as_the_import_would(client, submitter, query):
    dry = await post(client, submitter, {"orgUnit": LEEDS, "dataValues": MONTH}, dryRun="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["importCount"]["imported"] == 4
    assert dry.json()["reference"] is None
    assert query("SELECT count(*) FROM observation") == [(0,)]
    assert query("SELECT count(*) FROM submission") == [(0,)]
    assert query("SELECT count(*) FROM outbox") == [(0,)]


async def test_import_strategies_decide_which_values_are_written(client, submitter, query):
    july = ratio(DISCHARGE, "202507", 900, 1000, LEEDS)
    august = ratio(DISCHARGE, "202508", 500, 1000, LEEDS)
    assert (await post(client, submitter, {"dataValues": july})).json()["importCount"][
        "imported"
    ] == 1
    corrected_july = ratio(DISCHARGE, "202507", 950, 1000, LEEDS)

    update = await post(
        client, submitter, {"dataValues": corrected_july + august}, importStrategy="UPDATE"
    )
    assert update.json()["importCount"] == {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0}
    create = await post(
        client,
        submitter,
        {"dataValues": ratio(DISCHARGE, "202507", 1, 1000, LEEDS) + august},
        importStrategy="CREATE",
    )
    assert create.json()["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    assert [(p, v, n, current) for _, p, v, _, n, _, _, current in stored(query, LEEDS)] == [
        ("2025-07", 1, 900, False),
        ("2025-07", 2, 950, True),
        ("2025-08", 1, 500, True),
    ]
    nothing = await post(client, submitter, {"dataValues": august}, importStrategy="CREATE")
    assert nothing.status_code == 200
    assert nothing.json()["importCount"]["ignored"] == 1
    refused = await post(client, submitter, {"dataValues": july}, importStrategy="DELETE")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["query", "importStrategy"]


# Observations with row errors of several kinds, each once natively and once as DHIS2.
BAD = [
    (DISCHARGE, "2025-09", "", "909", "1000"),
    (DISCHARGE, "2025-10", "", "abc", "10"),
    ("no-such-metric", "2025-07", "1", "", ""),
    (FALLS, "2025-07", "", "1", "100"),
    (DISCHARGE, "2025-11", "12", "1", "2"),
    (DISCHARGE, "2025-09", "", "1", "2"),
    (DISCHARGE, "2025-12", "", "1", "0"),
    (DISCHARGE, "2027-01", "", "1", "2"),
]


async def test_natively_and_as_dhis2_the_same_rows_are_stored_and_refused(client, submitter, query):
    native = CSV_HEADER + "".join(f"{LEEDS},{m},{p},{v},{n},{d},\n" for m, p, v, n, d in BAD)
    as_native = await post_body(client, submitter, native, mode="partial")
    assert as_native.status_code == 201, as_native.text
    dhis2 = [value for row in BAD for value in dhis2_of(*row)]
    as_dhis2 = await post(client, submitter, {"orgUnit": BRADFORD, "dataValues": dhis2})
    assert as_dhis2.status_code == 200, as_dhis2.text
    summary = as_dhis2.json()
    assert summary["status"] == "WARNING"
    errors = as_native.json()["errors"]
    assert len(errors) == 7
    assert [(c["row"], c["errorCode"], c["value"]) for c in summary["conflicts"]] == [
        (e["row"], e["code"], e["msg"]) for e in errors
    ]
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 7, "deleted": 0}
    assert stored(query, LEEDS) == stored(query, BRADFORD)
    # Each conflict names the data values at fault, as DHIS2 counts them.
    by_code = {c["errorCode"]: c for c in summary["conflicts"]}
    assert by_code["not_a_number"]["indexes"] == [2]  # the numerator "abc"
    assert by_code["not_a_number"]["property"] == "value"
    assert by_code["unknown_metric"]["property"] == "dataElement"
    assert by_code["wrong_periodicity"]["object"] == "2025-07"
    assert by_code["not_positive"]["indexes"] == [13]


async def test_dry_run_and_atomic_mode_all_write_nothing(client, submitter, query):
    """One database for both (each of this file's tests costs a fresh one)."""
    await dry_run_writes_nothing_and_answers_as_the_import_would(client, submitter, query)
    body = {"orgUnit": LEEDS, "dataValues": MONTH + ratio(DISCHARGE, "202510", "abc", "10")}
    refused = await post(client, submitter, body, atomicMode="ALL")
    assert refused.status_code == 409, refused.text
    assert refused.json()["status"] == "ERROR"
    assert [c["errorCode"] for c in refused.json()["conflicts"]] == ["not_a_number"]
    assert refused.json()["importCount"]["ignored"] == 5
    assert query("SELECT count(*) FROM observation") == [(0,)]


async def test_scope_idempotency_and_bad_requests_are_the_submissions_own(client, submitter, query):
    await unstorable_text_and_unreadable_csv_are_answered_not_failed(client, submitter)
    other = await post(
        client, submitter, {"dataValues": ratio(DISCHARGE, "202507", 1, 2, CORNWALL)}
    )
    assert other.status_code == 403, other.text
    body = {"orgUnit": LEEDS, "dataValues": MONTH}
    key = {**submitter, "Idempotency-Key": "dhis2-month-1"}
    first = await post(client, key, body, importStrategy="CREATE")
    retry = await post(client, key, body, importStrategy="CREATE")
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["reference"] == first.json()["reference"]
    assert retry.json()["importCount"] == first.json()["importCount"]
    assert query("SELECT count(*) FROM observation") == [(4,)]
    changed = await post(client, key, {"orgUnit": LEEDS, "dataValues": MONTH[:2]})
    assert changed.status_code == 409
    assert changed.headers["content-type"] == "application/problem+json"
    for content, content_type, where in [
        ("{", "application/json", []),
        (json.dumps({"dataValues": [{"dataElement": 5}]}), "application/json", "dataValues"),
        (json.dumps({"dataValues": []}), "application/json", ["dataValues"]),
    ]:
        bad = await client.post(
            URL, content=content, headers={**submitter, "Content-Type": content_type}
        )
        assert bad.status_code == 422, bad.text
        loc = bad.json()["errors"][0]["loc"]
        assert loc == where if isinstance(where, list) else loc[0] == where
    short = await post(client, submitter, "dataelement,period\nx,202507\n", "text/csv")
    assert short.status_code == 409
    assert short.json()["conflicts"][0]["errorCode"] == "column_count"
    no_period = await client.get(
        URL, params={"orgUnit": LEEDS, "period": "2025W1"}, headers=submitter
    )
    assert no_period.status_code == 422
    assert no_period.json()["errors"][0]["loc"] == ["query", "period"]


async def unstorable_text_and_unreadable_csv_are_answered_not_failed(client, submitter):
    header = ",".join(CSV_COLUMNS) + "\n"
    nul = header + f"{DISCHARGE},202507,{LEEDS},numerator,,1,,,a NUL \x00 here\n"
    nul += f"{DISCHARGE},202507,{LEEDS},denominator,,2\n"
    answered = await post(client, submitter, nul, "text/csv")
    assert answered.status_code == 409, answered.text
    assert [c["errorCode"] for c in answered.json()["conflicts"]] == ["encoding"]
    huge = header + f'{DISCHARGE},202507,{LEEDS},,,"{"9" * (1 << 18)}"\n'
    refused = await post(client, submitter, huge, "text/csv")
    assert refused.status_code == 422, refused.text[:300]
    assert refused.headers["content-type"] == "application/problem+json"
