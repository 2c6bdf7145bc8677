"""Turning a request body into staged rows: JSON parsed whole (it is small), CSV streamed.

A JSON submission's rows become one JSON array, a parameter of the statement that checks them.
A CSV's rows are written to PostgreSQL's COPY as CSV text with their row number in front, in
chunks, so a million-row upload never sits whole in memory and no Python object is made per row
beyond the csv module's own. Framing faults (column count, bad UTF-8, NUL bytes) are row errors
found here; every other check is made in SQL on the staged rows.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from services.common.errors import Unprocessable, field_error
from services.ingest.submissions.schemas import CSV_COLUMNS, RowError, SubmissionIn

Body = TypeVar("Body", bound=BaseModel)
FLUSH_BYTES = 1 << 20
# A quoted field may hold newlines; a record longer than this is a stray quote, not data.
MAX_RECORD_BYTES = 1 << 20
# Text PostgreSQL cannot store: NUL, and lone surrogates (a CSV's undecodable bytes arrive as
# \udc80-\udcff by surrogateescape; a JSON string can escape any of them).
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_ENCODING_MSG = "the {} has bytes that are not valid UTF-8, or a NUL character"


class CopyBuffer:
    """Collects staged rows as CSV text and hands them to COPY in large chunks."""

    def __init__(self, write: Callable[[str], Awaitable[None]]) -> None:
        self._write = write
        self._buffer = io.StringIO()
        # CRLF, so that the writer quotes a field holding a lone CR as well as one holding LF:
        # COPY would end the record at an unquoted CR (a place code or note may hold one).
        self._csv = csv.writer(self._buffer, lineterminator="\r\n")

    async def add(self, row_no: int, fields: Sequence[object]) -> None:
        self._csv.writerow((row_no, *fields))
        if self._buffer.tell() >= FLUSH_BYTES:
            await self.flush()

    async def add_records(self, text: str) -> None:
        """Records already written as COPY reads them, each with its row number in front."""
        self._buffer.write(text)
        if self._buffer.tell() >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer.tell():
            await self._write(self._buffer.getvalue())
            self._buffer.seek(0)
            self._buffer.truncate()


def parse_json(body: bytes) -> SubmissionIn:
    return parse_json_as(SubmissionIn, body)


def parse_json_as(model: type[Body], body: bytes) -> Body:
    """A JSON body as ``model``, every fault a 422 naming where it is."""
    if not body.strip():
        raise Unprocessable(
            "The request body is empty; send a JSON submission.",
            errors=[field_error([], "empty body")],
        )
    try:
        # Numbers keep their text: the row checks parse them, so NaN, 1e999 or a 5000-digit
        # integer is a row error quoting what was sent, not a float Python made of it.
        document = json.loads(body, parse_float=str, parse_constant=str, parse_int=_int_or_text)
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"The body is not valid UTF-8 (byte {exc.start}).",
            errors=[field_error([], "invalid UTF-8")],
        ) from None
    except json.JSONDecodeError as exc:
        raise Unprocessable(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            errors=[field_error([], f"malformed JSON: {exc.msg}")],
        ) from None
    except RecursionError:
        raise Unprocessable(
            "The body nests arrays or objects too deeply to be a submission.",
            errors=[field_error([], "nested too deeply")],
        ) from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = [field_error([str(p) for p in e["loc"]], e["msg"]) for e in exc.errors()]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        raise Unprocessable(f"The submission is not valid: {where}", errors=errors) from None


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:  # longer than Python converts (4300 digits): no float holds it either
        return text


def _encoding_error(row_no: int, fields: list) -> RowError | None:
    """A row error for the first field holding text PostgreSQL cannot store, if any."""
    for name, field in zip(CSV_COLUMNS, fields, strict=True):
        if isinstance(field, str) and _UNSAFE.search(field):
            return RowError(row=row_no, field=name, code="encoding", msg=_ENCODING_MSG.format(name))
    return None


def json_rows(submission: SubmissionIn) -> tuple[str, list[RowError]]:
    """The rows of a JSON submission as one JSON array for the row checks, each field as the
    text a CSV cell would hold, and the rows refused for their encoding."""
    return numbered_rows(
        (
            row_no,
            [
                submission.place_code,
                obs.metric_code,
                obs.period,
                obs.value,
                obs.numerator,
                obs.denominator,
                obs.note,
            ],
        )
        for row_no, obs in enumerate(submission.observations, start=1)
    )


def numbered_rows(numbered: Iterable[tuple[int, Sequence[object]]]) -> tuple[str, list[RowError]]:
    """Rows already read (a JSON submission's, or those a standard's document translates to,
    services/ingest/fhir), each with its row number and its fields in CSV_COLUMNS order, as
    the JSON array the row checks read, and the rows refused for their encoding."""
    rows, errors = [], []
    for row_no, fields in numbered:
        if error := _encoding_error(row_no, list(fields)):
            errors.append(error)
        else:
            cells = (None if field is None else str(field) for field in fields)
            rows.append({"row_no": row_no, **dict(zip(CSV_COLUMNS, cells, strict=True))})
    return json.dumps(rows), errors


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
            raise self._unended()
        if not self._header_seen:
            raise Unprocessable(
                "The CSV body is empty; send a header and data rows.",
                errors=[field_error([], "empty body")],
            )
        await self.buffer.flush()

    async def _stage_complete_records(self) -> None:
        cut = _last_record_boundary(self._pending)
        if cut < 0:
            if len(self._pending) > MAX_RECORD_BYTES:
                raise self._unended()
            return
        text, self._pending = self._pending[:cut], self._pending[cut:]
        if not self._header_seen:
            text = self._check_header(text)
        suspicious = _UNSAFE.search(text) is not None
        if not suspicious and '"' not in text and "\r" not in text:
            lines = text.split("\n")
            if max(map(len, lines)) <= csv.field_size_limit():
                await self._stage_plain(lines)
                return
        try:
            for fields in csv.reader(io.StringIO(text)):
                if not fields:
                    continue  # blank lines are not records
                self.records += 1
                if len(fields) != len(CSV_COLUMNS):
                    self.errors.append(_column_count(self.records, len(fields)))
                elif suspicious and (error := _encoding_error(self.records, fields)):
                    self.errors.append(error)
                else:
                    await self.buffer.add(self.records, fields)
        except csv.Error as exc:
            raise _unreadable(f"row {self.records + 1}", exc) from None

    async def _stage_plain(self, lines: list[str]) -> None:
        """Records with no quote, CR or unsafe text, staged with string operations (a record per
        line, a field per comma) and not field by field: what the csv module would read from
        them, at a fraction of the cost per row."""
        staged = []
        for line in lines:
            if not line:
                continue  # blank lines are not records
            self.records += 1
            if (commas := line.count(",")) != len(CSV_COLUMNS) - 1:
                self.errors.append(_column_count(self.records, commas + 1))
            else:
                staged.append(f"{self.records},{line}\n")
        await self.buffer.add_records("".join(staged))

    def _unended(self) -> Unprocessable:
        """The rest of the body is one record that never ends."""
        if '"' not in self._pending:  # lines that end in CR alone
            return _unreadable(
                f"row {self.records + 1}", f"no line ends within {MAX_RECORD_BYTES} bytes"
            )
        return Unprocessable(
            f"A quoted field that starts after row {self.records} is never closed.",
            errors=[field_error([self.records + 1], "unterminated quoted field")],
        )

    def _check_header(self, text: str) -> str:
        first_line, _, rest = text.partition("\n")
        first_line = first_line.removeprefix("\ufeff").rstrip("\r")
        try:
            header = [name.strip() for name in next(csv.reader([first_line]), [])]
        except csv.Error as exc:
            raise _unreadable("the header", exc) from None
        if header != list(CSV_COLUMNS):
            expected = ",".join(CSV_COLUMNS)
            raise Unprocessable(
                f"The CSV header must be {expected!r} (spaces around names "
                f"are allowed); got {first_line[:300]!r}.",
                errors=[field_error(["header"], f"expected {expected}")],
            )
        self._header_seen = True
        return rest


def _column_count(row_no: int, found: int) -> RowError:
    return RowError(
        row=row_no,
        field="row",
        code="column_count",
        msg=f"expected {len(CSV_COLUMNS)} columns, found {found}",
    )


def _unreadable(where: str, why: object) -> Unprocessable:
    """A record that cannot be read: a lone CR outside quotes (old Mac line endings), or a
    field over the csv module's size limit."""
    return Unprocessable(
        f"The CSV cannot be read at {where}: {why}. Lines must end in LF or "
        f"CRLF, and a field that spans lines must be quoted.",
        errors=[field_error([where], f"unreadable CSV: {why}")],
    )


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
