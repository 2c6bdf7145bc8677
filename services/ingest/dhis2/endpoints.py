from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from services.common.auth import Principal, SubmitterKey
from services.common.db import SessionDep
from services.common.errors import (
    Unprocessable,
    UnsupportedMediaType,
    field_error,
    problem_responses,
)
from services.common.params import QueryFlag
from services.common.responses import csv_response, wants_csv
from services.common.vocabulary import ImportStrategy
from services.ingest.deps import CatalogueDep, IngestSettingsDep
from services.ingest.dhis2 import service
from services.ingest.dhis2.schemas import (
    CSV_COLUMNS,
    DataValueSetIn,
    DataValueSetPublic,
    ImportSummary,
)
from services.ingest.submissions.admission import ADMITTED
from services.ingest.submissions.endpoints import staleness
from services.ingest.submissions.service import check_idempotency_key

router = APIRouter(
    prefix="/v1/dhis2", tags=["dhis2"], responses=problem_responses(401, 403, 404, 422)
)

_CSV_EXAMPLE = (
    "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value\n"
    "bcf-discharge-usual-residence,202507,E08000035,numerator,,912\n"
    "bcf-discharge-usual-residence,202507,E08000035,denominator,,1003\n"
)


def _format_of(content_type: str) -> str:
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence == "application/json":
        return "json"
    if essence in ("application/csv", "text/csv"):
        return "csv"
    raise UnsupportedMediaType(
        f"Send Content-Type application/json, application/csv or text/csv, "
        f"not {essence or 'nothing'}."
    )


@router.post(
    "/dataValueSets",
    response_model=ImportSummary,
    responses={
        409: {"model": ImportSummary, "description": "Nothing imported: every value conflicts"},
        **problem_responses(400, 413, 415, 503),
    },
    dependencies=[ADMITTED],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DataValueSetIn.model_json_schema()},
                # application/csv (DHIS2's own name) is taken as well; the fuzzer cannot
                # write a body for it, so only text/csv is declared.
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        }
    },
)
async def import_data_value_set(
    request: Request,
    session: SessionDep,
    principal: SubmitterKey,
    catalogue: CatalogueDep,
    settings: IngestSettingsDep,
    dry_run: Annotated[
        QueryFlag, Query(alias="dryRun", description="Check and answer, store nothing")
    ] = False,
    import_strategy: Annotated[
        ImportStrategy, Query(alias="importStrategy", description="Which values may be written")
    ] = ImportStrategy.CREATE_AND_UPDATE,
    atomic_mode: Annotated[
        str,
        Query(
            alias="atomicMode",
            pattern="^(ALL|NONE)$",
            description="NONE (DHIS2's default): import the valid values; ALL: all or none",
        ),
    ] = "NONE",
    idempotency_key: Annotated[
        str | None,
        Header(description="Retry safely: the same key and body give the first import"),
    ] = None,
) -> Response:
    """Import a DHIS2 data value set (JSON or CSV) through the native submission path."""
    check_idempotency_key(idempotency_key)
    summary, replayed = await service.import_data_values(
        session,
        principal=principal,
        catalogue=catalogue,
        metrics_api=request.app.state.metrics_api,
        request=service.ImportRequest(
            format=_format_of(request.headers.get("content-type", "")),
            strategy=import_strategy,
            atomic=atomic_mode == "ALL",
            dry_run=dry_run,
            idempotency_key=idempotency_key,
            body=await request.body(),
        ),
        max_errors=settings.max_reported_errors,
    )
    response = Response(
        summary.model_dump_json(),
        status_code=409 if summary.status == "ERROR" else 200,
        media_type="application/json",
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers.update(staleness(catalogue))
    return response


@router.get(
    "/dataValueSets",
    response_model=DataValueSetPublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_data_value_set(
    request: Request,
    session: SessionDep,
    principal: Principal,
    org_unit: Annotated[str, Query(alias="orgUnit", description="A place's ONS code")],
    data_set: Annotated[
        str | None, Query(alias="dataSet", description="A metric code (each metric is a set)")
    ] = None,
    data_element: Annotated[
        str | None, Query(alias="dataElement", description="A metric code")
    ] = None,
    period: Annotated[
        str | None, Query(description="A DHIS2 period: 202507, 2025Q2, 2025, 2025April")
    ] = None,
) -> Response | DataValueSetPublic:
    """A place's current observations as a DHIS2 data value set (CSV with Accept: text/csv)."""
    if data_set and data_element and data_set != data_element:
        raise Unprocessable(
            "dataSet and dataElement name different metrics; give one.",
            errors=[field_error(["query", "dataElement"], "differs from dataSet")],
        )
    selection = await service.export_selection(
        metrics_api=request.app.state.metrics_api,
        principal=principal,
        org_unit=org_unit,
        data_element=data_element or data_set,
        period=period,
    )
    if wants_csv(request):
        return csv_response(CSV_COLUMNS, _csv_rows(request, selection), filename="dataValues.csv")
    return DataValueSetPublic.model_validate(
        {"dataValues": [v async for v in service.data_values(session, selection)]}
    )


async def _csv_rows(request: Request, selection: Any) -> Any:
    # Its own session: the request's is committed and closed before a streamed body is sent.
    async with request.app.state.sessionmaker() as session:
        async for value in service.data_values(session, selection):
            yield {
                "dataelement": value["dataElement"],
                "period": value["period"],
                "orgunit": value["orgUnit"],
                "categoryoptioncombo": value["categoryOptionCombo"],
                "value": float(value["value"]),
                "lastupdated": value["lastUpdated"],
                "comment": value["comment"],
            }
