"""A place's data team: a CSV checked by ingest's dry run (its counts and row errors), then
submitted atomically or partially; the place's submissions and the returns still due.

The file is held in the server-side session between the two steps (bounded by
``MAX_UPLOAD_BYTES``), never in the page; ingest sees the signed-in key and decides what it may
submit, for which places (every row names its own).
"""

import uuid
from dataclasses import dataclass
from typing import Any

from services.common.errors import Forbidden, Problem, Unprocessable
from services.web.api import Caller, Peer, bounded
from services.web.pages import catalogue
from services.web.pages.places_service import completeness_table, completeness_window
from services.web.sessions import HeldUpload, Identity, WebSession
from services.web.tables import Row, Table, columns, moment

# A session holds at most one file this big: a few thousand rows of a place's returns, and no
# more than the web process can keep for every session it holds (docs/web.md).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
SUBMITTERS = frozenset({"submitter", "admin"})
MODES = ("atomic", "partial")


class UploadTooLarge(Problem):
    status, slug = 413, "upload-too-large"


@dataclass
class DataPage:
    place: dict[str, Any]
    crumbs: catalogue.Crumbs
    may_submit: bool
    upload: HeldUpload | None  # the file checked for this place, if any
    tables: list[Table]


async def place_in_scope(api: Caller, identity: Identity) -> str | None:
    """The place the key is scoped to first, or None: an unscoped key, or one scoped above
    place level, says which place it means."""
    if not identity.scopes:
        return None
    scope = await catalogue.area(api, identity.scopes[0])
    return scope["code"] if scope["level"] == "place" else None


async def places_to_choose(api: Caller, identity: Identity) -> list[dict[str, Any]]:
    """The places of the ICBs the key is scoped to, for it to choose from (a key scoped to a
    region or to nothing types the place's code instead)."""
    scopes = await bounded(catalogue.area(api, code) for code in identity.scopes)
    icbs = [area for area in scopes if area["level"] == "icb"]
    found = await bounded(catalogue.children(api, icb) for icb in icbs)
    return sorted((p for places in found for p in places), key=lambda p: p["name"])


def row_errors(errors: list[dict[str, Any]]) -> Table:
    return Table(
        "row-errors",
        "Row errors in the file",
        columns(("row", "Row", True), ("field", "Field"), ("code", "Code"), ("msg", "Message")),
        [Row(values={key: e[key] for key in ("row", "field", "code", "msg")}) for e in errors],
        empty="No row has an error.",
    )


def _submissions(rows: list[dict[str, Any]] | None, refused: str | None) -> Table:
    counts = ("accepted", "rejected", "superseded", "unchanged")
    return Table(
        "submissions",
        "Submissions for this place, newest first",
        columns(
            ("received_at", "Received"),
            ("status", "Status"),
            ("mode", "Mode"),
            *((key, key.capitalize(), True) for key in counts),
            ("id", "Submission"),
        ),
        [
            Row(
                values={key: row[key] for key in ("id", "received_at", "status", "mode", *counts)},
                shown={"received_at": moment(row["received_at"])},
            )
            for row in rows or []
        ],
        empty=refused or "No submission for this place yet.",
        key="id",
    )


async def data_page(api: Caller, code: str, session: WebSession) -> DataPage:
    assert session.identity is not None  # signed in
    place = await catalogue.area(api, code)
    try:
        submissions, refused = (
            await api.get_all(Peer.ingest, "/v1/submissions", place_code=code),
            None,
        )
    except Forbidden as problem:  # a viewer: ingest says who may read submissions
        submissions, refused = None, problem.detail
    first, last = completeness_window()
    window = {"from": first, "to": last}  # "from" is a Python word, not a keyword argument
    completeness = await api.get(Peer.ingest, "/v1/completeness", area=code, **window)
    upload = session.upload if session.upload and session.upload.place_code == code else None
    crumbs = await catalogue.crumbs(api, place)
    return DataPage(
        place=place,
        crumbs=[*crumbs[:-1], (place["name"], f"/places/{code}"), ("Data returns", None)],
        may_submit=session.identity.role in SUBMITTERS,
        upload=upload,
        tables=[
            *([row_errors(upload.dry_run["errors"])] if upload else []),
            _submissions(submissions, refused),
            completeness_table(completeness, await catalogue.metrics_by_code(api)),
        ],
    )


async def check(
    api: Caller, session: WebSession, code: str, filename: str, body: bytes
) -> HeldUpload:
    """Ingest's dry run of the file (in partial mode, so that it counts what would be stored
    beside what would not), held in the session with a new Idempotency-Key for its
    submission. A refusal other than invalid rows (403: not a submitter, or a place out of
    scope) is raised, and nothing is held."""
    if len(body) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The file is {len(body):,} bytes; the page takes at most {MAX_UPLOAD_BYTES:,}. "
            "Split it, or send it to ingest's POST /v1/submissions directly."
        )
    key = str(uuid.uuid4())
    try:
        answer = await api.post_csv(
            Peer.ingest, "/v1/submissions", body, idempotency_key=key, mode="partial", dry_run=True
        )
    except Unprocessable as problem:  # every row invalid: ingest lists them
        errors = problem.errors or []
        answer = {
            "detail": problem.detail,
            "accepted": 0,
            "rejected": len({e["row"] for e in errors}),
            "errors": errors,
        }
    session.upload = HeldUpload(code, filename, body, key, answer)
    return session.upload


async def submit(api: Caller, session: WebSession, code: str, mode: str) -> dict[str, Any]:
    """The held file, stored by ingest with the upload's Idempotency-Key."""
    upload = session.upload
    if upload is None or upload.place_code != code:
        raise Unprocessable(
            "There is no checked file to submit for this place (the session ended, or another "
            "file was checked since); upload it again.",
            errors=[{"loc": ["form", "file"], "msg": "no checked file", "type": "missing"}],
        )
    if mode not in MODES:
        raise Unprocessable(
            f"Choose atomic or partial, not {mode!r}.",
            errors=[{"loc": ["form", "mode"], "msg": "atomic or partial", "type": "enum"}],
        )
    upload.submitted = await api.post_csv(
        Peer.ingest,
        "/v1/submissions",
        upload.body,
        idempotency_key=upload.idempotency_key,
        mode=mode,
    )
    return upload.submitted
