"""The services' database roles (services/common/roles.py), tried on the real server: every
table the catalogue lists, against every role, so a table nobody declared is caught here."""

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from services.common.db import libpq_url
from services.common.roles import (
    AUDIT_LOG,
    AUTHENTICATES,
    OWNER_ONLY,
    SERVICE_ROLES,
    apply_grants_at,
    as_role,
)


def _tables(database_url: str) -> list[str]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def as_service(database_url: str) -> Iterator:
    """``as_service("ingest")``: a connection to the test's database as ingest's role."""
    opened: list[psycopg.Connection] = []

    def connect(service: str) -> psycopg.Connection:
        conn = psycopg.connect(libpq_url(as_role(database_url, service)), autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def _refused(conn: psycopg.Connection, statement: sql.Composable) -> bool:
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except errors.InsufficientPrivilege:
        return True
    return False


def _first_column(database_url: str, table: str) -> str:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum = 1",
            (table,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_every_table_is_declared(database_url: str) -> None:
    """A table added by a migration is written by the owner alone until a service's role
    declares it (or OWNER_ONLY does): its service would fail on its first write."""
    declared = set(OWNER_ONLY | {AUDIT_LOG}).union(
        *(role.writes for role in SERVICE_ROLES.values())
    )
    assert set(_tables(database_url)) - declared == set()


@pytest.mark.parametrize("service", sorted(SERVICE_ROLES))
def test_each_role_may_write_only_the_tables_it_is_declared(
    database_url: str, as_service, service: str
) -> None:
    tables = _tables(database_url)
    assert {"audit_log", "api_key", "observation", "plan"} <= set(tables)  # the catalogue's
    conn = as_service(service)
    allowed = SERVICE_ROLES[service].writes
    wrong: list[str] = []
    for table in tables:
        column = sql.Identifier(_first_column(database_url, table))
        name = sql.Identifier(table)
        statements = {
            "INSERT": sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE false").format(name, name),
            "UPDATE": sql.SQL("UPDATE {} SET {} = {} WHERE false").format(name, column, column),
            "DELETE": sql.SQL("DELETE FROM {} WHERE false").format(name),
            "TRUNCATE": sql.SQL("TRUNCATE {}").format(name),
        }
        for verb, statement in statements.items():
            expected = not (table in allowed and verb != "TRUNCATE")
            if table == AUDIT_LOG and verb == "INSERT":
                expected = False
            if _refused(conn, statement) != expected:
                wrong.append(f"{verb} {table}: {'allowed' if expected else 'refused'}")
    assert wrong == [], f"{service} can do what it is not declared to (or not what it is)"


def test_each_role_may_read_only_the_tables_it_is_declared(database_url: str, as_service) -> None:
    """Every table of the catalogue against every role (one database for all: reading
    changes nothing): the ones a role does not read are refused it, so a table added by a
    migration is read by no service until one declares it."""
    tables = _tables(database_url)
    assert {"api_key", "observation", "plan", "area_value"} <= set(tables)  # the catalogue's
    wrong: list[str] = []
    for service, role in sorted(SERVICE_ROLES.items()):
        conn = as_service(service)
        wrong += [
            f"{service} SELECT {table}: {'refused' if table in role.selects else 'allowed'}"
            for table in tables
            if _refused(conn, sql.SQL("SELECT FROM {} LIMIT 0").format(sql.Identifier(table)))
            == (table in role.selects)
        ]
        assert set(tables) - role.selects, f"{service} reads every table"
    assert wrong == [], "a role reads what it is not declared to (or not what it is)"


@pytest.mark.parametrize(
    "service", sorted(s for s, role in SERVICE_ROLES.items() if role.selects >= AUTHENTICATES)
)
def test_every_role_records_a_key_s_last_use_and_nothing_else_of_the_key(
    as_service, service: str
) -> None:
    conn = as_service(service)
    assert not _refused(conn, "UPDATE api_key SET last_used_at = now() WHERE false")
    assert _refused(conn, "UPDATE api_key SET expires_at = now() WHERE false")
    assert _refused(conn, "UPDATE api_key SET revoked_at = now() WHERE false")


@pytest.mark.parametrize("service", sorted(SERVICE_ROLES))
def test_no_role_can_change_the_audit_log_or_disable_its_trigger(
    database_url: str, as_service, service: str
) -> None:
    conn = as_service(service)
    for statement in (
        "UPDATE audit_log SET action = action",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TRIGGER audit_log_no_update_or_delete ON audit_log",
        "CREATE TABLE intruder (id int)",
    ):
        assert _refused(conn, sql.SQL(statement)), statement  # type: ignore[arg-type]
    with conn.transaction(force_rollback=True):
        inserted = conn.execute(
            "INSERT INTO audit_log (service, actor, action, entity_type, entity_id)"
            " VALUES (%s, 'test', 'tested', 'role', %s) RETURNING id",
            (service, service),
        ).fetchone()
    assert inserted is not None


def test_grants_are_applied_again_without_change(database_url: str) -> None:
    apply_grants_at(database_url)
    apply_grants_at(database_url)
    with psycopg.connect(libpq_url(as_role(database_url, "ingest")), autocommit=True) as conn:
        assert _refused(conn, sql.SQL("DELETE FROM plan WHERE false"))
        assert not _refused(conn, sql.SQL("DELETE FROM outbox WHERE false"))
