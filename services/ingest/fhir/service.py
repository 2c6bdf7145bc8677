"""FHIR MeasureReports in and out of ingest: one path with native submissions.

A posted MeasureReport or Bundle is read into native rows (mapping.py) and handed to the
submission service (services/ingest/submissions/service.py) as a JSON submission's rows are:
the same scope checks, row checks, idempotency, atomic or partial storage, versions and
outbox notice. This module only says what the standard's answers look like: a created
report, a batch-response or transaction-response Bundle, or an OperationOutcome naming each
entry and element. Reads go through the observations service's selection and store.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import fhir, periods
from services.common.auth import ApiPrincipal
from services.common.catalogue import Catalogue, MetricsApiClient
from services.common.errors import Unprocessable, field_error
from services.ingest.fhir import mapping
from services.ingest.observations import service as observations
from services.ingest.observations.store import Selection
from services.ingest.submissions import service as submissions
from services.ingest.submissions.schemas import RowError, SubmissionPublic


@dataclass(frozen=True)
class Posted:
    """What a FHIR write answered: the resource, its status and the submission behind it."""

    resource: Resource
    status: int
    submission: SubmissionPublic | None  # None: a batch none of whose entries was stored
    replayed: bool


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def post(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    metrics_api: MetricsApiClient,
    resource_type: str,
    body: bytes,
    idempotency_key: str | None,
    max_errors: int,
) -> Posted:
    """A MeasureReport (``resource_type`` "MeasureReport") or a batch or transaction Bundle
    ("Bundle"), submitted through the native submission service."""
    document = mapping.read_document(body, resource_type)
    in_bundle = resource_type == "Bundle"
    key = idempotency_key or (mapping.bundle_idempotency_key(document) if in_bundle else None)
    submissions.check_idempotency_key(key)
    try:
        submission, replayed = await submissions.submit(
            session,
            principal=principal,
            catalogue=catalogue,
            metrics_api=metrics_api,
            request=submissions.Request(
                format="json",
                mode=None,
                dry_run=False,
                idempotency_key=key,
                body=_one(body),
                translate=lambda _: mapping.translate(document),
            ),
            max_errors=max_errors,
        )
    except Unprocessable as problem:
        rejected = _row_errors(problem)
        if rejected is None:
            raise
        if in_bundle and document.raw.get("type") == "batch":
            # A batch's entries succeed or fail each on its own: every entry failed, and the
            # batch itself is answered, with each entry's outcome (FHIR's batch rules).
            return Posted(_response_bundle(document, rejected), 200, None, False)
        problem.errors = [
            *(e for e in problem.errors or () if "row" not in e),
            *mapping.issues(rejected, in_bundle=in_bundle),
        ]
        raise
    if not in_bundle:
        report = mapping.MeasureReport.model_validate(document.raw)
        return Posted(report, 201, submission, replayed)
    return Posted(_response_bundle(document, submission.errors), 200, submission, replayed)


def _row_errors(problem: Unprocessable) -> list[RowError] | None:
    """The row errors of a submission refused for its rows; None for any other refusal."""
    if "rejected" not in problem.extensions:
        return None
    return [
        RowError.model_validate({k: e[k] for k in ("row", "field", "code", "msg")})
        for e in problem.errors or ()
        if "row" in e
    ]


def _response_bundle(document: mapping.Document, errors: list[RowError]) -> Bundle:
    """batch-response or transaction-response: each entry 201, or 422 with its outcome."""
    by_row: dict[int, list[RowError]] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    entries: list[dict[str, Any]] = []
    for row_no, _ in enumerate(document.raw["entry"], start=1):
        row_errors = by_row.get(row_no)
        if row_errors is None:
            entries.append({"response": {"status": fhir.status_line(201)}})
            continue
        outcome = fhir.operation_outcome(
            422,
            f"Bundle.entry[{row_no - 1}] was not stored.",
            mapping.issues(row_errors, in_bundle=True),
        )
        entries.append({"response": {"status": fhir.status_line(422), "outcome": outcome}})
    return Bundle.model_validate({"type": f"{document.raw['type']}-response", "entry": entries})


@dataclass(frozen=True)
class Search:
    subject: str | None
    measure: str | None
    period: str | None


def subject_place(search: Search) -> str | None:
    """subject as a place code: the code itself, or a token ``system|code``."""
    return search.subject.rsplit("|", 1)[-1] if search.subject is not None else None


def _selection(search: Search, only_places: list[str] | None) -> Selection:
    metric = None
    if search.measure is not None:
        metric = fhir.measure_code(search.measure) or search.measure
    place = subject_place(search)
    if search.period is not None:
        try:
            periods.parse(search.period)
        except periods.PeriodError as exc:
            raise Unprocessable(
                str(exc), errors=[field_error(["query", "period"], str(exc))]
            ) from None
    return observations.selection(
        place_code=place,
        metric_code=metric,
        first=search.period,
        last=search.period,
        history=False,
        only_places=only_places,
    )


async def search_reports(
    session: AsyncSession,
    search: Search,
    *,
    only_places: list[str] | None,
    limit: int,
    offset: int,
) -> tuple[list[Resource], int]:
    """Current observations matching the search, as MeasureReports, one page of them."""
    rows, count = await observations.list_observations(
        session, _selection(search, only_places), limit=limit, offset=offset
    )
    return [mapping.observation_report(row) for row in rows], count
