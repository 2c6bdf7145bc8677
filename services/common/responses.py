"""How responses are shaped: pagination, the list envelope, ETags, CSV for lists."""

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from services.common.errors import PreconditionFailed

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


def _render(payload: Any) -> bytes:
    # pydantic writes a model's JSON itself, many times faster than encoding it field by field
    # (a megabyte performance table); its field order is fixed, so the ETag is stable.
    if isinstance(payload, BaseModel):
        return payload.model_dump_json(by_alias=True).encode()
    return json.dumps(jsonable_encoder(payload), separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True).encode()


def etag_of(payload: Any) -> str:
    return _etag_of(_render(payload))


def with_etag(request: Request, payload: Any, *, status_code: int = 200) -> Response:
    """The JSON response with a strong ETag; 304 when ``If-None-Match`` already has it."""
    body = _render(payload)
    etag = _etag_of(body)
    wanted = request.headers.get("if-none-match", "")
    # 304 answers a read only; a write has already happened and must say what it made.
    is_read = request.method in ("GET", "HEAD")
    if is_read and status_code == 200 and (wanted.strip() == "*" or etag in _etag_list(wanted)):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, status_code=status_code, media_type="application/json",
                    headers={"ETag": etag})


def check_if_match(request: Request, current_payload: Any) -> None:
    """Optimistic concurrency: refuse a write based on a representation that is out of date."""
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    current = etag_of(current_payload)
    if current not in _etag_list(wanted):
        raise PreconditionFailed(f"If-Match {wanted} does not match the current ETag {current}; "
                                 f"fetch the resource again and retry.")


def _etag_list(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]




def wants_csv(request: Request) -> bool:
    """Content negotiation for lists: CSV only when the client asks for it by name."""
    accept = request.headers.get("accept", "")
    return any(part.split(";", 1)[0].strip().lower() == "text/csv" for part in accept.split(","))


def csv_response(fields: Sequence[str], rows: AsyncIterator[Mapping[str, Any]],
                 *, filename: str) -> StreamingResponse:
    """Stream rows as CSV in chunks of a few thousand lines."""

    async def chunks() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        async for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
