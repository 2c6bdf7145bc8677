"""What the FHIR R4 routes of every service share (issue 20): the media type, the canonical
URLs of joinedup's Measures, OperationOutcome for every error on a /fhir route, searchset
Bundles with paging links, and the CapabilityStatement.

Every resource is a `fhir.resources.R4B` model, so what is sent has been validated against the
standard's own definitions; nothing here builds a resource as a bare dict. The imports of
fhir.resources are inside the functions that need them: errors.py calls this module from every
service's error handler, and the models take a moment to import, which a service that never
serves a FHIR route should not pay at start-up.
"""

import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.resource import Resource

FHIR_MEDIA_TYPE = "application/fhir+json"
FHIR_VERSION = "4.3.0"  # R4B, the models of fhir.resources.R4B
PREFIX = "/fhir"
# An identifier, not an address: canonical URLs name a Measure for good, wherever a service
# happens to run, so they are not built from the request's host.
CANONICAL_BASE = "https://joinedup.england.nhs.uk/fhir"
ONS_AREA_SYSTEM = "https://joinedup.england.nhs.uk/fhir/Id/ons-area-code"
ROW_ERROR_SYSTEM = "https://joinedup.england.nhs.uk/fhir/CodeSystem/row-error"
# Any canonical ending in /Measure/<code>, with an optional |version (FHIR's canonical form).
_MEASURE_CANONICAL = re.compile(r"(?:^|/)Measure/([A-Za-z0-9\-.]{1,64})(?:\|([^|]*))?$")

# OperationOutcome.issue.code (http://hl7.org/fhir/issue-type) for each status an error has.
_ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


# FHIR's string type is [ \r\n\t\S]+: any other white space (a vertical tab, U+2028) an error
# message quotes from a request would make the error's own OperationOutcome invalid.
_NOT_FHIR_SPACE = re.compile(r"[^\S \r\n\t]")


def fhir_text(text: str) -> str:
    """Text a FHIR string may hold: other white space as a space, never empty."""
    return _NOT_FHIR_SPACE.sub(" ", text) or "-"


def is_fhir_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def measure_url(code: str) -> str:
    return f"{CANONICAL_BASE}/Measure/{code}"


def measure_code(canonical: str) -> str | None:
    """The metric code a Measure canonical names (any base; a |version is not the code)."""
    match = _MEASURE_CANONICAL.search(canonical)
    return match.group(1) if match else None


def issue_type(status: int) -> str:
    return _ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing")


def operation_outcome(status: int, detail: str, errors: Sequence[Mapping[str, Any]] | None):
    """An OperationOutcome for an error: the detail as its first issue and one issue per
    error, each naming where it is (``expression``: a FHIRPath; else its ``loc``) and, for a
    row check, its code in joinedup's row-error code system."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    issues: list[dict[str, Any]] = [
        {"severity": "error", "code": issue_type(status), "diagnostics": fhir_text(detail)}
    ]
    for error in errors or ():
        issue: dict[str, Any] = {
            "severity": "error",
            "code": issue_type(status),
            "diagnostics": fhir_text(str(error.get("msg") or detail)),
        }
        if where := error.get("expression") or _loc_path(error.get("loc")):
            issue["expression"] = [fhir_text(where)]
        if code := error.get("code"):
            issue["details"] = {
                "coding": [{"system": ROW_ERROR_SYSTEM, "code": fhir_text(str(code))}]
            }
        issues.append(issue)
    return OperationOutcome.model_validate({"issue": issues})


def _loc_path(loc: Any) -> str | None:
    """A framework error's ``loc`` (["query", "limit"]) as a dotted path."""
    if not loc:
        return None
    return ".".join(str(part) for part in loc)


def render(resource: "Resource") -> bytes:
    return resource.model_dump_json(exclude_none=True).encode()


class FhirResponse(Response):
    """A route's response class, so its OpenAPI says application/fhir+json."""

    media_type = FHIR_MEDIA_TYPE


def fhir_response(
    resource: "Resource", *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return FhirResponse(render(resource), status_code=status_code, headers=dict(headers or {}))


# OpenAPI's view of a FHIR resource: the R4B definitions are the schema, and fhir.resources
# validates against them; a JSON object here keeps the document small.
RESOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}


def fhir_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a FHIR route's answers, errors included (each an OperationOutcome)."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {FHIR_MEDIA_TYPE: {"schema": RESOURCE_SCHEMA}},
        }
        for status in statuses
    }


def outcome_response(
    status: int,
    detail: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to any error on a /fhir route (services/common/errors.py routes them here)."""
    return fhir_response(
        operation_outcome(status, detail, errors), status_code=status, headers=headers
    )


def status_line(status: int) -> str:
    """Bundle.entry.response.status: the code and its phrase, as FHIR's examples write it."""
    return f"{status} {HTTPStatus(status).phrase}"


def searchset(
    request: Request, resources: Sequence["Resource"], *, total: int, limit: int, offset: int
) -> "Bundle":
    """A searchset Bundle of one page, with self, first, previous and next links that keep the
    request's other search parameters (paging is `limit` and `offset`, as on every list)."""
    from fhir.resources.R4B.bundle import Bundle

    def page_at(at: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=max(at, 0)))

    links = [
        {"relation": "self", "url": str(request.url)},
        {"relation": "first", "url": page_at(0)},
    ]
    if offset > 0:
        links.append({"relation": "previous", "url": page_at(offset - limit)})
    if offset + limit < total:
        links.append({"relation": "next", "url": page_at(offset + limit)})
    return Bundle.model_validate(
        {
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{str(request.base_url).rstrip('/')}{PREFIX}/"
                    f"{r.get_resource_type()}/{r.id}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in resources
            ],
        }
    )


def capability_statement(
    *, software: str, resources: Sequence[Mapping[str, Any]], batch: bool = False
):
    """The server's CapabilityStatement: which resources it serves, how, with what searches.
    ``resources`` are CapabilityStatement.rest.resource entries."""
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    rest: dict[str, Any] = {"mode": "server", "resource": list(resources)}
    if batch:
        rest["interaction"] = [{"code": "batch"}, {"code": "transaction"}]
    return CapabilityStatement.model_validate(
        {
            "status": "active",
            # When this statement was last changed (FHIR requires one): the routes' release.
            "date": "2026-12-02",
            "kind": "instance",
            "software": {"name": f"joinedup {software}"},
            "fhirVersion": FHIR_VERSION,
            "format": [FHIR_MEDIA_TYPE, "json"],
            "rest": [rest],
        }
    )
