"""FHIR MeasureReports through ingest (issue 20): a Bundle of a month of a place's data taken
and read back as MeasureReports that fhir.resources validates; the same observations sent
natively and as FHIR stored as the same rows and refused with the same row errors; idempotency
by Bundle.identifier or Idempotency-Key; OperationOutcome for every refusal, auth's too."""

import json
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.common.fhir import FHIR_MEDIA_TYPE, measure_url
from services.ingest.fhir.mapping import NATIVE_PATHS
from tests.ingest.support import dhis2_of, json_text, post_body
from tests.support.areas import BRADFORD, CALDERDALE, CORNWALL, LEEDS
from tests.support.clients import bearer
from tests.support.submissions import DISCHARGE, FALLS
from tests.support.submissions import fhir_bundle as bundle
from tests.support.submissions import measure_report as report

FHIR = {"Content-Type": FHIR_MEDIA_TYPE}
AVOIDABLE = "bcf-avoidable-admissions"
SPEND = "bcf-spend-home-care"


def month_of(place: str) -> list[dict]:
    """What a place sends in August 2025: July's discharges, the second quarter's admissions
    and spend to date."""
    return [
        report(place, DISCHARGE, "2025-07", numerator=912, denominator=1003),
        report(place, FALLS, "2025-Q2", numerator=410, denominator=152000),
        report(place, AVOIDABLE, "2025-Q2", numerator=300, denominator=152000),
        report(place, SPEND, "2025-Q2", value=1250000.5),
    ]


async def post_fhir(client, headers, path: str, body, **more_headers):
    return await client.post(
        path, content=json_text(body), headers={**headers, **FHIR, **more_headers}
    )


def outcome(response, status: int) -> OperationOutcome:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_MEDIA_TYPE
    return OperationOutcome.model_validate(response.json())


async def test_a_transaction_of_a_month_is_stored_and_read_back_as_measure_reports(
    client, submitter
):
    sent = month_of(LEEDS)
    response = await post_fhir(client, submitter, "/fhir", bundle(*sent))
    assert response.status_code == 200, response.text
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    assert [e.response.status for e in answer.entry] == ["201 Created"] * len(sent)
    assert response.headers["location"].startswith("/v1/submissions/")

    # Two to a page: the links lead through every report, and fhir.resources validates each.
    found, url = [], f"/fhir/MeasureReport?subject={LEEDS}&limit=2"
    while url:
        page = await client.get(url, headers=submitter)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == FHIR_MEDIA_TYPE
        searchset = Bundle.model_validate(page.json())
        assert searchset.type == "searchset" and searchset.total == len(sent)
        found += [MeasureReport.model_validate(e.resource.model_dump()) for e in searchset.entry]
        following = [link.url for link in searchset.link if link.relation == "next"]
        url = following[0].removeprefix("http://testserver") if following else None
    assert len(found) == len(sent)
    by_measure = {r.measure.split("|")[0]: r for r in found}
    discharge = by_measure[measure_url(DISCHARGE)]
    assert discharge.subject.identifier.value == LEEDS
    assert (discharge.period.start.isoformat(), discharge.period.end.isoformat()) == (
        "2025-07-01",
        "2025-07-31",
    )
    counts = {p.code.coding[0].code: p.count for p in discharge.group[0].population}
    assert counts == {"numerator": 912, "denominator": 1003}
    assert round(discharge.group[0].measureScore.value, 2) == Decimal("90.93")
    assert by_measure[measure_url(SPEND)].group[0].measureScore.value == Decimal("1250000.5")

    # A correction is a new version; the search reads the current one.
    corrected = report(LEEDS, DISCHARGE, "2025-07", numerator=915, denominator=1003)
    response = await post_fhir(client, submitter, "/fhir/MeasureReport", corrected)
    assert response.status_code == 201, response.text
    MeasureReport.model_validate(response.json())
    page = await client.get(
        "/fhir/MeasureReport",
        params={"subject": LEEDS, "measure": measure_url(DISCHARGE), "period": "2025-07"},
        headers=submitter,
    )
    (entry,) = Bundle.model_validate(page.json()).entry
    assert entry.resource.meta.versionId == "2"
    assert entry.resource.group[0].population[0].count == 915


# Valid rows and row errors a MeasureReport can carry: a value that disagrees with its counts,
# a period not yet ended, a metric that does not exist, a quarterly metric given a month, a
# zero denominator, a count with no denominator, a value out of range.
NATIVE = [
    {"metric_code": DISCHARGE, "period": "2025-07", "numerator": 912, "denominator": 1003},
    {
        "metric_code": DISCHARGE,
        "period": "2025-08",
        "value": 12.0,
        "numerator": 1,
        "denominator": 2,
    },
    {"metric_code": DISCHARGE, "period": "2099-01", "numerator": 1, "denominator": 2},
    {"metric_code": "no-such-metric", "period": "2025-07", "value": 1},
    {"metric_code": FALLS, "period": "2025-07", "numerator": 1, "denominator": 100},
    {"metric_code": DISCHARGE, "period": "2025-09", "numerator": 0, "denominator": 0},
    {"metric_code": DISCHARGE, "period": "2025-10", "numerator": 5},
    {"metric_code": FALLS, "period": "2025-Q1", "numerator": 30, "denominator": 60000},
    {"metric_code": SPEND, "period": "2025-Q2", "value": 1e300},
    {"metric_code": SPEND, "period": "2025-Q1", "value": 1250.25},
]


def as_reports(place: str) -> list[dict]:
    return [
        report(
            place,
            o["metric_code"],
            o["period"],
            value=o.get("value"),
            numerator=o.get("numerator"),
            denominator=o.get("denominator"),
        )
        for o in NATIVE
    ]


_FIELDS = {path.removeprefix("MeasureReport"): field for field, path in NATIVE_PATHS.items()}


def fhir_row_errors(issues) -> list[dict]:
    """OperationOutcome issues as native row errors: the entry is the row, the element the
    field (the inverse of mapping.NATIVE_PATHS)."""
    errors = []
    for issue in issues:
        if not issue.expression:
            continue  # the outcome's summary
        (where,) = issue.expression
        entry, _, element = where.removeprefix("Bundle.entry[").partition("].resource")
        errors.append(
            {
                "row": int(entry) + 1,
                "field": _FIELDS[element],
                "code": issue.details.coding[0].code,
                "msg": issue.diagnostics,
            }
        )
    return errors


def stored(query, place: str) -> list[tuple]:
    return query(
        "SELECT metric_code, period, version, value, numerator, denominator, note, "
        "metric_version, superseded_at IS NULL FROM observation WHERE place_code = %s "
        "ORDER BY metric_code, period, version",
        place,
    )


async def test_native_and_fhir_store_the_same_rows_and_report_the_same_row_errors(
    client, submitter, query
):
    native = await post_body(
        client,
        submitter,
        json_text({"place_code": LEEDS, "mode": "partial", "observations": NATIVE}),
        "application/json",
    )
    assert native.status_code == 201, native.text
    batch = await post_fhir(client, submitter, "/fhir", bundle(*as_reports(BRADFORD), kind="batch"))
    assert batch.status_code == 200, batch.text
    answer = Bundle.model_validate(batch.json())
    assert answer.type == "batch-response"
    fhir_errors = [
        error
        for entry in answer.entry
        if entry.response.outcome is not None
        for error in fhir_row_errors(entry.response.outcome.issue)
    ]
    native_errors = [
        {k: e[k] for k in ("row", "field", "code", "msg")} for e in native.json()["errors"]
    ]
    assert len(native_errors) >= 6
    assert fhir_errors == native_errors
    failed = {e["row"] for e in native_errors}
    assert [e.response.status for e in answer.entry] == [
        "422 Unprocessable Entity" if row in failed else "201 Created"
        for row in range(1, len(NATIVE) + 1)
    ]
    assert stored(query, LEEDS) == stored(query, BRADFORD)
    assert len(stored(query, LEEDS)) == len(NATIVE) - len(failed)

    # The third standard, DHIS2's dataValueSets, for a third place: the same rows, the same
    # row errors (issue 20, point 4).
    values = [
        value
        for o in NATIVE
        for value in dhis2_of(
            o["metric_code"],
            o["period"],
            *(json_text(o[k]) if k in o else "" for k in ("value", "numerator", "denominator")),
        )
    ]
    dhis2 = await client.post(
        "/v1/dhis2/dataValueSets",
        content=json_text({"orgUnit": CALDERDALE, "dataValues": values}),
        headers={**submitter, "Content-Type": "application/json"},
    )
    assert dhis2.status_code == 200, dhis2.text
    assert [(c["row"], c["errorCode"], c["value"]) for c in dhis2.json()["conflicts"]] == [
        (e["row"], e["code"], e["msg"]) for e in native_errors
    ]
    assert stored(query, CALDERDALE) == stored(query, LEEDS)

    # As a transaction (atomic): refused whole, with the same errors, nothing more stored.
    native = await post_body(
        client,
        submitter,
        json_text({"place_code": LEEDS, "observations": NATIVE}),
        "application/json",
    )
    transaction = await post_fhir(client, submitter, "/fhir", bundle(*as_reports(BRADFORD)))
    assert native.status_code == 422
    refused = outcome(transaction, 422)
    assert fhir_row_errors(refused.issue) == [
        {k: e[k] for k in ("row", "field", "code", "msg")} for e in native.json()["errors"]
    ]
    assert stored(query, LEEDS) == stored(query, BRADFORD)


async def test_a_bundle_identifier_or_idempotency_key_makes_a_retry_a_replay(
    client, submitter, query
):
    body = bundle(*month_of(LEEDS), identifier="leeds-2025-08")
    first = await post_fhir(client, submitter, "/fhir", body)
    again = await post_fhir(client, submitter, "/fhir", body)
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert query("SELECT count(*), max(version) FROM observation") == [(4, 1)]
    assert query("SELECT count(*) FROM submission") == [(1,)]

    changed = bundle(*month_of(LEEDS)[:2], identifier="leeds-2025-08")
    conflict = outcome(await post_fhir(client, submitter, "/fhir", changed), 409)
    assert conflict.issue[0].code == "conflict"

    single = report(LEEDS, DISCHARGE, "2025-08", numerator=1, denominator=2)
    key = {"Idempotency-Key": "leeds-discharge-2025-08"}
    first = await post_fhir(client, submitter, "/fhir/MeasureReport", single, **key)
    again = await post_fhir(client, submitter, "/fhir/MeasureReport", single, **key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert query("SELECT count(*) FROM submission") == [(2,)]


async def test_bad_input_and_refused_keys_get_an_operation_outcome_naming_where(
    client, submitter, make_key, query
):
    good = report(LEEDS, DISCHARGE, "2025-07", numerator=1, denominator=2)
    # Not JSON; the wrong media type; a Bundle of the wrong type; an entry that is no report.
    assert outcome(
        await client.post("/fhir", content=b"{not json", headers={**submitter, **FHIR}), 422
    ).issue[1].expression == ["Bundle"]
    wrong_type = await client.post(
        "/fhir/MeasureReport",
        content=json.dumps(good),
        headers={**submitter, "Content-Type": "text/csv"},
    )
    assert outcome(wrong_type, 415).issue[0].code == "not-supported"
    collection = {**bundle(good), "type": "collection"}
    issues = outcome(await post_fhir(client, submitter, "/fhir", collection), 422).issue
    assert issues[1].expression == ["Bundle.type"]
    bad_entry = bundle(good, {**good, "period": {"start": "2025-07-01", "end": "2025-07-30"}})
    issues = outcome(await post_fhir(client, submitter, "/fhir", bad_entry), 422).issue
    assert [(i.expression, i.details.coding[0].code) for i in issues[1:]] == [
        (["Bundle.entry[1].resource.period"], "not_a_period")
    ]
    # A report the R4B model refuses: its first error, by FHIRPath.
    no_period = {k: v for k, v in good.items() if k != "period"}
    issues = outcome(
        await post_fhir(client, submitter, "/fhir/MeasureReport", no_period), 422
    ).issue
    assert issues[1].expression == ["MeasureReport.period"]
    # Auth: no key 401, a viewer 403, a place out of the key's scope 403; nothing stored.
    assert (
        outcome(
            await client.post("/fhir/MeasureReport", content=json.dumps(good), headers=FHIR), 401
        )
        .issue[0]
        .code
        == "login"
    )
    viewer = bearer(await make_key("viewer"))
    assert outcome(await post_fhir(client, viewer, "/fhir", bundle(good)), 403)
    cornwall = report(CORNWALL, DISCHARGE, "2025-07", numerator=1, denominator=2)
    assert outcome(await post_fhir(client, submitter, "/fhir", bundle(good, cornwall)), 403)
    assert query("SELECT count(*) FROM observation") == [(0,)]
    # Reads: a bad period, an unknown route; a submitter reads only its own places.
    bad_period = await client.get("/fhir/MeasureReport?period=2025-13", headers=submitter)
    assert outcome(bad_period, 422).issue[1].expression == ["query.period"]
    assert outcome(await client.get("/fhir/Patient", headers=submitter), 404)
    cornwall_reads = await client.get(f"/fhir/MeasureReport?subject={CORNWALL}", headers=submitter)
    assert outcome(cornwall_reads, 403).issue[0].code == "forbidden"
    assert outcome(await client.get("/fhir/metadata"), 401)
    capabilities = await client.get("/fhir/metadata", headers=submitter)
    assert capabilities.json()["resourceType"] == "CapabilityStatement"
