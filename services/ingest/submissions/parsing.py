"""Turning a request body into staged rows: JSON parsed whole (it is small), CSV streamed.

Rows are written to PostgreSQL's COPY as CSV text with their row number in front, in chunks, so
a million-row upload never sits whole in memory and no Python object is made per row beyond the
csv module's own. Framing faults (column count, bad UTF-8, NUL bytes) are row errors found here;
every other check is made in SQL on the staged rows.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from pydantic import ValidationError

from services.common.errors import Unprocessable, field_error
from services.ingest.submissions.schemas import CSV_COLUMNS, RowError, SubmissionIn

FLUSH_BYTES = 1 << 20
# A quoted field may hold newlines; a record longer than this is a stray quote, not data.
MAX_RECORD_BYTES = 1 << 20
_UNSAFE = re.compile("[\x00\udc80-\udcff]")


class CopyBuffer:
    """Collects staged rows as CSV text and hands them to COPY in large chunks."""

    def __init__(self, write: Callable[[str], Awaitable[None]]) -> None:
        self._write = write
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")
        self.rows = 0

    async def add(self, row_no: int, fields: list[object]) -> None:
        self._csv.writerow((row_no, *fields))
        self.rows += 1
        if self._buffer.tell() >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer.tell():
            await self._write(self._buffer.getvalue())
            self._buffer.seek(0)
            self._buffer.truncate()


def parse_json(body: bytes) -> SubmissionIn:
    if not body.strip():
        raise Unprocessable("The request body is empty; send a JSON submission.",
                            errors=[field_error([], "empty body")])
    try:
        document = json.loads(body)
    except UnicodeDecodeError as exc:
        raise Unprocessable(f"The body is not valid UTF-8 (byte {exc.start}).",
                            errors=[field_error([], "invalid UTF-8")]) from None
    except json.JSONDecodeError as exc:
        raise Unprocessable(f"The body is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}.",
                            errors=[field_error([], f"malformed JSON: {exc.msg}")]) from None
    try:
        return SubmissionIn.model_validate(document)
    except ValidationError as exc:
        errors = [field_error([str(p) for p in e["loc"]], e["msg"]) for e in exc.errors()]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        raise Unprocessable(f"The submission is not valid: {where}", errors=errors) from None


async def stage_json(submission: SubmissionIn, buffer: CopyBuffer) -> list[RowError]:
    for row_no, obs in enumerate(submission.observations, start=1):
        await buffer.add(row_no, [submission.place_code, obs.metric_code, obs.period, obs.value,
                                  obs.numerator, obs.denominator, obs.note])
    await buffer.flush()
    return [RowError(row=row_no, field="note", code="bad_character",
                     msg="the note contains a NUL character")
            for row_no, obs in enumerate(submission.observations, start=1)
            if obs.note and "\x00" in obs.note]


class CsvStager:
    """Reads a CSV body chunk by chunk and stages its records."""

    def __init__(self, buffer: CopyBuffer) -> None:
        self.buffer = buffer
        self.errors: list[RowError] = []
        self.records = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._pending = ""
        self._header_seen = False

    async def feed(self, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            self._pending += self._decoder.decode(chunk)
            await self._stage_complete_records()
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            self._pending += "\n"
            await self._stage_complete_records()
        if self._pending:
            raise Unprocessable(
                f"A quoted field that starts after row {self.records} is never closed.",
                errors=[field_error([self.records + 1], "unterminated quoted field")])
        if not self._header_seen:
            raise Unprocessable("The CSV body is empty; send a header and data rows.",
                                errors=[field_error([], "empty body")])
        await self.buffer.flush()

    async def _stage_complete_records(self) -> None:
        cut = _last_record_boundary(self._pending)
        if cut < 0:
            if len(self._pending) > MAX_RECORD_BYTES:
                raise Unprocessable(
                    f"A quoted field that starts after row {self.records} is never closed.",
                    errors=[field_error([self.records + 1], "unterminated quoted field")])
            return
        text, self._pending = self._pending[:cut], self._pending[cut:]
        if not self._header_seen:
            text = self._check_header(text)
        suspicious = _UNSAFE.search(text) is not None
        for fields in csv.reader(io.StringIO(text)):
            if not fields:
                continue  # blank lines are not records
            self.records += 1
            if len(fields) != len(CSV_COLUMNS):
                self._reject(f"expected {len(CSV_COLUMNS)} columns, found {len(fields)}",
                             "column_count")
            elif suspicious and any(_UNSAFE.search(f) for f in fields):
                self._reject("the row has bytes that are not valid UTF-8 (or a NUL byte)",
                             "encoding")
            else:
                await self.buffer.add(self.records, fields)

    def _reject(self, msg: str, code: str) -> None:
        self.errors.append(RowError(row=self.records, field="row", code=code, msg=msg))

    def _check_header(self, text: str) -> str:
        first_line, _, rest = text.partition("\n")
        header = first_line.removeprefix("\ufeff").rstrip("\r")
        expected = ",".join(CSV_COLUMNS)
        if header.replace(" ", "") != expected:
            raise Unprocessable(f"The CSV header must be exactly {expected!r}; got {header!r}.",
                                errors=[field_error(["header"], f"expected {expected}")])
        self._header_seen = True
        return rest


def _last_record_boundary(text: str) -> int:
    """Index just after the last newline that ends a record (one outside any quoted field).

    Pending text always starts at a record boundary, so a newline ends a record exactly when an
    even number of quote characters comes before it.
    """
    cut = text.rfind("\n")
    if cut < 0:
        return -1
    odd = text.count('"', 0, cut) % 2
    while odd:
        earlier = text.rfind("\n", 0, cut)
        if earlier < 0:
            return -1
        odd ^= text.count('"', earlier, cut) % 2
        cut = earlier
    return cut + 1
