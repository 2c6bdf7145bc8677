"""Taking a submission: idempotency, scope, staging, row checks, versioned storage, outbox."""

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, Role, require_scope
from services.common.catalogue import Catalogue, MetricsApiClient
from services.common.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from services.common.models import Submission
from services.ingest.submissions import store, telemetry
from services.ingest.submissions.parsing import CsvStager, json_rows, numbered_rows, parse_json
from services.ingest.submissions.schemas import (
    RowError,
    SubmissionIn,
    SubmissionMode,
    SubmissionPublic,
    SubmissionStatus,
)

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1-255 visible ASCII characters.")


@dataclass(frozen=True)
class Translated:
    """A document in another standard's form (FHIR MeasureReports, services/ingest/fhir) read
    into native rows: the same rows a JSON submission makes, so every check and write after
    this is the native path itself. ``rows`` are (row number, fields in CSV_COLUMNS order);
    ``framing_errors`` are the rows the document could not express as a native row."""

    mode: SubmissionMode
    rows: list[tuple[int, list[object]]]
    framing_errors: list[RowError]


@dataclass(frozen=True)
class Request:
    """What the endpoint knows of a submission before its body is read."""

    format: str  # "json" or "csv"
    mode: SubmissionMode | None  # CSV: from the query string; JSON: from the body
    dry_run: bool
    idempotency_key: str | None
    body: AsyncIterator[bytes]
    # What a replay is compared by, when the body is a translation (services/ingest/dhis2): the
    # digest of what the client sent, as the translation may depend on the stored data.
    fingerprint: str | None = None
    # A JSON body in another standard's form: what reads it into native rows. Called where a
    # JSON submission is parsed, so a malformed body is refused after the replay check, too.
    translate: Callable[[bytes], Translated] | None = None


class _HashingBody:
    """Passes the body through while hashing it, so a replay can be compared with the first."""

    def __init__(self, request: Request) -> None:
        self.chunks = request.body
        self.fingerprint = request.fingerprint
        self.sha = hashlib.sha256(f"{request.format}\n{request.mode}\n".encode())

    def digest(self) -> str:
        return self.fingerprint or self.sha.hexdigest()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.sha.update(chunk)
            yield chunk

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def drain(self) -> str:
        async for _ in self:
            pass
        return self.digest()


def _metric_rows(catalogue: Catalogue, codes: list[str]) -> list[dict[str, object]]:
    """The definitions of the metrics the rows name (the others cannot match a row): a small
    submission then hands the database one metric, not the whole catalogue, to parse."""
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
        for code in codes
        if (m := catalogue.metrics.get(code)) is not None
    ]


def _place_rows(catalogue: Catalogue, codes: list[str]) -> list[dict[str, object]]:
    """The places the rows name, each with its ICB, which may own local metrics that apply to
    it; as with the metrics, only these can match a row."""
    return [
        {"code": a.code, "icb_code": a.parent_code}
        for code in codes
        if (a := catalogue.area(code)) is not None and a.level == "place"
    ]


def to_public(row: Submission, *, dry_run: bool = False) -> SubmissionPublic:
    return SubmissionPublic.model_validate({**row.model_dump(), "dry_run": dry_run})


async def hold(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    idempotency_key: str | None,
    places: list[str],
) -> None:
    """Hold the key's Idempotency-Key (if any), then the places' writes, for this transaction,
    in the one order every writer takes them (advisory locks: taking them again is free)."""
    name = idempotency_key and f"idempotency:{principal.key_id}:{idempotency_key}"
    await store.lock(session, idempotency=name, places=places)


async def _earlier(
    session: AsyncSession, principal: ApiPrincipal, request: Request, places: list[str]
) -> Submission | None:
    """Hold the Idempotency-Key (if any) and the places' writes for this transaction, and return
    the submission the key already made, if any.

    Concurrent requests with the same key queue here; the second sees the first's submission.
    A dry run stores nothing, so it has no key to hold, but its trial write needs the places.
    """
    key = None if request.dry_run else request.idempotency_key
    await hold(session, principal=principal, idempotency_key=key, places=places)
    if key is None:
        return None
    return await store.submission_by_idempotency_key(session, key_id=principal.key_id, key=key)


def _authorise_places(principal: ApiPrincipal, catalogue: Catalogue, places: list[str]) -> None:
    for code in places:
        lineage = catalogue.lineage(code)
        if lineage:  # unknown places are row errors, not scope errors
            require_scope(principal, code, lineage)


def _known_places(catalogue: Catalogue, codes: store.StagedCodes) -> list[str]:
    """The places to lock: only a known place can have rows written (an unknown code is a row
    error), and only known codes are safe to hand the database as text."""
    return [code for code in codes.places if catalogue.area(code)]


def _json_codes(submission: SubmissionIn) -> store.StagedCodes:
    """The place and metrics a JSON submission names, trimmed as the row checks trim them."""
    place = submission.place_code.strip(store.BLANK)
    metrics = {obs.metric_code.strip(store.BLANK) for obs in submission.observations}
    return store.StagedCodes(places=[place] if place else [], metrics=sorted(metrics - {""}))


@dataclass
class _Staged:
    mode: SubmissionMode | None
    json_rows: str | None  # a JSON submission's rows; None for a CSV, COPYed into ``staged``
    framing_errors: list[RowError]
    codes: store.StagedCodes


async def _stage_csv(session: AsyncSession, request: Request, body: _HashingBody) -> _Staged:
    async with store.Staging(session) as buffer:
        stager = CsvStager(buffer)
        await stager.feed(aiter(body))
    if stager.records == 0:
        raise Unprocessable("The CSV has a header but no observations.")
    return _Staged(request.mode, None, stager.errors, await store.staged_codes(session))


async def _stage_json(body: _HashingBody) -> _Staged:
    submission = parse_json(await body.read_all())
    if not submission.observations:
        raise Unprocessable("The submission has no observations.")
    rows, framing_errors = json_rows(submission)
    return _Staged(submission.mode, rows, framing_errors, _json_codes(submission))


async def _stage_translated(
    body: _HashingBody, translate: Callable[[bytes], Translated]
) -> _Staged:
    translated = translate(await body.read_all())
    rows, encoding_errors = numbered_rows(translated.rows)
    framing_errors = sorted([*translated.framing_errors, *encoding_errors], key=lambda e: e.row)
    return _Staged(translated.mode, rows, framing_errors, _row_codes(translated.rows))


def _row_codes(rows: list[tuple[int, list[object]]]) -> store.StagedCodes:
    """The places and metrics translated rows name, trimmed as the row checks trim them."""

    def codes(column: int) -> list[str]:
        named = {str(fields[column]).strip(store.BLANK) for _, fields in rows if fields[column]}
        return sorted(named - {""})

    return store.StagedCodes(places=codes(0), metrics=codes(1))


async def submit(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    metrics_api: MetricsApiClient,
    request: Request,
    max_errors: int,
) -> tuple[SubmissionPublic, bool]:
    """Take one submission; returns its public form and whether it is a replay.

    ``catalogue`` is the cached copy; ``metrics_api`` is asked to confirm it only when a row
    names a place or metric the copy lacks (a metric created since).

    A JSON body is small and read first, so its place is locked with its key; a CSV streams into
    the staging table only once its key is known not to have been used."""
    body = _HashingBody(request)
    if request.format == "json":
        refusal: Unprocessable | Forbidden | None = None
        try:
            staged = (
                await _stage_json(body)
                if request.translate is None
                else await _stage_translated(body, request.translate)
            )
            catalogue = await metrics_api.knowing(
                catalogue, areas=staged.codes.places, metrics=staged.codes.metrics
            )
            _authorise_places(principal, catalogue, staged.codes.places)
            known = _known_places(catalogue, staged.codes)
        except (Unprocessable, Forbidden) as problem:
            # Refused only after the replay check: a used key with another body is a 409.
            refusal, known = problem, []
        if (earlier := await _earlier(session, principal, request, places=known)) is not None:
            return _replay(request.idempotency_key, earlier, body.digest())
        if refusal is not None:
            raise refusal
    else:
        if (earlier := await _earlier(session, principal, request, places=[])) is not None:
            return _replay(request.idempotency_key, earlier, await body.drain())
        staged = await _stage_csv(session, request, body)
        catalogue = await metrics_api.knowing(
            catalogue, areas=staged.codes.places, metrics=staged.codes.metrics
        )
        _authorise_places(principal, catalogue, staged.codes.places)
        await store.lock(session, idempotency=None, places=_known_places(catalogue, staged.codes))
    mode = staged.mode or SubmissionMode.atomic
    places = staged.codes.places

    submission_id = uuid.uuid4()
    savepoint = await session.begin_nested() if request.dry_run else None
    outcome = await store.take(
        session,
        json_rows=staged.json_rows,
        metrics=_metric_rows(catalogue, staged.codes.metrics),
        places=_place_rows(catalogue, staged.codes.places),
        framing_errors=staged.framing_errors,
        partial=mode is SubmissionMode.partial,
        max_errors=max_errors,
        submission_id=submission_id,
    )
    if savepoint is not None:
        await savepoint.rollback()
    if not outcome.written:
        if not request.dry_run:
            telemetry.count(catalogue, outcome.by_place, "rejected")
        raise _rejection(outcome, mode, request.format)

    row = Submission(
        id=submission_id,
        key_id=principal.key_id,
        format=request.format,
        mode=mode,
        status=SubmissionStatus.partially_accepted
        if outcome.rejected
        else SubmissionStatus.accepted,
        place_codes=places,
        accepted=outcome.accepted,
        rejected=outcome.rejected,
        superseded=outcome.superseded,
        unchanged=outcome.unchanged,
        error_count=outcome.error_count,
        errors=[e.model_dump() for e in outcome.errors],
        received_at=outcome.received_at,
        idempotency_key=None if request.dry_run else request.idempotency_key,
        request_sha256=body.digest(),
    )
    public = to_public(row, dry_run=request.dry_run)
    if request.dry_run:
        return public, False
    entry = audit.entry(
        actor=principal,
        action="submission.create",
        entity_type="submission",
        entity_id=str(submission_id),
        after=public.model_dump(mode="json", exclude={"errors"}),
    )
    await store.record(session, submission=row, entry=entry)
    telemetry.count_once_committed(session, catalogue, outcome.by_place, str(row.status))
    return public, False


async def replay(
    session: AsyncSession, *, principal: ApiPrincipal, idempotency_key: str, fingerprint: str
) -> SubmissionPublic | None:
    """The submission this key's Idempotency-Key already made, if any, held for this
    transaction (409 if it was made from another body): for a caller that must know before it
    builds the submission's body (services/ingest/dhis2)."""
    await hold(session, principal=principal, idempotency_key=idempotency_key, places=[])
    earlier = await store.submission_by_idempotency_key(
        session, key_id=principal.key_id, key=idempotency_key
    )
    if earlier is None:
        return None
    return _replay(idempotency_key, earlier, fingerprint)[0]


def _replay(
    idempotency_key: str | None, earlier: Submission, sha256: str
) -> tuple[SubmissionPublic, bool]:
    if sha256 != earlier.request_sha256:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was already used "
            f"with a different body (submission {earlier.id})."
        )
    return to_public(earlier), True


def _rejection(checked: store.Outcome, mode: SubmissionMode, format: str) -> Unprocessable:
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
    row = await store.submission(session, submission_id)
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
    # A submitter reads only the submissions its own key made.
    key_id = None if principal.has_role(Role.assessor) else principal.key_id
    count = await store.submission_count(session, key_id=key_id, place_code=place_code, since=since)
    rows = await store.submissions_page(
        session, key_id=key_id, place_code=place_code, since=since, limit=limit, offset=offset
    )
    return [to_public(r) for r in rows], count
