"""DHIS2's dataValueSets over joinedup's one submission path.

An import is translated into a native submission (``translation``) and handed to
services/ingest/submissions: the same scope checks, row checks, idempotency, versioning, audit
and outbox as a native CSV, and its row errors come back as DHIS2 conflicts. What is DHIS2's own
stays here: its periods and categoryOptionCombos, importStrategy, and the import summary.
"""

import csv
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods as native_periods
from services.common.auth import ApiPrincipal
from services.common.catalogue import Catalogue, MetricsApiClient
from services.common.errors import Unprocessable, field_error
from services.common.vocabulary import ImportStrategy, SubmissionMode
from services.ingest.dhis2 import periods, store, translation
from services.ingest.dhis2.schemas import DataValueSetIn, ImportConflict, ImportSummary
from services.ingest.observations import service as observations
from services.ingest.observations.store import Selection
from services.ingest.submissions import service as submissions
from services.ingest.submissions.parsing import parse_json_as
from services.ingest.submissions.schemas import RowError, SubmissionPublic


@dataclass(frozen=True)
class ImportRequest:
    format: str  # "json" or "csv"
    strategy: ImportStrategy
    atomic: bool  # DHIS2's atomicMode=ALL: every observation or none
    dry_run: bool
    idempotency_key: str | None
    body: bytes


def _parsed(request: ImportRequest) -> tuple[translation.Translation, list[ImportConflict]]:
    if request.format == "json":
        return translation.translate(parse_json_as(DataValueSetIn, request.body)), []
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"The body is not valid UTF-8 (byte {exc.start}).",
            errors=[field_error([], "invalid UTF-8")],
        ) from None
    try:
        values, framing, positions = translation.read_csv(text)
    except csv.Error as exc:  # a field over the csv module's size limit, say
        raise Unprocessable(
            f"The CSV cannot be read: {exc}.", errors=[field_error([], f"unreadable CSV: {exc}")]
        ) from None
    if not values and framing:
        return translation.Translation([], [], framing), framing
    return translation.translate(DataValueSetIn(dataValues=values), positions), framing


def _fingerprint(request: ImportRequest) -> str:
    """What a retry is recognised by: the body as sent and the options that change its
    meaning (the submission sees only the translation, which depends on the stored data)."""
    options = f"dhis2\n{request.format}\n{request.strategy}\n{request.atomic}\n"
    return hashlib.sha256(options.encode() + request.body).hexdigest()


async def _by_strategy(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    request: ImportRequest,
    rows: list[translation.Observed],
) -> list[translation.Observed]:
    """The observations the importStrategy lets through. The key and the places are held
    first, in the order the submission takes them, so no other writer changes what exists
    between this look and the write."""
    if request.strategy is ImportStrategy.CREATE_AND_UPDATE:
        return rows
    known = sorted({row.key[0] for row in rows if catalogue.area(row.key[0])})
    await submissions.hold(
        session,
        principal=principal,
        idempotency_key=None if request.dry_run else request.idempotency_key,
        places=known,
    )
    existing = await store.with_current_value(
        session,
        [(row.cells["place_code"], row.cells["metric_code"], row.cells["period"]) for row in rows],
    )
    wanted = request.strategy is ImportStrategy.UPDATE
    return [row for i, row in enumerate(rows) if (i in existing) is wanted]


async def import_data_values(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    metrics_api: MetricsApiClient,
    request: ImportRequest,
    max_errors: int,
) -> tuple[ImportSummary, bool]:
    """Import a data value set; returns DHIS2's import summary and whether it is a replay."""
    translated, framing = _parsed(request)
    not_translated = len(translated.deletions) + len(framing)
    if request.idempotency_key and not request.dry_run:
        earlier = await submissions.replay(
            session,
            principal=principal,
            idempotency_key=request.idempotency_key,
            fingerprint=_fingerprint(request),
        )
        if earlier is not None:
            # The observations the strategy left out then are not known now (the data has
            # changed since, by that import at least): its conflicts are named by observation
            # number alone unless every observation was sent.
            sent = translated.rows if request.strategy is ImportStrategy.CREATE_AND_UPDATE else []
            left_out = len(translated.rows) - earlier.accepted - earlier.rejected
            return _summary(
                request, earlier, sent, framing, not_sent=left_out + not_translated
            ), True
    rows = await _by_strategy(
        session, principal=principal, catalogue=catalogue, request=request, rows=translated.rows
    )
    not_sent = len(translated.rows) - len(rows) + not_translated
    if not rows:
        return _summary(request, None, rows, framing, not_sent=not_sent), False
    body = translation.native_csv(rows)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    try:
        submission, replayed = await submissions.submit(
            session,
            principal=principal,
            catalogue=catalogue,
            metrics_api=metrics_api,
            request=submissions.Request(
                format="csv",
                mode=SubmissionMode.atomic if request.atomic else SubmissionMode.partial,
                dry_run=request.dry_run,
                idempotency_key=request.idempotency_key,
                body=chunks(),
                fingerprint=_fingerprint(request),
            ),
            max_errors=max_errors,
        )
    except Unprocessable as problem:
        errors = _row_errors(problem)
        if errors is None:
            raise
        refused = _summary(request, None, rows, framing, not_sent=not_sent, errors=errors)
        refused.importCount.ignored += len(rows)
        return refused, False
    return _summary(request, submission, rows, framing, not_sent=not_sent), replayed


def _row_errors(problem: Unprocessable) -> list[RowError] | None:
    """The row errors of a submission refused for its rows; None for any other refusal."""
    if not problem.errors or not all("code" in e and "row" in e for e in problem.errors):
        return None
    return [RowError.model_validate(e) for e in problem.errors]


def _summary(
    request: ImportRequest,
    submission: SubmissionPublic | None,
    rows: list[translation.Observed],
    framing: list[ImportConflict],
    *,
    not_sent: int,
    errors: list[RowError] | None = None,
) -> ImportSummary:
    row_errors = errors if errors is not None else (submission.errors if submission else [])
    conflicts = framing + translation.conflicts(row_errors, rows)
    count = translation.import_count(submission, not_sent=not_sent)
    outcome = translation.status(count, conflicts)
    stored = submission is not None and not request.dry_run
    return ImportSummary(
        status=outcome,
        description=_description(request, outcome, stored),
        importOptions={
            "importStrategy": str(request.strategy),
            "dryRun": request.dry_run,
            "atomicMode": "ALL" if request.atomic else "NONE",
            "idScheme": "CODE",
        },
        importCount=count,
        conflicts=conflicts,
        reference=str(submission.id) if stored and submission else None,
    )


def _description(request: ImportRequest, outcome: str, stored: bool) -> str:
    if request.dry_run:
        return "Dry run: checked as an import would be; nothing was stored."
    if outcome == "ERROR":
        return "Nothing was imported; see the conflicts."
    if not stored:
        return f"Nothing to import under importStrategy {request.strategy}."
    return "Import process completed successfully."


def export_period(code: str | None) -> str | None:
    """joinedup's code for an export's DHIS2 period, refused with where it is if it is none."""
    if code is None:
        return None
    native = periods.to_native(code)
    try:
        return native_periods.parse(native).code
    except native_periods.PeriodError as exc:
        raise Unprocessable(
            f"{code!r} is not a DHIS2 period joinedup has (202507, 2025Q2, 2025, 2025April).",
            errors=[field_error(["query", "period"], str(exc))],
        ) from None


async def export_selection(
    *,
    metrics_api: MetricsApiClient,
    principal: ApiPrincipal,
    org_unit: str,
    data_element: str | None,
    period: str | None,
) -> Selection:
    """The current observations of one place an export reads (a key reads only its scope)."""
    native = export_period(period)
    return observations.selection(
        place_code=org_unit,
        metric_code=data_element,
        first=native,
        last=native,
        history=False,
        only_places=await observations.places_readable(metrics_api, principal, org_unit),
    )


async def data_values(session: AsyncSession, selection: Selection) -> AsyncIterator[dict[str, Any]]:
    """The selected observations as DHIS2 data values, read as they are sent."""
    async for observation in observations.stream_observations(session, selection):
        for value in translation.data_values(observation):
            yield value
