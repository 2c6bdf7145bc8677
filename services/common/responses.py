"""How responses are shaped: pagination, the list envelope, ETags, CSV for lists."""

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from services.common.errors import PreconditionFailed
from services.common.etag import Representation, etag_list, matches, not_modified

T = TypeVar("T")


class Pagination(BaseModel):
    limit: int
    offset: int


def _pagination(
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page")] = 100,
    # PostgreSQL's OFFSET is a bigint: a larger one is invalid input (422), not a failed query.
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Rows to skip")] = 0,
) -> Pagination:
    return Pagination(limit=limit, offset=offset)


PageDep = Annotated[Pagination, Depends(_pagination)]


class ListPublic(BaseModel, Generic[T]):
    """Every list: one page of rows and the count of all rows matching the filters."""

    data: list[T]
    count: int


def _etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def render_json(payload: Any) -> bytes:
    # pydantic writes a model's JSON itself, many times faster than encoding it field by field
    # (a megabyte performance table); its field order is fixed, so the ETag is stable.
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(by_alias=True).encode()
    return json.dumps(
        jsonable_encoder(payload), separators=(",", ":"), ensure_ascii=False, sort_keys=True
    ).encode()


def json_representation(payload: Any) -> Representation:
    return Representation(render_json(payload), "application/json")


def etag_of(payload: Any) -> str:
    return _etag_of(render_json(payload))


def with_etag(request: Request, payload: Any, *, status_code: int = 200) -> Response:
    """The JSON response with a strong ETag; 304 when ``If-None-Match`` already has it."""
    body = render_json(payload)
    etag = _etag_of(body)
    # 304 answers a read only; a write has already happened and must say what it made.
    is_read = request.method in ("GET", "HEAD")
    if is_read and status_code == 200 and matches(request.headers.get("if-none-match"), etag):
        return not_modified(etag)
    return Response(
        body, status_code=status_code, media_type="application/json", headers={"ETag": etag}
    )


def check_if_match(request: Request, current_payload: Any) -> None:
    """Optimistic concurrency: refuse a write based on a representation that is out of date."""
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    current = etag_of(current_payload)
    if current not in etag_list(wanted):
        raise PreconditionFailed(
            f"If-Match {wanted} does not match the current ETag {current}; "
            f"fetch the resource again and retry."
        )


def wants_csv(request: Request) -> bool:
    """Content negotiation for lists: CSV only when the client asks for it by name."""
    accept = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() == "text/csv" for part in accept.split(","))


# A spreadsheet runs a cell that begins with one of these as a formula (tab and carriage return
# are stripped first, and what follows may be one), so an export could carry a command to the
# assessor who opens it (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTES = (",", '"', "\r", "\n")


def csv_cell(value: Any) -> str:
    """One CSV field as the csv module would write it (RFC 4180 quoting, None empty), except that
    text a spreadsheet would run is neutralised as OWASP advises: prefixed with a single quote,
    which spreadsheets show as text, and quoted. Only text: a number (say -3.5) stays a number."""
    if value is None:
        return ""
    if isinstance(value, bool):  # as JSON writes it, not Python's True/False
        return "true" if value else "false"
    # str.__str__ keeps the text of a str subclass (an enum's value, not its name).
    text = str.__str__(value) if isinstance(value, str) else str(value)
    if isinstance(value, str) and text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    elif not any(char in text for char in _NEEDS_QUOTES):
        return text
    return '"' + text.replace('"', '""') + '"'


def _csv_line(cells: Iterable[Any]) -> str:
    return ",".join(csv_cell(cell) for cell in cells) + "\n"


def _csv_row(fields: Sequence[str], row: Mapping[str, Any]) -> str:
    return _csv_line(row.get(name) for name in fields)


_CSV_TYPE = "text/csv; charset=utf-8"


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(
    fields: Sequence[str], rows: AsyncIterator[Mapping[str, Any]], *, filename: str
) -> StreamingResponse:
    """Stream rows as CSV (only ``fields``, in order) in chunks of about 64 KB."""

    async def chunks() -> AsyncIterator[str]:
        buffer = [_csv_line(fields)]
        size = 0
        async for row in rows:
            line = _csv_row(fields, row)
            buffer.append(line)
            size += len(line)
            if size > 64 * 1024:
                yield "".join(buffer)
                buffer, size = [], 0
        yield "".join(buffer)

    return StreamingResponse(chunks(), media_type=_CSV_TYPE, headers=_attachment(filename))


def csv_representation(
    fields: Sequence[str], rows: Iterable[Mapping[str, Any]], *, filename: str
) -> Representation:
    """The same CSV as ``csv_response``, whole, for an answer that is kept and sent again."""
    text = _csv_line(fields) + "".join(_csv_row(fields, row) for row in rows)
    return Representation(text.encode(), _CSV_TYPE, _attachment(filename))
