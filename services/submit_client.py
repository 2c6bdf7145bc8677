"""`joinedup submit FILE.csv`: send a place's CSV to ingest and say plainly what became of it;
with `--format fhir`, a FHIR Bundle or MeasureReport to ingest's FHIR routes (read whole: such
a file is a month of a place's reports, not a national load).

The file is never read whole: one streaming pass hashes it for the idempotency key, a second
sends it in chunks. The key is what makes retrying safe: ingest answers a repeat with its first
response instead of storing the rows again, so connection failures and 503s are retried, and
running the command twice on the same file stores it once.
"""

import contextlib
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import httpx
import typer

from services.common.http import (
    RETRYABLE_ERRORS,
    RETRYABLE_STATUSES,
    Backoff,
    json_object,
    parse_retry_after,
    problem_detail,
)
from services.common.vocabulary import SubmissionMode, SubmitFormat

CHUNK_BYTES = 256 * 1024
PROGRESS_FROM_BYTES = 256 * 1024  # a smaller file is sent in a blink; a bar would only flicker
PROGRESS_STEPS = 4  # without a terminal (a log, a pipe): one line per quarter sent
BACKOFF = Backoff(base_s=0.5, max_s=8.0, max_retry_after_s=60.0)
CONNECT_TIMEOUT_S = 10.0
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # what ingest accepts


class Exit(IntEnum):
    accepted = 0  # wholly or partially
    refused = 1  # rows rejected (422), or the request refused (401/403/409/413/415)
    usage = 2
    unavailable = 3  # unreachable or failing through every retry


class SubmitFailed(Exception):
    """The submission ended without a result to show; ``str()`` says why, for one line."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Upload:
    path: Path
    url: str
    key: str = field(repr=False)  # never printed, not even in a traceback
    mode: SubmissionMode = SubmissionMode.atomic
    dry_run: bool = False
    # dhis2: a dataValueSets file, JSON or CSV; fhir: a Bundle or a MeasureReport, JSON
    format: SubmitFormat = SubmitFormat.native
    idempotency_key: str | None = None  # None: derived from the file's content and the mode
    timeout_s: float = 120.0
    retries: int = 5
    show_errors: int = 50


def submit(upload: Upload) -> Exit:
    """Send the file, print the outcome, and return the exit code; ``SubmitFailed`` when there
    is no outcome to print (the file, the address, a refusal or an outage)."""
    fhir = upload.format is SubmitFormat.fhir
    endpoint = _fhir_endpoint(upload) if fhir else _endpoint(upload.url, upload.format)
    idempotency_key = upload.idempotency_key or derived_idempotency_key(
        upload.path, upload.mode, upload.format
    )
    if not IDEMPOTENCY_KEY.match(idempotency_key):
        raise SubmitFailed("--idempotency-key must be 1-255 visible ASCII characters.", Exit.usage)
    response, attempts = _post(upload, endpoint, idempotency_key)
    body = json_object(response)
    if fhir:
        return _fhir_result(response, body, upload)
    dhis2_summary = upload.format is SubmitFormat.dhis2 and "importCount" in body
    if dhis2_summary and response.status_code in (200, 409):
        return _print_import_summary(
            body, upload, replayed=response.headers.get("idempotent-replayed") == "true"
        )
    if response.status_code == 201:
        _print_result(
            body,
            upload,
            idempotency_key=idempotency_key,
            replayed=response.headers.get("idempotent-replayed") == "true",
            retried=attempts > 1,
        )
        return Exit.accepted
    if response.status_code == 422:
        _print_rejection(body, upload)
        return Exit.refused
    why = f"({response.status_code} {response.reason_phrase}): {problem_detail(response)}"
    if response.status_code < 500:
        raise SubmitFailed(f"ingest refused the submission {why}", Exit.refused)
    raise SubmitFailed(f"ingest failed {why}", Exit.unavailable)


def _fhir_endpoint(upload: Upload) -> str:
    """/fhir for a Bundle (its type says atomic or partial), /fhir/MeasureReport for one."""
    if upload.dry_run or upload.mode is not SubmissionMode.atomic:
        raise SubmitFailed(
            "--format fhir takes neither --dry-run nor --mode: a transaction Bundle is "
            "atomic, a batch Bundle partial.",
            Exit.usage,
        )
    with _reading(upload.path), upload.path.open("rb") as file:
        try:
            kind = json.load(file).get("resourceType")
        except (ValueError, AttributeError):
            kind = None
    paths = {"Bundle": "/fhir", "MeasureReport": "/fhir/MeasureReport"}
    if kind not in paths:
        raise SubmitFailed(
            f"{upload.path} is not a FHIR Bundle or MeasureReport in JSON.", Exit.usage
        )
    return _endpoint(upload.url).removesuffix("/v1/submissions") + paths[kind]


def _fhir_result(response: httpx.Response, body: dict[str, Any], upload: Upload) -> Exit:
    """A FHIR answer: a created report, a batch- or transaction-response Bundle, or an
    OperationOutcome; its errors printed as the row table, each entry as its row."""
    if response.status_code == 201:
        typer.echo("MeasureReport stored.")
        return Exit.accepted
    if response.status_code == 200 and body.get("resourceType") == "Bundle":
        entries = [e for e in body.get("entry") or [] if isinstance(e, dict)]
        statuses = [str((e.get("response") or {}).get("status", "")) for e in entries]
        stored = sum(status.startswith("201") for status in statuses)
        typer.echo(f"{body.get('type')}: {stored} of {len(entries)} MeasureReports stored.")
        issues = [
            issue
            for e in entries
            for issue in (((e.get("response") or {}).get("outcome") or {}).get("issue") or [])[1:]
        ]
        _print_errors({"errors": _issue_rows(issues)}, upload.show_errors, _ENTRY_ROWS)
        return Exit.accepted if stored else Exit.refused
    issues = body.get("issue") or [{}]
    detail = issues[0].get("diagnostics") or response.reason_phrase
    if response.status_code == 422:
        typer.echo(f"Rejected: {detail}")
        _print_errors({"errors": _issue_rows(issues[1:])}, upload.show_errors, _ENTRY_ROWS)
        return Exit.refused
    why = f"({response.status_code} {response.reason_phrase}): {detail}"
    if response.status_code < 500:
        raise SubmitFailed(f"ingest refused the submission {why}", Exit.refused)
    raise SubmitFailed(f"ingest failed {why}", Exit.unavailable)


_ENTRY_ROWS = "row 1 is Bundle.entry[0]"
_ENTRY = re.compile(r"^Bundle\.entry\[([0-9]+)\]")


def _issue_rows(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OperationOutcome issues as rows of the error table: the entry, where (a FHIRPath),
    code, message."""
    return [
        {
            "row": int(entry.group(1)) + 1
            if (entry := _ENTRY.match(",".join(issue.get("expression") or [])))
            else "",
            "field": ",".join(issue.get("expression") or []),
            "code": ",".join(
                str(c.get("code")) for c in (issue.get("details") or {}).get("coding") or []
            ),
            "msg": issue.get("diagnostics", ""),
        }
        for issue in issues
        if isinstance(issue, dict)
    ]


def derived_idempotency_key(
    path: Path, mode: SubmissionMode, format: SubmitFormat = SubmitFormat.native
) -> str:
    """The same file in the same mode gives the same key, so a second run is a replay."""
    with _reading(path), path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    # The same bytes as a DHIS2 file are another request, so another key.
    suffix = "" if format is SubmitFormat.native else f":{format.value}"
    return f"file-sha256:{digest}:{mode.value}{suffix}"


def _endpoint(url: str, format: SubmitFormat = SubmitFormat.native) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SubmitFailed(f"--url {url!r} is not a URL: {exc}", Exit.usage) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SubmitFailed(
            f"--url must be ingest's http(s) address, such as http://127.0.0.1:8003, not {url!r}",
            Exit.usage,
        )
    path = "/v1/dhis2/dataValueSets" if format is SubmitFormat.dhis2 else "/v1/submissions"
    return f"{url.rstrip('/')}{path}"


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise SubmitFailed(f"cannot read {path}: {exc.strerror or exc}", Exit.usage) from None


@dataclass(frozen=True)
class _NotNow:
    """An attempt that may succeed later: why it failed and how long to wait."""

    reason: str
    pause_s: float


def _post(upload: Upload, endpoint: str, idempotency_key: str) -> tuple[httpx.Response, int]:
    """ingest's answer, and how many attempts it took; ``SubmitFailed`` once every attempt
    met a connection failure or a "not now" status."""
    with _reading(upload.path):
        size = upload.path.stat().st_size
    # Content-Length rather than chunked: ingest can refuse an oversized file (413) at once.
    fhir = upload.format is SubmitFormat.fhir
    headers = {
        "Authorization": f"Bearer {upload.key}",
        "Content-Type": _content_type(upload),
        "Content-Length": str(size),
        "Idempotency-Key": idempotency_key,
        "Accept": "application/fhir+json" if fhir else "application/json, application/problem+json",
        "User-Agent": "joinedup-submit",
    }
    params = _params(upload)
    timeout = httpx.Timeout(upload.timeout_s, connect=min(CONNECT_TIMEOUT_S, upload.timeout_s))
    attempts = upload.retries + 1
    with httpx.Client(timeout=timeout) as client:
        for attempt in range(1, attempts + 1):
            with _progress(upload.path, size) as sent:
                outcome = _attempt(
                    client,
                    upload,
                    size,
                    sent,
                    url=endpoint,
                    params=params,
                    headers=headers,
                    attempt=attempt,
                )
            if isinstance(outcome, httpx.Response):
                return outcome, attempt
            refusal = outcome
            if attempt < attempts:
                _note(
                    f"{refusal.reason}; trying again in {refusal.pause_s:.1f} s "
                    f"(attempt {attempt + 1} of {attempts})"
                )
                time.sleep(refusal.pause_s)
    # "Nothing was stored" would be a guess: a timed-out attempt may have been taken.
    raise SubmitFailed(
        f"{refusal.reason}; gave up after {attempts} attempts. Run the same "
        f"command again later: should ingest have taken the file after all, it "
        f"answers with that result rather than storing it twice.",
        Exit.unavailable,
    )


def _content_type(upload: Upload) -> str:
    """FHIR is JSON; a DHIS2 file is JSON if it starts as JSON does (or is named .json), else
    DHIS2's CSV."""
    if upload.format is SubmitFormat.native:
        return "text/csv"
    if upload.format is SubmitFormat.fhir:
        return "application/fhir+json"
    with _reading(upload.path), upload.path.open("rb") as file:
        start = file.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    is_json = upload.path.suffix.lower() == ".json" or start.startswith(b"{")
    return "application/json" if is_json else "application/csv"


def _params(upload: Upload) -> dict[str, str]:
    if upload.format is SubmitFormat.fhir:
        return {}  # a Bundle says its own mode (transaction or batch); no dry run
    if upload.format is SubmitFormat.dhis2:
        # --mode keeps its meaning: atomic is DHIS2's atomicMode=ALL.
        atomic = "ALL" if upload.mode is SubmissionMode.atomic else "NONE"
        return {"atomicMode": atomic} | ({"dryRun": "true"} if upload.dry_run else {})
    return {"mode": upload.mode.value} | ({"dry_run": "true"} if upload.dry_run else {})


def _attempt(
    client: httpx.Client,
    upload: Upload,
    size: int,
    sent: Callable[[int], None],
    *,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    attempt: int,
) -> httpx.Response | _NotNow:
    try:
        with _reading(upload.path):
            response = client.post(
                url, params=params, headers=headers, content=_chunks(upload.path, size, sent)
            )
    except RETRYABLE_ERRORS as exc:
        return _NotNow(
            f"cannot reach ingest at {upload.url} ({type(exc).__name__}: {exc})",
            BACKOFF.pause(attempt - 1),
        )
    except httpx.HTTPError as exc:  # the request itself is wrong, e.g. the file changed size
        raise SubmitFailed(f"the request could not be sent: {exc}", Exit.refused) from None
    if response.status_code not in RETRYABLE_STATUSES:
        return response
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    return _NotNow(
        f"ingest answered {response.status_code} ({problem_detail(response)})",
        BACKOFF.pause(attempt - 1, retry_after),
    )


def _chunks(path: Path, size: int, sent: Callable[[int], None]) -> Iterator[bytes]:
    """The file as it was measured: a file growing meanwhile cannot overrun Content-Length."""
    remaining = size
    with path.open("rb") as file:
        while remaining and (chunk := file.read(min(CHUNK_BYTES, remaining))):
            remaining -= len(chunk)
            sent(len(chunk))
            yield chunk


@contextlib.contextmanager
def _progress(path: Path, size: int) -> Iterator[Callable[[int], None]]:
    """Reports bytes sent: a live bar on a terminal, a line per quarter in a log."""
    if size < PROGRESS_FROM_BYTES:
        yield lambda _: None
    elif sys.stderr.isatty():
        with typer.progressbar(
            length=size, label=f"sending {path.name} ({_megabytes(size)})", file=sys.stderr
        ) as bar:
            yield bar.update
    else:
        yield _ProgressLines(size).update


class _ProgressLines:
    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0
        self.step = 0

    def update(self, sent: int) -> None:
        self.sent += sent
        while self.step < PROGRESS_STEPS and self.sent * PROGRESS_STEPS >= self.size * (
            self.step + 1
        ):
            self.step += 1
            waiting = "; waiting for ingest to check the rows" if self.sent == self.size else ""
            _note(
                f"sent {100 * self.step // PROGRESS_STEPS}% ({_megabytes(self.sent)} of "
                f"{_megabytes(self.size)}){waiting}"
            )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _note(message: str) -> None:
    """Progress and retries go to stderr, so stdout holds only the outcome."""
    typer.echo(message, err=True)


def _print_result(
    body: dict[str, Any], upload: Upload, *, idempotency_key: str, replayed: bool, retried: bool
) -> None:
    status = str(body.get("status", "accepted")).replace("_", " ")
    typer.echo(f"Submission {body.get('id')} {status} ({upload.mode.value} mode).")
    for count in ("accepted", "rejected", "superseded", "unchanged"):
        typer.echo(f"  {count:<11}{body.get(count, 0):>10,}")
    if body.get("rejected"):
        typer.echo("Partially accepted: the valid rows were stored; the rows below were not.")
    if upload.dry_run:
        typer.echo("Dry run: ingest checked the rows and stored nothing.")
    if replayed:
        earlier = (
            "an earlier attempt of this run reached it" if retried else "this file was sent before"
        )
        typer.echo(
            f"Replayed: ingest already had Idempotency-Key {idempotency_key} "
            f"({earlier}); this is its first answer and nothing new was stored. "
            f"To send the same file again on purpose, pass another --idempotency-key."
        )
    _print_errors(body, upload.show_errors)


def _print_import_summary(body: dict[str, Any], upload: Upload, *, replayed: bool) -> Exit:
    """DHIS2's import summary: its status, counts and conflicts (each with its data values)."""
    typer.echo(f"Import {body.get('status')}: {body.get('description', '')}")
    counts = body.get("importCount") or {}
    for count in ("imported", "updated", "ignored", "deleted"):
        typer.echo(f"  {count:<11}{counts.get(count, 0):>10,}")
    if replayed:
        typer.echo("Replayed: ingest already had this file; nothing new was stored.")
    conflicts = [c for c in body.get("conflicts") or [] if isinstance(c, dict)]
    if conflicts:
        typer.echo(f"\n{len(conflicts):,} conflicts (data values counted from 0):")
        shown = conflicts[: upload.show_errors]
        rows = [
            {
                "row": ",".join(str(i) for i in c.get("indexes") or []),
                "field": c.get("property"),
                "code": c.get("errorCode"),
                "msg": c.get("value"),
            }
            for c in shown
        ]
        for line in error_table(rows):
            typer.echo(f"  {line}")
    return Exit.refused if body.get("status") == "ERROR" else Exit.accepted


def _print_rejection(body: dict[str, Any], upload: Upload) -> None:
    typer.echo(f"Rejected: {body.get('detail') or 'ingest refused the rows.'}")
    _print_errors(body, upload.show_errors)
    if upload.mode is SubmissionMode.atomic and body.get("rejected"):
        typer.echo(
            "Fix these rows and submit again, or pass --mode partial to store the valid rows now."
        )


def _print_errors(
    body: dict[str, Any], limit: int, rows_are: str = "row 1 is the first line after the header"
) -> None:
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    total = max(int(body.get("error_count") or 0), len(errors))
    if not total:
        return
    typer.echo(f"\n{total:,} error{'s' if total != 1 else ''} ({rows_are}):")
    for line in error_table(errors[:limit]):
        typer.echo(f"  {line}")
    if (more := total - min(limit, len(errors))) > 0:
        typer.echo(f"  ... and {more:,} more not shown")


def error_table(errors: list[dict[str, Any]]) -> list[str]:
    """Row errors as aligned lines: row, field, code, then the message, which may run on."""
    rows = [
        (
            str(e.get("row", "")),
            str(e.get("field") or _location(e)),
            str(e.get("code") or e.get("type") or ""),
            str(e.get("msg", "")),
        )
        for e in errors
    ]
    if not rows:
        return []
    header = ("row", "field", "code", "message")
    row_w, field_w, code_w = (max(len(r[i]) for r in (header, *rows)) for i in range(3))
    return [
        f"{row:>{row_w}}  {field:<{field_w}}  {code:<{code_w}}  {msg}".rstrip()
        for row, field, code, msg in (header, *rows)
    ]


def _location(error: dict[str, Any]) -> str:
    """Where an error without a row and field is (a wrong header, an unreadable line)."""
    return ".".join(str(part) for part in error.get("loc") or [])
