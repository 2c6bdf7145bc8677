"""Taking a submission: idempotency, scope, staging, row checks, versioned storage, outbox."""

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit
from services.common.auth import ApiPrincipal, Role, require_scope
from services.common.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.common.models import Submission
from services.ingest.clients.metrics_api import Catalogue
from services.ingest.submissions import store, telemetry
from services.ingest.submissions.parsing import CsvStager, parse_json, stage_json
from services.ingest.submissions.schemas import (
    RowError,
    SubmissionMode,
    SubmissionPublic,
    SubmissionStatus,
)


@dataclass(frozen=True)
class Request:
    """What the endpoint knows of a submission before its body is read."""

    format: str  # "json" or "csv"
    mode: SubmissionMode | None  # CSV: from the query string; JSON: from the body
    dry_run: bool
    idempotency_key: str | None
    body: AsyncIterator[bytes]


class _HashingBody:
    """Passes the body through while hashing it, so a replay can be compared with the first."""

    def __init__(self, request: Request) -> None:
        self.chunks = request.body
        self.sha = hashlib.sha256(f"{request.format}\n{request.mode}\n".encode())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.sha.update(chunk)
            yield chunk

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def drain(self) -> str:
        async for _ in self:
            pass
        return self.sha.hexdigest()


def _metric_rows(catalogue: Catalogue) -> list[dict[str, object]]:
    return [
        m.model_dump(
            include={
                "code",
                "version",
                "status",
                "scope",
                "owner_area_code",
                "kind",
                "multiplier",
                "periodicity",
                "valid_min",
                "valid_max",
                "decimals",
            }
        )
        for m in catalogue.metrics.values()
    ]


def _place_rows(catalogue: Catalogue) -> list[dict[str, object]]:
    """Every place with its ICB, which may own local metrics that apply to it."""
    return [
        {"code": a.code, "icb_code": a.parent_code}
        for a in catalogue.areas.values()
        if a.level == "place"
    ]


def to_public(row: Submission, *, dry_run: bool = False) -> SubmissionPublic:
    return SubmissionPublic.model_validate({**row.model_dump(), "dry_run": dry_run})


async def _lock_idempotency_key(
    session: AsyncSession, principal: ApiPrincipal, key: str
) -> Submission | None:
    """Hold the key for this transaction and return the submission it already made, if any.

    Concurrent requests with the same key queue here; the second sees the first's submission.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"idempotency:{principal.key_id}:{key}"},
    )
    return (
        await session.execute(
            select(Submission).where(
                col(Submission.key_id) == principal.key_id, col(Submission.idempotency_key) == key
            )
        )
    ).scalar()


def _authorise_places(principal: ApiPrincipal, catalogue: Catalogue, places: list[str]) -> None:
    for code in places:
        lineage = catalogue.lineage(code)
        if lineage:  # unknown places are row errors, not scope errors
            require_scope(principal, code, lineage)


def _all_known(catalogue: Catalogue, codes: store.StagedCodes) -> bool:
    return all(catalogue.area(code) for code in codes.places) and all(
        catalogue.metric(code) for code in codes.metrics
    )


async def submit(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    revalidate: Callable[[], Awaitable[Catalogue]],
    request: Request,
    max_errors: int,
) -> tuple[SubmissionPublic, bool]:
    """Take one submission; returns its public form and whether it is a replay.

    ``catalogue`` is the cached copy; ``revalidate`` confirms it with metrics_api, which is
    asked only when a row names a place or metric the copy lacks (a metric created since)."""
    body = _HashingBody(request)
    if request.idempotency_key and not request.dry_run:
        earlier = await _lock_idempotency_key(session, principal, request.idempotency_key)
        if earlier is not None:
            if await body.drain() != earlier.request_sha256:
                raise Conflict(
                    f"Idempotency-Key {request.idempotency_key!r} was already used "
                    f"with a different body (submission {earlier.id})."
                )
            return to_public(earlier), True

    mode = request.mode
    async with store.Staging(session) as buffer:
        if request.format == "json":
            submission = parse_json(await body.read_all())
            mode = submission.mode
            framing_errors = await stage_json(submission, buffer)
            if not submission.observations:
                raise Unprocessable("The submission has no observations.")
        else:
            stager = CsvStager(buffer)
            await stager.feed(aiter(body))
            framing_errors = stager.errors
            if stager.records == 0:
                raise Unprocessable("The CSV has a header but no observations.")
    mode = mode or SubmissionMode.atomic

    codes = await store.staged_codes(session)
    places = codes.places
    if not catalogue.stale and not _all_known(catalogue, codes):
        # Before refusing a code, ask metrics_api whether it was added since the cached copy.
        catalogue = await revalidate()
    _authorise_places(principal, catalogue, places)
    checked = await store.check(
        session,
        metrics=_metric_rows(catalogue),
        places=_place_rows(catalogue),
        framing_errors=framing_errors,
        max_errors=max_errors,
    )
    if checked.rejected and (mode is SubmissionMode.atomic or checked.rejected == checked.rows):
        if not request.dry_run:
            telemetry.count(catalogue, checked.by_place, "rejected")
        raise _rejection(checked, mode, request.format)

    submission_id = uuid.uuid4()
    savepoint = await session.begin_nested() if request.dry_run else None
    written = await store.write(session, submission_id=submission_id)
    row = Submission(
        id=submission_id,
        key_id=principal.key_id,
        format=request.format,
        mode=mode,
        status=SubmissionStatus.partially_accepted
        if checked.rejected
        else SubmissionStatus.accepted,
        place_codes=places,
        accepted=written.accepted,
        rejected=checked.rejected,
        superseded=written.superseded,
        unchanged=written.unchanged,
        error_count=checked.error_count,
        errors=[e.model_dump() for e in checked.errors],
        idempotency_key=None if request.dry_run else request.idempotency_key,
        request_sha256=body.sha.hexdigest(),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    public = to_public(row, dry_run=request.dry_run)
    if savepoint is not None:
        await savepoint.rollback()
        return public, False
    await audit.record(
        session,
        actor=principal,
        action="submission.create",
        entity_type="submission",
        entity_id=str(submission_id),
        after=public.model_dump(mode="json", exclude={"errors"}),
    )
    telemetry.count_once_committed(session, catalogue, checked.by_place, str(row.status))
    return public, False


def _rejection(checked: store.Checked, mode: SubmissionMode, format: str) -> Unprocessable:
    why = (
        "the submission is atomic, so nothing was stored"
        if mode is SubmissionMode.atomic
        else "no row is valid, so nothing was stored"
    )
    return Unprocessable(
        f"{checked.rejected} of {checked.rows} rows are invalid; {why}.",
        errors=[
            {"loc": _error_loc(e, format), "msg": e.msg, **e.model_dump()} for e in checked.errors
        ],
        accepted=0,
        rejected=checked.rejected,
        error_count=checked.error_count,
    )


def _error_loc(error: RowError, format: str) -> list[str | int]:
    """Where the error is: in a JSON body its path, as the framework's own validation errors
    give it (observations counted from 0; the place is the body's, not the row's); in CSV the
    data row (1 is the line after the header) and column (API.md amendments)."""
    if format != "json":
        return ["rows", error.row, error.field]
    if error.field == "place_code":
        return ["place_code"]
    return ["observations", error.row - 1, error.field]


async def get_submission(
    session: AsyncSession, *, principal: ApiPrincipal, submission_id: uuid.UUID
) -> SubmissionPublic:
    row = await session.get(Submission, submission_id)
    if row is None or not _may_read(principal, row):
        raise NotFound(f"No submission {submission_id}.")
    return to_public(row)


def _may_read(principal: ApiPrincipal, row: Submission) -> bool:
    return principal.has_role(Role.assessor) or row.key_id == principal.key_id


async def list_submissions(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    place_code: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[SubmissionPublic], int]:
    if not principal.has_role(Role.assessor, Role.submitter):
        raise Forbidden("Submissions are read by assessors and by the submitters who made them.")
    query = select(Submission)
    if not principal.has_role(Role.assessor):
        query = query.where(col(Submission.key_id) == principal.key_id)
    if place_code is not None:
        query = query.where(col(Submission.place_codes).contains([place_code]))
    if since is not None:
        query = query.where(col(Submission.received_at) >= since)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(col(Submission.received_at).desc(), col(Submission.id))
        .limit(limit)
        .offset(offset)
    )
    return [to_public(r) for r in rows.scalars()], count or 0
