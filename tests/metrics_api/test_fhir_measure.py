"""Metrics as FHIR Measures (issue 20): read, searched and versioned, every answer validated
by fhir.resources' R4B models; errors are OperationOutcomes."""

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.common.fhir import FHIR_MEDIA_TYPE, measure_url
from tests.metrics_api.support import local_metric
from tests.support.submissions import DISCHARGE, FALLS


def codes(concept) -> list[str]:
    return [c.code for c in concept.coding]


async def test_metrics_read_and_searched_as_measures(client, as_admin):
    response = await client.get(f"/fhir/Measure/{DISCHARGE}", headers=as_admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR_MEDIA_TYPE
    discharge = Measure.model_validate(response.json())
    assert (discharge.url, discharge.version, discharge.name) == (
        measure_url(DISCHARGE),
        "1",
        DISCHARGE,
    )
    assert codes(discharge.scoring) == ["proportion"]
    assert codes(discharge.improvementNotation) == ["increase"]
    assert [codes(p.code) for p in discharge.group[0].population] == [
        ["numerator"],
        ["denominator"],
    ]
    falls = Measure.model_validate(
        (await client.get(f"/fhir/Measure/{FALLS}", headers=as_admin)).json()
    )
    assert codes(falls.scoring) == ["ratio"]
    assert codes(falls.improvementNotation) == ["decrease"]
    spend = Measure.model_validate(
        (await client.get("/fhir/Measure/bcf-spend-carers", headers=as_admin)).json()
    )
    assert codes(spend.scoring) == ["continuous-variable"]
    assert spend.improvementNotation is None  # neutral

    # A new definition is version 2; version 1 stays readable, by id or by search.
    created = await client.post("/v1/metrics", json=local_metric(), headers=as_admin)
    assert created.status_code == 201, created.text
    changed = local_metric(name="People who fell at home, any cause")
    changed = {k: v for k, v in changed.items() if k not in ("code", "scope", "owner_area_code")}
    assert (
        await client.put("/v1/metrics/leeds-falls-at-home", json=changed, headers=as_admin)
    ).status_code == 200
    url = measure_url("leeds-falls-at-home")
    found = await client.get("/fhir/Measure", params={"url": url}, headers=as_admin)
    (entry,) = Bundle.model_validate(found.json()).entry
    assert entry.resource.version == "2"
    first = await client.get(
        "/fhir/Measure", params={"name": "leeds-falls-at-home", "version": 1}, headers=as_admin
    )
    (entry,) = Bundle.model_validate(first.json()).entry
    assert (entry.resource.version, entry.resource.title) == ("1", "People who fell at home")
    assert codes(entry.resource.scoring) == ["continuous-variable"]

    # Every metric, a page at a time, with the links to the next page.
    page = Bundle.model_validate(
        (await client.get("/fhir/Measure?limit=5", headers=as_admin)).json()
    )
    assert page.type == "searchset" and page.total > 5 and len(page.entry) == 5
    assert [link.relation for link in page.link] == ["self", "first", "next"]
    nothing = await client.get(
        "/fhir/Measure", params={"url": url, "name": DISCHARGE}, headers=as_admin
    )
    assert Bundle.model_validate(nothing.json()).total == 0
    CapabilityStatement.model_validate(
        (await client.get("/fhir/metadata", headers=as_admin)).json()
    )


async def test_measure_errors_are_operation_outcomes(client, as_admin):
    for path, headers, status, code in [
        (f"/fhir/Measure/{DISCHARGE}", {}, 401, "login"),
        ("/fhir/Measure/no-such-metric", as_admin, 404, "not-found"),
        (f"/fhir/Measure/{DISCHARGE}?version=99", as_admin, 404, "not-found"),
        ("/fhir/Measure?version=1", as_admin, 422, "invalid"),
        ("/fhir/Measure?limit=0", as_admin, 422, "invalid"),
    ]:
        response = await client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == FHIR_MEDIA_TYPE
        assert OperationOutcome.model_validate(response.json()).issue[0].code == code
