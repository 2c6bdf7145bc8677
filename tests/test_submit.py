"""`joinedup submit FILE.csv` against real metrics_api and ingest processes.

The two services start once for the module, on one database; each test keeps to periods of its
own and acts with a key of its own (named after the test), so what it stored is found by that key.
"""

import asyncio
import json
import os
import pty
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from services.cli import app
from services.common.auth import Role, create_key
from services.submit_client import PROGRESS_FROM_BYTES
from tests.support.areas import ENGLAND
from tests.support.database import (
    create_database,
    database_url_for,
    drop_database,
    run_in_transaction,
)
from tests.support.services import ServiceProcess, free_port
from tests.support.submissions import measure_report

pytestmark = pytest.mark.e2e

JOINEDUP = [sys.executable, "-c", "from services.cli import app; app(prog_name='joinedup')"]
HEADER = "place_code,metric_code,period,value,numerator,denominator,note"
LEEDS, BRADFORD = "E08000035", "E08000032"
WEST_YORKSHIRE, LONDON_NORTH_WEST = "E54000054", "E54000027"
DISCHARGE = "bcf-discharge-usual-residence"  # monthly proportion x 100: numerator/denominator
WRONG_KEY = "jdu_000000000000_" + "x" * 43


@pytest.fixture(scope="module")
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """One database for the module's services (it replaces the per-test one)."""
    name = f"joinedup_submit_{uuid.uuid4().hex[:12]}"
    create_database(pg_server_url, name, template=template_database)
    yield database_url_for(pg_server_url, name)
    drop_database(pg_server_url, name)


def service_key(database_url: str) -> str:
    async def create(session):
        return (await create_key(session, name="ingest", role=Role.service, scopes=[]))[1]

    return asyncio.run(run_in_transaction(database_url, create))


def ingest_env(service_key: str, metrics_api_url: str) -> dict[str, str]:
    return {
        "JOINEDUP_SERVICE_KEY": service_key,
        "JOINEDUP_METRICS_API_URL": metrics_api_url,
    }


@pytest.fixture(scope="module")
def ingest(database_url: str) -> Iterator[ServiceProcess]:
    with (
        ServiceProcess.for_service("metrics_api", database_url) as metrics_api,
        ServiceProcess.for_service(
            "ingest", database_url, env=ingest_env(service_key(database_url), metrics_api.url)
        ) as ingest,
    ):
        yield ingest


@pytest.fixture
async def submitter(make_key, request: pytest.FixtureRequest) -> str:
    """A West Yorkshire submitter key named after the test."""
    return await make_key("submitter", WEST_YORKSHIRE, name=request.node.name)


@dataclass
class Stored:
    """What one test's key stored; each test names its key after itself."""

    query: Callable[..., list[tuple]]
    key_name: str

    def submissions(self) -> list[tuple]:
        return self.query(
            "SELECT s.status, s.accepted, s.rejected FROM submission s "
            "JOIN api_key k ON k.id = s.key_id WHERE k.name = %s",
            self.key_name,
        )

    def observations(self) -> list[tuple]:
        return self.query(
            "SELECT o.place_code, o.period, o.value FROM observation o "
            "JOIN submission s ON s.id = o.submission_id "
            "JOIN api_key k ON k.id = s.key_id WHERE k.name = %s "
            "ORDER BY o.place_code, o.period",
            self.key_name,
        )


@pytest.fixture
def stored(query, request: pytest.FixtureRequest) -> Stored:
    return Stored(query, request.node.name)


def csv_file(folder: Path, *rows: str) -> Path:
    path = folder / "data.csv"
    path.write_text("\n".join((HEADER, *rows)) + "\n")
    return path


def submit(key: str | None, *args: str) -> Result:
    """Run `joinedup submit` in process; the key never appears in what it prints."""
    # Wide enough that a long temporary path is never wrapped inside the error box.
    result = CliRunner().invoke(
        app, ["submit", *args], env={"JOINEDUP_API_KEY": key, "COLUMNS": "400"}
    )
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert not key or key not in result.output
    return result


def discharge(
    place: str, period: str, numerator: int = 450, denominator: int = 500, note: str = ""
) -> str:
    return f"{place},{DISCHARGE},{period},,{numerator},{denominator},{note}"


def table_rows(output: str) -> dict[str, list[str]]:
    """The error table's lines by row number: {"2": ["period", "code", ...]}."""
    lines = output.split("row  field")[1].splitlines()[1:]
    return {parts[0]: parts[1:] for line in lines if (parts := line.split()) and parts[0].isdigit()}


def test_a_valid_file_is_accepted_and_its_observations_stored(ingest, submitter, stored, tmp_path):
    path = csv_file(tmp_path, discharge(LEEDS, "2001-01"), discharge(BRADFORD, "2001-02"))

    result = submit(submitter, str(path), "--url", ingest.url)

    assert result.exit_code == 0, result.output
    assert "accepted (atomic mode)" in result.stdout
    assert [line.split() for line in result.stdout.splitlines()[1:5]] == [
        ["accepted", "2"],
        ["rejected", "0"],
        ["superseded", "0"],
        ["unchanged", "0"],
    ]
    assert "error" not in result.stdout
    assert stored.submissions() == [("accepted", 2, 0)]
    assert stored.observations() == [(BRADFORD, "2001-02", 90.0), (LEEDS, "2001-01", 90.0)]


def test_running_the_same_file_again_is_a_replay_not_a_second_submission(
    ingest, submitter, stored, tmp_path
):
    path = csv_file(tmp_path, discharge(LEEDS, "2002-01"))

    first = submit(submitter, str(path), "--url", ingest.url)
    again = submit(submitter, str(path), "--url", ingest.url)

    assert (first.exit_code, again.exit_code) == (0, 0), again.output
    assert "Replayed" not in first.stdout
    assert "Replayed: ingest already had Idempotency-Key file-sha256:" in again.stdout
    # The same submission id: the first answer, given again.
    assert first.stdout.splitlines()[0] == again.stdout.splitlines()[0]
    assert stored.submissions() == [("accepted", 1, 0)]


def test_a_dry_run_checks_the_rows_and_stores_nothing(ingest, submitter, stored, tmp_path):
    path = csv_file(tmp_path, discharge(LEEDS, "2003-01"))

    result = submit(submitter, str(path), "--url", ingest.url, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Dry run: ingest checked the rows and stored nothing." in result.stdout
    assert stored.submissions() == []
    assert stored.observations() == []


BAD_ROWS = (
    discharge(LEEDS, "2004-01"),
    discharge(LEEDS, "2004-02", denominator=0),
    discharge(BRADFORD, "2004-13"),
    discharge(LEEDS, "2004-03", numerator=600, denominator=500),
)


def test_bad_rows_in_atomic_mode_reject_the_file_with_a_table_of_row_errors(
    ingest, submitter, stored, query, tmp_path
):
    path = csv_file(tmp_path, *BAD_ROWS)

    result = submit(submitter, str(path), "--url", ingest.url, "--show-errors", "2")

    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        "Rejected: 3 of 4 rows are invalid; the submission is atomic, so nothing was stored."
    )
    assert "3 errors (row 1 is the first line after the header)" in result.stdout
    errors = table_rows(result.stdout)
    assert list(errors) == ["2", "3"]  # the first two of three, in row order
    assert errors["2"][0] == "denominator"
    assert errors["3"][0] == "period"
    assert "... and 1 more not shown" in result.stdout
    assert "--mode partial" in result.stdout
    assert stored.submissions() == []
    assert query("SELECT count(*) FROM observation WHERE period LIKE %s", "2004-%") == [(0,)]


def test_partial_mode_stores_the_good_rows_and_prints_the_bad_ones(
    ingest, submitter, stored, tmp_path
):
    path = csv_file(tmp_path, *(row.replace("2004-", "2005-") for row in BAD_ROWS))

    result = submit(submitter, str(path), "--url", ingest.url, "--mode", "partial")

    assert result.exit_code == 0, result.output
    assert "partially accepted (partial mode)" in result.stdout
    assert "Partially accepted: the valid rows were stored" in result.stdout
    assert list(table_rows(result.stdout)) == ["2", "3", "4"]
    assert "more not shown" not in result.stdout
    assert stored.submissions() == [("partially_accepted", 1, 3)]
    assert stored.observations() == [(LEEDS, "2005-01", 90.0)]


@pytest.mark.parametrize(
    ("scope", "detail"),
    [
        (None, "The API key is not valid or has been revoked."),
        (LONDON_NORTH_WEST, "does not cover"),
    ],
)
async def test_a_key_ingest_refuses_exits_1_with_its_reason(
    ingest, make_key, stored, request, tmp_path, scope, detail
):
    key = await make_key("submitter", scope, name=request.node.name) if scope else WRONG_KEY
    path = csv_file(tmp_path, discharge(LEEDS, "2006-01"))

    result = submit(key, str(path), "--url", ingest.url)

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ingest refused the submission (40")
    assert detail in result.stderr
    assert result.stdout == ""
    assert stored.submissions() == []


def test_a_missing_file_or_key_is_a_usage_error(tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"  # never reached: the command stops before
    no_file = submit(WRONG_KEY, str(tmp_path / "missing.csv"), "--url", nowhere)
    no_key = submit(None, str(csv_file(tmp_path, discharge(LEEDS, "2007-01"))), "--url", nowhere)

    assert no_file.exit_code == 2
    assert "missing.csv" in no_file.stderr and "does not exist" in no_file.stderr
    assert no_key.exit_code == 2
    assert no_key.stderr.startswith("error: no API key: pass --key or set JOINEDUP_API_KEY")


def test_ingest_not_running_exits_3_after_bounded_retries(tmp_path):
    path = csv_file(tmp_path, discharge(LEEDS, "2008-01"))
    started = time.monotonic()

    result = submit(
        WRONG_KEY, str(path), "--url", f"http://127.0.0.1:{free_port()}", "--retries", "2"
    )

    assert result.exit_code == 3, result.output
    assert time.monotonic() - started < 5  # two pauses of at most 0.5 and 1 s
    assert result.stderr.count("trying again in") == 2
    assert "gave up after 3 attempts. Run the same command again later" in result.stderr


def test_a_503_is_retried_after_its_retry_after_until_ingest_can_take_the_file(
    database_url, submitter, stored, tmp_path
):
    """ingest answers 503 while metrics_api, whose catalogue it checks rows against, is down;
    the command waits as told and tries again, and gets through once metrics_api is back."""
    path = csv_file(tmp_path, discharge(LEEDS, "2009-01"))
    metrics_api = ServiceProcess.for_service("metrics_api", database_url)  # not started yet
    try:
        with ServiceProcess.for_service(
            "ingest", database_url, env=ingest_env(service_key(database_url), metrics_api.url)
        ) as lonely_ingest:
            command = subprocess.Popen(
                [*JOINEDUP, "submit", str(path), "--url", lonely_ingest.url, "--retries", "3"],
                env={**os.environ, "JOINEDUP_API_KEY": submitter},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert command.stderr is not None
            first_note = command.stderr.readline()
            metrics_api.start()
            stdout, rest = command.communicate(timeout=60)
    finally:
        metrics_api.close()

    assert command.returncode == 0, first_note + rest
    assert first_note.startswith(
        "ingest answered 503 (metrics_api is unavailable; try again "
        "in 5 s.); trying again in 5.0 s (attempt 2 of 4)"
    )
    assert "accepted (atomic mode)" in stdout
    assert stored.submissions() == [("accepted", 1, 0)]


async def test_a_20000_row_file_is_streamed_with_progress_shown(
    ingest, make_key, stored, query, request, tmp_path
):
    key = await make_key("submitter", ENGLAND, name=request.node.name)
    places = [
        code for (code,) in query("SELECT code FROM area WHERE level = 'place' ORDER BY code")
    ]
    months = [f"{year}-{month:02d}" for year in range(1950, 1970) for month in range(1, 13)]
    rows = [
        discharge(place, month, numerator=i % 500)
        for i, (month, place) in enumerate((month, place) for month in months for place in places)
    ][:20_000]
    path = csv_file(tmp_path, *rows)

    result = submit(key, str(path), "--url", ingest.url)

    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.stderr.splitlines()] == [
        ["sent", "25%"],
        ["sent", "50%"],
        ["sent", "75%"],
        ["sent", "100%"],
    ]
    assert result.stderr.rstrip().endswith("waiting for ingest to check the rows")
    assert stored.submissions() == [("accepted", 20_000, 0)]
    assert len(stored.observations()) == 20_000


def test_on_a_terminal_the_progress_is_a_live_bar(ingest, submitter, tmp_path):
    rows = [
        discharge(place, f"{year}-{month:02d}", note="n" * 400)
        for year in range(1970, 2000)
        for month in range(1, 13)
        for place in (LEEDS, BRADFORD)
    ]
    path = csv_file(tmp_path, *rows)
    assert path.stat().st_size > PROGRESS_FROM_BYTES
    controller, terminal = pty.openpty()
    try:
        command = subprocess.Popen(
            [*JOINEDUP, "submit", str(path), "--url", ingest.url],
            env={**os.environ, "JOINEDUP_API_KEY": submitter},
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
        )
        os.close(terminal)
        seen = read_all(controller)
        stdout, _ = command.communicate(timeout=60)
        seen_text = b"".join(seen).decode()
    finally:
        os.close(controller)

    assert command.returncode == 0, seen_text
    assert f"sending {path.name}" in seen_text and "100%" in seen_text
    assert "accepted (atomic mode)" in stdout


def read_all(fd: int) -> list[bytes]:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=60)
    return chunks


def test_a_dhis2_json_file_is_imported_and_a_rerun_is_a_replay(ingest, submitter, stored, tmp_path):
    path = tmp_path / "month.json"
    parts = [("numerator", "450"), ("denominator", "500")]
    path.write_text(
        json.dumps(
            {
                "orgUnit": LEEDS,
                "dataValues": [
                    {
                        "dataElement": DISCHARGE,
                        "period": "200401",
                        "categoryOptionCombo": c,
                        "value": v,
                    }
                    for c, v in parts
                ],
            }
        )
    )
    first = submit(submitter, str(path), "--format", "dhis2", "--url", ingest.url)
    again = submit(submitter, str(path), "--format", "dhis2", "--url", ingest.url)
    assert (first.exit_code, again.exit_code) == (0, 0), first.output
    assert first.stdout.startswith("Import SUCCESS")
    assert first.stdout.splitlines()[1].split() == ["imported", "1"]
    assert "Replayed" in again.stdout
    assert stored.observations() == [(LEEDS, "2004-01", 90.0)]


def test_a_dhis2_csv_file_with_a_bad_value_prints_its_conflicts(
    ingest, submitter, stored, tmp_path
):
    path = tmp_path / "month.csv"
    path.write_text(
        "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value\n"
        f"{DISCHARGE},200402,{LEEDS},numerator,,450\n"
        f"{DISCHARGE},200402,{LEEDS},denominator,,500\n"
        f"{DISCHARGE},200403,{LEEDS},numerator,,abc\n"
        f"{DISCHARGE},200403,{LEEDS},denominator,,500\n"
    )
    atomic = submit(submitter, str(path), "--format", "dhis2", "--url", ingest.url)
    assert atomic.exit_code == 1, atomic.output
    assert atomic.stdout.startswith("Import ERROR")
    assert table_rows(atomic.stdout)["2"][:2] == ["value", "not_a_number"]
    partial = submit(
        submitter, str(path), "--format", "dhis2", "--mode", "partial", "--url", ingest.url
    )
    assert partial.exit_code == 0, partial.output
    assert partial.stdout.startswith("Import WARNING")
    assert stored.observations() == [(LEEDS, "2004-02", 90.0)]


def test_a_fhir_batch_bundle_stores_its_good_reports_and_prints_the_bad_entries(
    ingest, submitter, stored, tmp_path
):
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": measure_report(
                    LEEDS, DISCHARGE, "2006-01", numerator=450, denominator=500
                )
            },
            {
                "resource": measure_report(
                    BRADFORD, DISCHARGE, "2006-02", numerator=600, denominator=500
                )
            },
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))

    result = submit(submitter, str(path), "--url", ingest.url, "--format", "fhir")
    again = submit(submitter, str(path), "--url", ingest.url, "--format", "fhir")

    assert (result.exit_code, again.exit_code) == (0, 0), result.output
    assert "batch-response: 1 of 2 MeasureReports stored." in result.stdout
    assert "1 error (row 1 is Bundle.entry[0])" in result.stdout
    (row,) = table_rows(result.stdout).values()
    assert row[0] == "Bundle.entry[1].resource.group[0].measureScore.value"  # 120 % > 100
    assert stored.submissions() == [("partially_accepted", 1, 1)]
    assert stored.observations() == [(LEEDS, "2006-01", 90.0)]
    assert result.stdout == again.stdout  # the replay: the first answer, nothing stored again
