"""Every JSON request body, found from the three OpenAPI documents: a RequestBody, so that an
optional field sent as JSON null means the same as leaving it out (API.md amendments)."""

import pytest
from pydantic import ValidationError

from services.common.request_body import RequestBody
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import create_app as create_targets_api
from services.targets_api.spc.schemas import SpcRequest


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


# In name order: xdist workers must collect the same tests in the same order.
BODIES = {
    cls.__name__: cls for cls in sorted(_subclasses(RequestBody), key=lambda cls: cls.__name__)
}


def _request_body_names() -> set[str]:
    names = set()
    for create in (create_metrics_api, create_targets_api, create_ingest):
        document = create(database_url="postgresql://unused/unused").openapi()
        for operations in document["paths"].values():
            for operation in operations.values():
                for media_type, content in (
                    operation.get("requestBody", {}).get("content", {}).items()
                ):
                    if media_type == "application/fhir+json":
                        continue  # a FHIR resource: FHIR's rules, checked by fhir.resources
                    schema = content.get("schema", {})
                    if "$ref" in schema:
                        names.add(schema["$ref"].rsplit("/", 1)[-1])
                    elif schema.get("type") == "object":
                        names.add(schema["title"])
    return names


def test_every_json_request_body_is_a_request_body():
    names = _request_body_names()
    assert len(names) >= 10
    assert names <= set(BODIES), f"not RequestBody subclasses: {sorted(names - set(BODIES))}"


OPTIONAL_FIELDS = [
    (cls, field.alias or name)
    for cls in BODIES.values()
    for name, field in cls.model_fields.items()
    if not field.is_required()
]


@pytest.mark.parametrize(
    ("body", "field"),
    OPTIONAL_FIELDS,
    ids=[f"{cls.__name__}.{field}" for cls, field in OPTIONAL_FIELDS],
)
def test_an_optional_field_sent_as_null_is_as_if_left_out(body, field):
    def errors_at_field(document: dict) -> list:
        try:
            body.model_validate(document)
        except ValidationError as error:
            return [e for e in error.errors() if e["loc"][:1] == (field,)]
        return []

    # Other fields may be missing (those errors are not this test's); none may be at `field`.
    assert errors_at_field({field: None}) == errors_at_field({})
    assert errors_at_field({field: None}) == []


def test_null_is_refused_where_a_field_is_required():
    with pytest.raises(ValidationError) as raised:
        SpcRequest.model_validate({"values": None, "improvement_direction": "increase"})
    assert raised.value.errors()[0]["loc"] == ("values",)
    assert (
        SpcRequest.model_validate(
            {
                "values": [1.0],
                "improvement_direction": "increase",
                "rebase_at_indices": None,
                "screen_outliers": None,
                "fix_after_n_points": None,
                "target": None,
            }
        ).rebase_at_indices
        == []
    )
