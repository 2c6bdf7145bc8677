from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common import fhir
from services.common.auth import Principal
from services.common.db import SessionDep
from services.common.params import RowId
from services.common.responses import PageDep
from services.metrics_api.fhir import schemas, service
from services.metrics_api.metrics.schemas import MetricStatus

router = APIRouter(
    prefix="/fhir",
    tags=["fhir"],
    default_response_class=fhir.FhirResponse,
    responses=fhir.fhir_responses(200, 401, 422, 503),
)


@router.get("/Measure", responses=fhir.fhir_responses(200))
async def search_measures(
    request: Request,
    session: SessionDep,
    _: Principal,
    page: PageDep,
    url: Annotated[str | None, Query(description="A Measure's canonical URL")] = None,
    name: Annotated[str | None, Query(description="The metric code")] = None,
    version: Annotated[RowId | None, Query(description="A version (with url or name)")] = None,
    status: MetricStatus | None = None,
) -> Response:
    """Metrics as Measures in a searchset Bundle (current versions unless `version` is given)."""
    measures, total = await service.search_measures(
        session,
        url=url,
        name=name,
        version=version,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return fhir.fhir_response(
        fhir.searchset(request, measures, total=total, limit=page.limit, offset=page.offset)
    )


@router.get("/Measure/{code}", responses=fhir.fhir_responses(404))
async def get_measure(
    session: SessionDep,
    _: Principal,
    code: str,
    version: Annotated[RowId | None, Query(description="A past version")] = None,
) -> Response:
    """One metric as a Measure, at its current version unless another is asked for."""
    return fhir.fhir_response(await service.get_measure(session, code=code, version=version))


@router.get("/metadata")
async def get_capability_statement(_: Principal) -> Response:
    """metrics_api's CapabilityStatement: what its FHIR routes serve."""
    return fhir.fhir_response(schemas.CAPABILITIES)
