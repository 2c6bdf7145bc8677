import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from services.common.auth import Principal, SubmitterKey
from services.common.catalogue import Catalogue
from services.common.db import SessionDep
from services.common.errors import Problem, UnsupportedMediaType, problem_responses
from services.common.params import QueryFlag, Timestamp
from services.common.responses import ListPublic, PageDep
from services.common.vocabulary import SubmissionMode
from services.ingest.deps import CatalogueDep, IngestSettingsDep
from services.ingest.submissions import service
from services.ingest.submissions.admission import ADMITTED
from services.ingest.submissions.schemas import SubmissionIn, SubmissionPublic

router = APIRouter(
    prefix="/v1/submissions", tags=["submissions"], responses=problem_responses(401, 403, 404, 422)
)

_CSV_EXAMPLE = (
    "place_code,metric_code,period,value,numerator,denominator,note\n"
    "E08000035,bcf-discharge-usual-residence,2025-07,,912,1003,\n"
)


def _format_of(content_type: str) -> str:
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence == "application/json":
        return "json"
    if essence == "text/csv":
        return "csv"
    raise UnsupportedMediaType(
        f"Send Content-Type application/json or text/csv, not {essence or 'nothing'}."
    )


@router.post(
    "",
    status_code=201,
    response_model=SubmissionPublic,
    responses=problem_responses(400, 409, 413, 415, 503),
    dependencies=[ADMITTED],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SubmissionIn.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        }
    },
)
async def create_submission(
    request: Request,
    session: SessionDep,
    principal: SubmitterKey,
    catalogue: CatalogueDep,
    settings: IngestSettingsDep,
    mode: Annotated[
        SubmissionMode | None,
        Query(description="CSV only; JSON says it in the body. Default atomic."),
    ] = None,
    dry_run: Annotated[QueryFlag, Query(description="Validate and answer, store nothing")] = False,
    idempotency_key: Annotated[
        str | None,
        Header(description="Retry safely: the same key and body give the first response"),
    ] = None,
) -> Response:
    """Submit observations as JSON (one place) or CSV (any places in scope)."""
    service.check_idempotency_key(idempotency_key)
    try:
        submission, replayed = await service.submit(
            session,
            principal=principal,
            catalogue=catalogue,
            metrics_api=request.app.state.metrics_api,
            request=service.Request(
                format=_format_of(request.headers.get("content-type", "")),
                mode=mode,
                dry_run=dry_run,
                idempotency_key=idempotency_key,
                body=request.stream(),
            ),
            max_errors=settings.max_reported_errors,
        )
    except Problem as problem:
        # A row refused against an old copy (a metric created since, say) may pass later.
        problem.headers.update(staleness(catalogue))
        raise
    response = Response(
        submission.model_dump_json(), status_code=201, media_type="application/json"
    )
    response.headers["Location"] = f"/v1/submissions/{submission.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers.update(staleness(catalogue))
    return response


def staleness(catalogue: Catalogue) -> dict[str, str]:
    """The header that says a submission was judged against a cached catalogue, if it was."""
    if not catalogue.stale:
        return {}
    return {
        "X-Catalogue-Stale": f"metrics_api unreachable; validated against a copy "
        f"{catalogue.age_s:.0f} s old"
    }


@router.get("/{submission_id}", response_model=SubmissionPublic)
async def get_submission(
    session: SessionDep, principal: Principal, submission_id: uuid.UUID
) -> SubmissionPublic:
    """One submission with its row errors (assessors, or the key that made it)."""
    return await service.get_submission(session, principal=principal, submission_id=submission_id)


@router.get("", response_model=ListPublic[SubmissionPublic])
async def list_submissions(
    session: SessionDep,
    principal: Principal,
    page: PageDep,
    place_code: str | None = None,
    since: Annotated[Timestamp | None, Query(description="Received at or after (ISO 8601)")] = None,
) -> ListPublic[SubmissionPublic]:
    """Submissions, newest first (assessors see all; submitters see their own)."""
    rows, count = await service.list_submissions(
        session,
        principal=principal,
        place_code=place_code,
        since=since,
        limit=page.limit,
        offset=page.offset,
    )
    return ListPublic[SubmissionPublic](data=rows, count=count)
