"""What ingest's FHIR routes take and answer: examples for OpenAPI and the CapabilityStatement.
The resources themselves are fhir.resources' R4B models (mapping.py)."""

from services.common import fhir

MEASURE_REPORT_EXAMPLE = {
    "resourceType": "MeasureReport",
    "status": "complete",
    "type": "summary",
    "measure": fhir.measure_url("bcf-discharge-usual-residence"),
    "subject": {"identifier": {"system": fhir.ONS_AREA_SYSTEM, "value": "E08000035"}},
    "period": {"start": "2025-07-01", "end": "2025-07-31"},
    "group": [
        {
            "population": [
                {"code": {"coding": [{"code": "numerator"}]}, "count": 912},
                {"code": {"coding": [{"code": "denominator"}]}, "count": 1003},
            ]
        }
    ],
}
BUNDLE_EXAMPLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "identifier": {"system": "urn:example:leeds", "value": "2025-07"},
    "entry": [
        {"resource": MEASURE_REPORT_EXAMPLE, "request": {"method": "POST", "url": "MeasureReport"}}
    ],
}
CAPABILITIES = fhir.capability_statement(
    software="ingest",
    batch=True,
    resources=[
        {
            "type": "MeasureReport",
            "interaction": [{"code": "create"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "subject", "type": "token", "documentation": "the place's ONS code"},
                {"name": "measure", "type": "reference", "documentation": "canonical or code"},
                {"name": "period", "type": "string", "documentation": "a period code"},
            ],
        }
    ],
)
