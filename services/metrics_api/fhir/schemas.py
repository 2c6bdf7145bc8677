"""What metrics_api's FHIR routes answer besides Measures (mapping.py): its CapabilityStatement."""

from services.common import fhir

CAPABILITIES = fhir.capability_statement(
    software="metrics_api",
    resources=[
        {
            "type": "Measure",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "url", "type": "uri", "documentation": "the canonical URL"},
                {"name": "name", "type": "string", "documentation": "the metric code"},
                {"name": "version", "type": "token", "documentation": "with url or name"},
                {"name": "status", "type": "token", "documentation": "active or retired"},
            ],
        }
    ],
)
