from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from services.common import fhir
from services.common.auth import Principal, SubmitterKey
from services.common.db import SessionDep
from services.common.errors import Problem, UnsupportedMediaType
from services.common.responses import PageDep
from services.ingest.deps import CatalogueDep, IngestSettingsDep
from services.ingest.fhir import schemas, service
from services.ingest.observations import service as observations
from services.ingest.submissions.admission import ADMITTED
from services.ingest.submissions.endpoints import staleness

router = APIRouter(
    prefix="/fhir",
    tags=["fhir"],
    default_response_class=fhir.FhirResponse,
    responses=fhir.fhir_responses(401, 403, 422, 503),
)
_WRITE_ERRORS = fhir.fhir_responses(400, 409, 413, 415)


def _body_spec(example: object) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "content": {fhir.FHIR_MEDIA_TYPE: {"schema": fhir.RESOURCE_SCHEMA, "example": example}},
        }
    }


def _require_fhir_json(request: Request) -> None:
    essence = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if essence not in (fhir.FHIR_MEDIA_TYPE, "application/json"):
        raise UnsupportedMediaType(
            f"Send Content-Type {fhir.FHIR_MEDIA_TYPE}, not {essence or 'nothing'}."
        )


async def _post(
    request: Request,
    session: SessionDep,
    principal: SubmitterKey,
    catalogue: CatalogueDep,
    settings: IngestSettingsDep,
    resource_type: str,
    idempotency_key: str | None,
) -> Response:
    _require_fhir_json(request)
    try:
        posted = await service.post(
            session,
            principal=principal,
            catalogue=catalogue,
            metrics_api=request.app.state.metrics_api,
            resource_type=resource_type,
            body=await request.body(),
            idempotency_key=idempotency_key,
            max_errors=settings.max_reported_errors,
        )
    except Problem as problem:
        problem.headers.update(staleness(catalogue))
        raise
    headers = staleness(catalogue)
    if posted.submission is not None:
        # The observations' versions are read back with GET /fhir/MeasureReport; what was
        # taken, and each row's errors, is the submission.
        headers["Location"] = f"/v1/submissions/{posted.submission.id}"
    if posted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return fhir.fhir_response(posted.resource, status_code=posted.status, headers=headers)


_IDEMPOTENCY = Annotated[
    str | None,
    Header(description="Retry safely: the same key and body give the first response"),
]


@router.post(
    "/MeasureReport",
    status_code=201,
    responses={**fhir.fhir_responses(201), **_WRITE_ERRORS},
    dependencies=[ADMITTED],
    openapi_extra=_body_spec(schemas.MEASURE_REPORT_EXAMPLE),
)
async def create_measure_report(
    request: Request,
    session: SessionDep,
    principal: SubmitterKey,
    catalogue: CatalogueDep,
    settings: IngestSettingsDep,
    idempotency_key: _IDEMPOTENCY = None,
) -> Response:
    """Submit one summary MeasureReport (one place, measure and period), atomically."""
    return await _post(
        request, session, principal, catalogue, settings, "MeasureReport", idempotency_key
    )


@router.post(
    "",
    responses={**fhir.fhir_responses(200), **_WRITE_ERRORS},
    dependencies=[ADMITTED],
    openapi_extra=_body_spec(schemas.BUNDLE_EXAMPLE),
)
async def process_bundle(
    request: Request,
    session: SessionDep,
    principal: SubmitterKey,
    catalogue: CatalogueDep,
    settings: IngestSettingsDep,
    idempotency_key: _IDEMPOTENCY = None,
) -> Response:
    """Submit a Bundle of MeasureReports: transaction (all or none) or batch (each entry on
    its own); Bundle.identifier is the idempotency key unless Idempotency-Key is sent."""
    return await _post(request, session, principal, catalogue, settings, "Bundle", idempotency_key)


@router.get("/MeasureReport", responses=fhir.fhir_responses(200))
async def search_measure_reports(
    request: Request,
    session: SessionDep,
    principal: Principal,
    page: PageDep,
    subject: Annotated[str | None, Query(description="The place's ONS code")] = None,
    measure: Annotated[
        str | None, Query(description="A Measure's canonical URL, or its code")
    ] = None,
    period: Annotated[str | None, Query(description="A period code, e.g. 2025-07")] = None,
) -> Response:
    """Current observations as summary MeasureReports, in a searchset Bundle with paging links
    (a submitter key reads the places in its scope)."""
    search = service.Search(subject=subject, measure=measure, period=period)
    only_places = await observations.places_readable(
        request.app.state.metrics_api, principal, service.subject_place(search)
    )
    reports, total = await service.search_reports(
        session, search, only_places=only_places, limit=page.limit, offset=page.offset
    )
    return fhir.fhir_response(
        fhir.searchset(request, reports, total=total, limit=page.limit, offset=page.offset)
    )


@router.get("/metadata", responses=fhir.fhir_responses(200))
async def get_capability_statement(_: Principal) -> Response:
    """ingest's CapabilityStatement: what its FHIR routes take and answer."""
    return fhir.fhir_response(schemas.CAPABILITIES)
