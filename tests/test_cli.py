"""The `joinedup` command line against a test database: in process through typer's runner, and
as a real process where what a script sees (the last line, the exit code) is the point."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.common import schema_version
from services.common.auth import hash_key
from services.common.db import libpq_url
from services.metrics_api.main import MetricsApiSettings, create_app
from tests.support.clients import asgi_client, bearer
from tests.support.services import free_port
from tests.support.waiting import eventually

JOINEDUP = [sys.executable, "-c", "from services.cli import app; app(prog_name='joinedup')"]
KEY_PATTERN = re.compile(r"jdu_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def run_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOINEDUP_DATABASE_URL": database_url}
    return subprocess.run([*JOINEDUP, *args], env=env, capture_output=True, text=True, timeout=60)


def succeeds(database_url: str, *args: str) -> str:
    result = CliRunner().invoke(app, args, env={"JOINEDUP_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    return result.stdout


def fails(database_url: str, *args: str) -> str:
    """Run a command that must be refused with a message, not a crash; returns the message."""
    result = CliRunner().invoke(app, args, env={"JOINEDUP_DATABASE_URL": database_url})
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    return result.stderr


def scalar(database_url: str, statement: str) -> object:
    with psycopg.connect(libpq_url(database_url)) as conn:
        return conn.execute(statement).fetchone()[0]


def tables(database_url: str) -> set[str]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def stored_key_id(query, name: str) -> int:
    return query("SELECT id FROM api_key WHERE name = %s", name)[0][0]


async def areas_status(database_url: str, key: str) -> int:
    """What metrics_api answers to GET /v1/areas with ``key``."""
    metrics_api = create_app(
        MetricsApiSettings(database_url=database_url), database_url=database_url
    )
    async for client in asgi_client(metrics_api):
        response = await client.get("/v1/areas", headers=bearer(key))
    return response.status_code


def test_create_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(database_url, query):
    result = run_process(
        database_url, "keys", "create", "--role", "steward", "--scope", "E54000054", "--name", "x"
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout

    key = output.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(key)
    assert output.count(key) == 1
    [(public_id, key_hash, role, scopes)] = query(
        "SELECT public_id, key_hash, role, scopes FROM api_key WHERE name = 'x'"
    )
    assert key_hash == hash_key(key) and key.startswith(f"jdu_{public_id}_")
    assert (role, scopes) == ("steward", ["E54000054"])
    secret = key.split("_", 2)[2]
    for table in ("api_key", "audit_log"):
        leaks = query(
            f"SELECT count(*) FROM {table} t WHERE to_jsonb(t)::text LIKE %s", f"%{secret}%"
        )
        assert leaks == [(0,)], f"{table} holds the key in plain text"
    assert asyncio.run(areas_status(database_url, key)) == 200


def test_create_is_audited(database_url, query):
    succeeds(database_url, "keys", "create", "--role", "viewer", "--name", "dashboard")

    key_id = stored_key_id(query, "dashboard")
    assert query(
        "SELECT actor, action, after->>'role' FROM audit_log "
        "WHERE entity_type = 'api_key' AND entity_id = %s",
        str(key_id),
    ) == [("cli", "api_key.create", "viewer")]


@pytest.mark.parametrize("role", ["steward", "submitter", "signatory"])
def test_area_roles_need_a_scope(database_url, query, role):
    message = fails(database_url, "keys", "create", "--role", role, "--name", "x")

    assert f"A {role} key needs at least one --scope" in message
    assert query("SELECT count(*) FROM api_key") == [(0,)]


def test_unknown_scope_is_refused(database_url, query):
    message = fails(
        database_url,
        "keys",
        "create",
        "--role",
        "submitter",
        "--scope",
        "E54000054",
        "--scope",
        "E99999999",
        "--name",
        "typo",
    )

    assert "No area with code E99999999;" in message
    assert query("SELECT count(*) FROM api_key") == [(0,)]


def test_list_shows_keys_without_secrets_or_hashes(database_url, make_key):
    keys = [
        asyncio.run(make_key("steward", "E54000054", name="east steward")),
        asyncio.run(make_key("viewer", name="dashboard")),
    ]

    output = succeeds(database_url, "keys", "list")

    assert "east steward" in output and "dashboard" in output and "E54000054" in output
    for key in keys:
        for secret_part in (key, key.split("_", 2)[2], hash_key(key)):
            assert secret_part not in output


def test_a_revoked_key_is_refused_and_the_revocation_audited(database_url, make_key, query):
    key = asyncio.run(make_key("viewer", name="leaver"))
    key_id = stored_key_id(query, "leaver")

    output = succeeds(database_url, "keys", "revoke", str(key_id))

    assert f"revoked key {key_id}" in output
    assert asyncio.run(areas_status(database_url, key)) == 401
    assert re.search(
        rf"^\s*{key_id}\s+viewer\s+revoked\b", succeeds(database_url, "keys", "list"), re.MULTILINE
    )
    assert query(
        "SELECT action FROM audit_log WHERE entity_type = 'api_key' AND entity_id = %s", str(key_id)
    ) == [("api_key.revoke",)]


def test_revoking_twice_changes_nothing_the_second_time(database_url, make_key, query):
    asyncio.run(make_key("viewer", name="leaver"))
    key_id = stored_key_id(query, "leaver")
    succeeds(database_url, "keys", "revoke", str(key_id))
    revoked_at = query("SELECT revoked_at FROM api_key WHERE id = %s", key_id)

    output = succeeds(database_url, "keys", "revoke", str(key_id))

    assert "already revoked" in output
    assert query("SELECT revoked_at FROM api_key WHERE id = %s", key_id) == revoked_at
    assert query("SELECT count(*) FROM audit_log WHERE action = 'api_key.revoke'") == [(1,)]


def test_revoking_an_unknown_key_is_a_clear_error(database_url, query):
    message = fails(database_url, "keys", "revoke", "4242")

    assert "No API key with id 4242" in message
    assert query("SELECT count(*) FROM audit_log WHERE entity_type = 'api_key'") == [(0,)]


def test_db_current_prints_the_head_revision(database_url):
    head = schema_version.head_revision()

    output = succeeds(database_url, "db", "current")

    assert f"current: {head}" in output and f"head:    {head}" in output


def test_db_roles_brings_the_grants_back_to_their_declaration(database_url):
    def ingest_may(privilege: str, table: str) -> object:
        return scalar(
            database_url, f"SELECT has_table_privilege('joinedup_ingest', '{table}', '{privilege}')"
        )

    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("REVOKE INSERT ON observation FROM joinedup_ingest")
        conn.execute("GRANT DELETE ON plan TO joinedup_ingest")
        conn.execute("GRANT SELECT ON area_value TO joinedup_ingest")
    assert not ingest_may("INSERT", "observation") and ingest_may("DELETE", "plan")
    assert ingest_may("SELECT", "area_value")

    output = succeeds(database_url, "db", "roles")

    assert "joinedup_ingest: writes observation, outbox, submission;" in output
    assert "reads alembic_version, api_key, audit_log, schema_compatibility\n" in output
    assert ingest_may("INSERT", "observation") and not ingest_may("DELETE", "plan")
    assert not ingest_may("SELECT", "area_value")


def test_migrations_go_down_to_base_and_up_again(empty_database_url):
    succeeds(empty_database_url, "db", "upgrade")
    at_head = tables(empty_database_url)

    succeeds(empty_database_url, "db", "downgrade", "base")
    assert tables(empty_database_url) <= {"alembic_version"}
    assert "current: (empty database)" in succeeds(empty_database_url, "db", "current")

    succeeds(empty_database_url, "db", "upgrade")
    assert tables(empty_database_url) == at_head
    assert (
        scalar(empty_database_url, "SELECT version_num FROM alembic_version")
        == schema_version.head_revision()
    )


def test_seed_is_idempotent(empty_database_url):
    succeeds(empty_database_url, "db", "upgrade")

    first = succeeds(empty_database_url, "seed")
    second = succeeds(empty_database_url, "seed")

    assert "203 areas and 13 metrics added" in first
    assert "0 areas and 0 metrics added" in second
    assert scalar(empty_database_url, "SELECT count(*) FROM area") == 203
    assert scalar(empty_database_url, "SELECT count(*) FROM metric") == 13
    assert scalar(empty_database_url, "SELECT count(*) FROM audit_log") == 216


def test_a_database_url_that_is_not_postgresql_is_refused():
    assert "must be a postgresql:// URL" in fails("mysql://someone@db/joinedup", "keys", "list")


@pytest.mark.parametrize("command", [["keys", "list"], ["db", "upgrade"]])
def test_an_unreachable_database_is_one_clear_line_without_the_password(command):
    result = run_process("postgresql://nobody:s3cret@127.0.0.1:1/none?connect_timeout=1", *command)

    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: cannot use the database at postgresql://nobody:***@127.0.0.1:1/none"
    )
    assert len(result.stderr.splitlines()) == 1 and "s3cret" not in result.stderr
    assert result.stdout == ""


TOPIC = "observations.changed"


def test_worker_waits_for_the_schema_delivers_the_outbox_and_stops_on_sigterm(
    empty_database_url, tmp_path
):
    """`joinedup worker --only outbox` on a database its migration has yet to reach: it waits,
    touching nothing, then delivers once the schema is at the head (here to a targets_api that
    is down, so the notice is tried and kept), and SIGTERM stops it with exit code 0."""
    port, nowhere = free_port(), free_port()
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "JOINEDUP_DATABASE_URL": empty_database_url,
        "JOINEDUP_TARGETS_API_URL": f"http://127.0.0.1:{nowhere}",
        "JOINEDUP_OUTBOX_POLL_S": "0.1",
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [*JOINEDUP, "worker", "--only", "outbox", f"--port={port}"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(
            lambda: "waits for the schema" in log.read_text(),
            what="the worker waiting",
            timeout_s=30,
        )
        eventually(
            lambda: readiness(port) == 503,
            what="the worker not ready on an empty database",
            timeout_s=30,
        )

        schema_version.upgrade(empty_database_url)
        eventually(
            lambda: readiness(port) == 200, what="the worker ready once migrated", timeout_s=30
        )
        with psycopg.connect(libpq_url(empty_database_url), autocommit=True) as conn:
            conn.execute("INSERT INTO outbox (topic, payload) VALUES (%s, '{}')", [TOPIC])
            eventually(
                lambda: conn.execute("SELECT attempts, last_error FROM outbox").fetchone()[0] > 0,
                what="the notice tried",
                timeout_s=30,
            )
            [(delivered, error)] = conn.execute("SELECT delivered_at, last_error FROM outbox")
        assert delivered is None and "ConnectError" in error

        worker.send_signal(signal.SIGTERM)
        # uvicorn ends by the signal once it has shut down, as a process stopped by it should.
        assert worker.wait(timeout=15) == -signal.SIGTERM, log.read_text()
    finally:
        worker.kill()
        worker.wait()
    said = log.read_text()
    assert "outbox-deliverer stopped" in said  # its loop was ended, not killed
    assert "outbox delivery cycle failed" not in said  # nothing was tried too early


def test_worker_refuses_a_port_in_use(database_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_process(database_url, "worker", f"--port={taken.getsockname()[1]}")
    assert result.returncode == 1
    assert "is already in use" in result.stderr


def readiness(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return 0
