"""Bad input of every kind: never a 500, always problem+json, and nothing stored from a rejected
submission. Framing faults in one CSV row (or one JSON observation) are that row's errors."""

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.ingest.support import MetricsAdmin, csv_line, json_text, local_metric, post_body
from tests.support.areas import BRADFORD, LEEDS, WEST_YORKSHIRE
from tests.support.problems import assert_problem
from tests.support.submissions import CSV_HEADER, DISCHARGE, csv_body, json_submission, observation

JSON = "application/json"
CSV = "text/csv"
ROW = f"{LEEDS},{DISCHARGE},2025-07,,912,1003,"
BODY_LIMIT = 4096


def json_bytes(body: object) -> bytes:
    return json.dumps(body).encode()


def assert_nothing_stored(query) -> None:
    assert query(
        "SELECT (SELECT count(*) FROM observation), (SELECT count(*) FROM submission),"
        " (SELECT count(*) FROM outbox)"
    ) == [(0, 0, 0)]


# (content type, body, status, words in the problem's detail)
REFUSED = {
    "malformed JSON": (
        JSON,
        b'{"place_code": "E08000035", "observations": [',
        422,
        "not valid JSON",
    ),
    "JSON with a trailing comma": (JSON, b'{"place_code": "E08000035",}', 422, "not valid JSON"),
    "JSON without observations": (JSON, json_bytes({"place_code": LEEDS}), 422, "observations"),
    "JSON observations not a list": (
        JSON,
        json_bytes({"place_code": LEEDS, "observations": observation()}),
        422,
        "observations",
    ),
    "JSON with an unknown field": (
        JSON,
        json_bytes({**json_submission(observation()), "period": "2025-07"}),
        422,
        "period",
    ),
    "JSON observation with an unknown field": (
        JSON,
        json_bytes(json_submission(observation(unit="%"))),
        422,
        "unit",
    ),
    "JSON value as an object": (
        JSON,
        json_bytes(json_submission(observation(value={"amount": 90.9}))),
        422,
        "value",
    ),
    "JSON value as a boolean": (
        JSON,
        json_bytes(json_submission(observation(value=True))),
        422,
        "value",
    ),
    "JSON mode unknown": (
        JSON,
        json_bytes(json_submission(observation(), mode="some")),
        422,
        "mode",
    ),
    "JSON array": (JSON, json_bytes([json_submission(observation())]), 422, "not valid"),
    "JSON null": (JSON, b"null", 422, "not valid"),
    "JSON with no observations": (JSON, json_bytes(json_submission()), 422, "no observations"),
    "JSON nested too deeply": (JSON, b"[" * 100_000, 422, "too deeply"),
    "empty JSON body": (JSON, b"", 422, "empty"),
    "blank JSON body": (JSON, b" \r\n\t", 422, "empty"),
    "bad UTF-8 in JSON": (
        JSON,
        json_bytes(json_submission(observation(note="X"))).replace(b'"X"', b'"caf\xe9"'),
        422,
        "UTF-8",
    ),
    "NUL byte outside JSON strings": (JSON, b'{"place_code": \x00}', 422, "not valid JSON"),
    "empty CSV body": (CSV, b"", 422, "empty"),
    "header-only CSV": (CSV, CSV_HEADER.encode(), 422, "no observations"),
    "header-only CSV without a newline": (CSV, CSV_HEADER.strip().encode(), 422, "no observations"),
    "header-only CSV with blank lines": (
        CSV,
        (CSV_HEADER + "\n\r\n\n").encode(),
        422,
        "no observations",
    ),
    "CSV header renamed": (
        CSV,
        b"place,metric,period,value,numerator,denominator,note\n" + ROW.encode() + b"\n",
        422,
        "header must be",
    ),
    "CSV header reordered": (
        CSV,
        b"metric_code,place_code,period,value,numerator,denominator,note\n" + ROW.encode() + b"\n",
        422,
        "header must be",
    ),
    "CSV header without note": (
        CSV,
        b"place_code,metric_code,period,value,numerator,denominator\n" + ROW.encode() + b"\n",
        422,
        "header must be",
    ),
    "CSV without a header": (CSV, (ROW + "\n" + ROW + "\n").encode(), 422, "header must be"),
    "CSV header with bad UTF-8": (
        CSV,
        b"place_code\xff," + CSV_HEADER[11:].encode() + ROW.encode(),
        422,
        "header must be",
    ),
    "CSV with old Mac line endings": (
        CSV,
        (CSV_HEADER + ROW + "\n").replace("\n", "\r").encode(),
        422,
        "LF or CRLF",
    ),
    "CSV over 1 MB with old Mac line endings": (
        CSV,
        (CSV_HEADER + (ROW + "\n") * 30_000).replace("\n", "\r").encode(),
        422,
        "no line ends within",
    ),
    "CSV with a carriage return in an unquoted field": (
        CSV,
        csv_body(ROW + "a\rb").encode(),
        422,
        "LF or CRLF",
    ),
    "CSV with an unterminated quote": (
        CSV,
        csv_body(ROW + '"never closed', ROW.replace("2025-07", "2025-08")).encode(),
        422,
        "never closed",
    ),
    "CSV with a field over the csv module's limit": (
        CSV,
        csv_body(ROW + '"' + "x" * 200_000 + '"').encode(),
        422,
        "cannot be read at row 1",
    ),
    "JSON sent as CSV": (CSV, json_bytes(json_submission(observation())), 422, "header"),
    "CSV sent as JSON": (JSON, csv_body(ROW).encode(), 422, "not valid JSON"),
    "plain text": ("text/plain", csv_body(ROW).encode(), 415, "text/plain"),
    "XML": ("application/xml", b"<submission/>", 415, "application/xml"),
    "a form": ("application/x-www-form-urlencoded", b"place_code=E08000035", 415, "form"),
    "multipart": ("multipart/form-data; boundary=x", b"--x--", 415, "multipart/form-data"),
    "no content type": (None, csv_body(ROW).encode(), 415, "nothing"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
async def test_a_body_that_cannot_be_taken_is_refused_whole(client, submitter, query, case):
    content_type, body, status, words = case
    for mode in ("atomic", "partial"):
        problem = assert_problem(
            await post_body(client, submitter, body, content_type, mode=mode), status
        )
        assert words in problem["detail"]
    assert_nothing_stored(query)


GOOD = csv_line(observation(period="2025-01"))
NEXT = csv_line(observation(period="2025-03"))


def with_neighbours(content_type: str, bad: bytes | dict, mode: str) -> bytes:
    """A body whose second of three rows is ``bad`` (CSV bytes, or a JSON observation)."""
    if content_type == CSV:
        return (CSV_HEADER + GOOD).encode() + bad + NEXT.encode()
    return json_text(
        json_submission(
            observation(period="2025-01"), bad, observation(period="2025-03"), mode=mode
        )
    ).encode()


def ratio(period: str, **fields) -> dict:
    return observation(period=period, numerator=912, denominator=1003, **fields)


# (content type, the second of three rows, [(field, code, part of the message)] for it)
BAD_ROWS = {
    "too few columns": (
        CSV,
        f"{LEEDS},{DISCHARGE},2025-02,,912,1003\n".encode(),
        [("row", "column_count", "found 6")],
    ),
    "too many columns": (
        CSV,
        f"{LEEDS},{DISCHARGE},2025-02,,912,1003,,extra\n".encode(),
        [("row", "column_count", "found 8")],
    ),
    "one column": (CSV, b"just some text\n", [("row", "column_count", "found 1")]),
    "bad UTF-8 in a note": (
        CSV,
        f"{LEEDS},{DISCHARGE},2025-02,,912,1003,caf".encode() + b"\xe9\n",
        [("note", "encoding", "not valid UTF-8")],
    ),
    "bad UTF-8 in a quoted note": (
        CSV,
        f'{LEEDS},{DISCHARGE},2025-02,,912,1003,"a,'.encode() + b'\xc3\x28"\n',
        [("note", "encoding", "UTF-8")],
    ),
    "bad UTF-8 in a place code": (
        CSV,
        b"E0800003\xb5," + f"{DISCHARGE},2025-02,,912,1003,\n".encode(),
        [("place_code", "encoding", "UTF-8")],
    ),
    "a NUL byte in a CSV note": (
        CSV,
        f"{LEEDS},{DISCHARGE},2025-02,,912,1003,a\x00b\n".encode(),
        [("note", "encoding", "NUL")],
    ),
    "a NUL byte in a CSV value": (
        CSV,
        f"{LEEDS},{DISCHARGE},2025-02,\x00,912,1003,\n".encode(),
        [("value", "encoding", "NUL")],
    ),
    "a NUL character in a JSON note": (
        JSON,
        ratio("2025-02", note="a\x00b"),
        [("note", "encoding", "NUL")],
    ),
    "a NUL character in a JSON period": (
        JSON,
        ratio("2025-02\x00"),
        [("period", "encoding", "NUL")],
    ),
    "a lone surrogate in a JSON note": (
        JSON,
        ratio("2025-02", note="caf\udce9"),
        [("note", "encoding", "UTF-8")],
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS.values(), ids=BAD_ROWS.keys())
async def test_a_framing_fault_in_one_row_is_that_rows_error(client, submitter, query, case):
    content_type, bad, errors = case
    problem = assert_problem(
        await post_body(
            client, submitter, with_neighbours(content_type, bad, "atomic"), content_type
        ),
        422,
    )
    expected = [(2, field, code) for field, code, _ in errors]
    assert [(e["row"], e["field"], e["code"]) for e in problem["errors"]] == expected
    assert all(words in e["msg"] for e, (*_, words) in zip(problem["errors"], errors, strict=True))
    assert_nothing_stored(query)

    response = await post_body(
        client,
        submitter,
        with_neighbours(content_type, bad, "partial"),
        content_type,
        mode="partial",
    )
    assert response.status_code == 201, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 1)
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == expected
    assert query("SELECT period FROM observation ORDER BY period") == [("2025-01",), ("2025-03",)]


async def test_a_csv_with_a_bom_and_crlf_line_endings_is_accepted(client, submitter, query):
    body = "\ufeff" + csv_body(ROW, ROW.replace(LEEDS, BRADFORD) + '"two\nlines"')
    response = await post_body(client, submitter, body.replace("\n", "\r\n").encode())
    assert response.status_code == 201, response.text
    assert query(
        "SELECT place_code, period, numerator, note FROM observation ORDER BY place_code"
    ) == [(BRADFORD, "2025-07", 912.0, "two\r\nlines"), (LEEDS, "2025-07", 912.0, None)]


NOTES = [
    'a note, with commas, and "quotes"',
    "one line\nand another\r\nand a third",
    "a carriage return\ralone",  # ends a line for COPY unless the staged field is quoted
    "'); DROP TABLE observation; --",
    "<script>alert('x')</script>",
    '=HYPERLINK("http://example.com")',
    "\\.",  # COPY's end-of-data marker
    "before\n\\.\nafter",  # and on a line of its own inside a quoted field
    "tab\tand backslash \\N",  # COPY text format's NULL, which CSV must not mean
    "  padded  ",
    '"',
    "日本語のメモ 🚑",
]


@pytest.mark.parametrize("content_type", [CSV, JSON])
async def test_notes_are_stored_exactly_as_sent(client, submitter, query, content_type):
    observations = [
        ratio(f"2024-{month:02}", note=note) for month, note in enumerate(NOTES, start=1)
    ]
    body = (
        json_text(json_submission(*observations))
        if content_type == JSON
        else CSV_HEADER + "".join(csv_line(obs) for obs in observations)
    )
    response = await post_body(client, submitter, body.encode(), content_type)
    assert response.status_code == 201, response.text
    assert query("SELECT note FROM observation ORDER BY period") == [(n,) for n in NOTES]
    listed = (await client.get("/v1/observations", headers=submitter)).json()["data"]
    assert [o["note"] for o in listed] == NOTES


@pytest.fixture
def small_body_limit(monkeypatch) -> None:
    """JOINEDUP_MAX_BODY_BYTES, read by the ingest the ``client`` fixture builds after this."""
    monkeypatch.setenv("JOINEDUP_MAX_BODY_BYTES", str(BODY_LIMIT))


async def chunks_of(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def csv_of_size(size: int) -> bytes:
    """A valid CSV of exactly ``size`` bytes: months of Leeds, padded in the last note."""
    rows = [ROW.replace("2025-07", f"{2000 + n // 12}-{n % 12 + 1:02}") for n in range(200)]
    body = csv_body(*rows).encode()
    while len(body) > size - 10:
        rows.pop()
        body = csv_body(*rows).encode()
    return body[:-1] + b"x" * (size - len(body)) + b"\n"


@pytest.mark.parametrize(
    ("size", "stream", "status"),
    [
        (BODY_LIMIT, False, 201),
        (BODY_LIMIT, True, 201),
        (BODY_LIMIT + 1, False, 413),  # refused on its Content-Length
        (BODY_LIMIT + 1, True, 413),  # no Content-Length: refused while it streams in
        (20 * BODY_LIMIT, True, 413),
    ],
)
async def test_a_body_over_the_limit_is_413_and_stores_nothing(
    small_body_limit, client, submitter, query, size, stream, status
):
    body = csv_of_size(size)
    assert len(body) == size
    response = await post_body(client, submitter, chunks_of(body) if stream else body)
    if status == 413:
        assert f"{BODY_LIMIT} bytes" in assert_problem(response, 413)["detail"]
        assert_nothing_stored(query)
    else:
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("key", ["", "two words", "x" * 256, "caf\u00e9".encode(), "tab\there"])
async def test_a_malformed_idempotency_key_is_400(client, submitter, query, key):
    response = await post_body(client, {**submitter, "Idempotency-Key": key}, csv_body(ROW))
    assert "Idempotency-Key" in assert_problem(response, 400)["detail"]
    assert_nothing_stored(query)


async def test_the_longest_idempotency_key_is_accepted(client, submitter):
    response = await post_body(client, {**submitter, "Idempotency-Key": "~" * 255}, csv_body(ROW))
    assert response.status_code == 201, response.text


PLACES = [LEEDS, BRADFORD, "E08000033"]  # all in West Yorkshire
LOCAL_METRICS = [f"wy-measure-{n:02}" for n in range(24)]
MONTHS = [f"{year}-{month:02}" for year in range(1900, 2012) for month in range(1, 13)]


async def large_csv() -> AsyncIterator[bytes]:
    """3 places x 25 monthly metrics x 1344 months = 100,800 rows, one metric's months a chunk."""
    yield CSV_HEADER.encode()
    for place in PLACES:
        yield "".join(
            f"{place},{DISCHARGE},{month},,{n},2000,\n" for n, month in enumerate(MONTHS)
        ).encode()
        for metric in LOCAL_METRICS:
            yield "".join(
                f"{place},{metric},{month},{n},,,\n" for n, month in enumerate(MONTHS)
            ).encode()


async def test_a_large_streamed_csv_is_stored_in_full(client, make_key, database_url, query):
    await MetricsAdmin(database_url, await make_key("admin")).create(
        *(local_metric(code, owner=WEST_YORKSHIRE) for code in LOCAL_METRICS)
    )
    submitter = {"Authorization": f"Bearer {await make_key('submitter', WEST_YORKSHIRE)}"}
    rows = len(PLACES) * (1 + len(LOCAL_METRICS)) * len(MONTHS)
    assert rows > 100_000

    response = await post_body(client, submitter, large_csv())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"]) == (rows, 0, [])
    assert body["place_codes"] == sorted(PLACES)
    assert query(
        "SELECT count(*), count(DISTINCT place_code), count(DISTINCT metric_code), "
        "count(DISTINCT period), sum(value) FILTER (WHERE metric_code <> %s) "
        "FROM observation",
        DISCHARGE,
    ) == [(rows, 3, 25, len(MONTHS), 3 * 24 * sum(range(len(MONTHS))))]
    assert query(
        "SELECT round(value::numeric, 2) FROM observation WHERE place_code = %s "
        "AND metric_code = %s AND period = '2011-12'",
        BRADFORD,
        DISCHARGE,
    ) == [(Decimal("67.15"),)]  # 1343 / 2000 x 100
