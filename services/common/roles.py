"""The database login role of each service and what it may do: the one declaration of it.

Each service connects as its own role (``joinedup_<service>``), which may INSERT, UPDATE and
DELETE only the tables it owns (docs/architecture.md, "Who owns what"), SELECT only those and
the tables its code reads (``reads``), and only INSERT into ``audit_log``. The role that runs
the migrations owns every table, so it alone can ALTER a table or DISABLE its triggers
(PostgreSQL lets only owners do so); the audit log's append-only trigger is out of the
services' reach.

``apply_grants`` runs after every migration (migrations/env.py) and from ``joinedup db roles``;
it is idempotent: it revokes what it finds and grants what is declared, so a table taken from a
service's declaration loses the service's rights at the next migration. A new table nobody
declares is written and read by nobody but the owner, and tests/security/test_roles.py says so.
"""

import os
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.common.config import CommonSettings
from services.common.db import libpq_url, resolve_database_url

AUDIT_LOG = "audit_log"


@dataclass(frozen=True)
class ServiceRole:
    service: str
    writes: frozenset[str]
    # Tables of others it reads with SQL (its own it reads anyway: ``selects``).
    reads: frozenset[str] = frozenset()

    @property
    def selects(self) -> frozenset[str]:
        return self.writes | self.reads | EVERY_SERVICE_READS

    @property
    def name(self) -> str:
        return f"joinedup_{self.service}"

    @property
    def password_variable(self) -> str:
        return f"JOINEDUP_{self.service.upper()}_DATABASE_PASSWORD"

    @property
    def url_variable(self) -> str:
        return f"JOINEDUP_{self.service.upper()}_DATABASE_URL"


_TARGETS_PROGRESS = frozenset(
    {"progress_refresh_queue", "area_value", "target_progress", "progress_set_aside"}
    | {"progress_generation"}
)
# The webhooks' outbox: published by targets_api's requests with the change they announce, and
# by the worker (escalations raised after a refresh), which also marks each one sent or failed.
_WEBHOOK_DELIVERIES = frozenset({"webhook_delivery"})
# Each delivery's history of attempts: written by the worker as it records each attempt, read
# through targets_api's API.
_WEBHOOK_ATTEMPTS = frozenset({"webhook_delivery_attempt"})

# What every role reads: the schema's revision and what it is compatible with (readiness,
# services/common/schema_version.py), and the audit log, whose generated columns every INSERT
# into it returns (and targets_api shows a plan's history from it).
EVERY_SERVICE_READS = frozenset({"alembic_version", "schema_compatibility", AUDIT_LOG})
# The keys, to authenticate a request (services/common/auth.py): every API service.
AUTHENTICATES = frozenset({"api_key"})
# The definitions and the hierarchy, and the observations: what progress is computed from,
# in bulk with SQL (docs/architecture.md: the one honest way for a bulk read).
_PROGRESS_INPUTS = frozenset({"area", "metric", "metric_version", "observation"})
# Escalations are raised and answered through targets_api, and raised, resolved and moved up by
# the rules the worker's progress refresher evaluates after each refresh.
_ESCALATIONS = frozenset({"escalation", "escalation_step"})

SERVICE_ROLES: dict[str, ServiceRole] = {
    role.service: role
    for role in (
        ServiceRole("metrics_api", frozenset({"area", "metric", "metric_version"}), AUTHENTICATES),
        # Ingest asks metrics_api for the catalogue over HTTP: it reads nothing else of others.
        ServiceRole("ingest", frozenset({"submission", "observation", "outbox"}), AUTHENTICATES),
        ServiceRole(
            "targets_api",
            frozenset(
                {"place_leader", "plan", "plan_target", "plan_approval", "place_governance"}
                | {"leader_nomination", "leader_nomination_decision"}
                | {"plan_contribution", "plan_spend"}
            )
            | {"webhook_subscription"}
            | _TARGETS_PROGRESS
            | _WEBHOOK_DELIVERIES
            | _ESCALATIONS,
            AUTHENTICATES | _PROGRESS_INPUTS | _WEBHOOK_ATTEMPTS,
        ),
        # The worker runs targets_api's refresher (and the escalation rules after it), its
        # webhook deliverer and ingest's outbox deliverer: their tables, what the refresher
        # computes from (the agreed plans' targets too) and the subscriptions the deliveries go
        # to. It answers no request that needs a key, so it never reads the keys.
        ServiceRole(
            "worker",
            _TARGETS_PROGRESS | _ESCALATIONS | _WEBHOOK_DELIVERIES | _WEBHOOK_ATTEMPTS | {"outbox"},
            _PROGRESS_INPUTS | {"plan", "plan_target", "webhook_subscription"},
        ),
    )
}

# Tables no service writes: the migrations' own, and the keys (`joinedup keys`, as the owner).
OWNER_ONLY = frozenset({"alembic_version", "schema_compatibility", "api_key"})
# Columns every service that reads the table updates in it, though it does not own it: a key's
# last use is recorded by whichever service the key calls (services/common/auth.py), and
# nothing else of the key.
EVERY_SERVICE_UPDATES: dict[str, tuple[str, ...]] = {"api_key": ("last_used_at",)}

_READ = sql.SQL("SELECT")
_INSERT = sql.SQL("SELECT, INSERT")
_WRITE = sql.SQL("SELECT, INSERT, UPDATE, DELETE")


def _statements(conn: psycopg.Connection, role: ServiceRole) -> list[sql.Composed]:
    """What brings ``role``'s rights on the current schema to what is declared."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    ]
    sequences: dict[str, str] = dict(
        conn.execute(
            # The sequences behind identity and serial columns, by the table they belong to.
            "SELECT s.relname, t.relname FROM pg_class s"
            " JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
        ).fetchall()
    )
    who = sql.Identifier(role.name)
    schema = sql.Identifier(_schema(conn))
    statements: list[sql.Composed] = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who),
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, who),
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, who),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(schema, who),
    ]
    written = role.writes & set(tables)
    for table in tables:
        # Changing an entry of the audit log never; a table outside ``selects`` not even read.
        if table in written:
            privileges = _WRITE
        elif table == AUDIT_LOG:
            privileges = _INSERT
        elif table in role.selects:
            privileges = _READ
        else:
            continue
        statements.append(
            sql.SQL("GRANT {} ON {} TO {}").format(privileges, sql.Identifier(table), who)
        )
    existing = set(
        conn.execute(
            # At an earlier revision (a downgrade) a declared column may not exist yet.
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        ).fetchall()
    )
    for table, columns in EVERY_SERVICE_UPDATES.items():
        if table not in role.selects:
            continue
        if present := [c for c in columns if (table, c) in existing]:
            statements.append(
                sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, present)), sql.Identifier(table), who
                )
            )
    for sequence, table in sorted(sequences.items()):
        if table in written | {AUDIT_LOG}:
            statements.append(
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.Identifier(sequence), who)
            )
    return statements


def _schema(conn: psycopg.Connection) -> str:
    schema = conn.execute("SELECT current_schema()").fetchone()
    assert schema is not None and schema[0] is not None
    return str(schema[0])


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the login roles that do not exist yet (roles belong to the server, not to one
    database), and set a password where ``JOINEDUP_<SERVICE>_DATABASE_PASSWORD`` gives one."""
    for role in SERVICE_ROLES.values():
        conn.execute(
            sql.SQL(
                "DO $$ BEGIN CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                " NOREPLICATION; EXCEPTION WHEN duplicate_object OR unique_violation"
                " THEN NULL; END $$"
            ).format(sql.Identifier(role.name))
        )
        if password := os.environ.get(role.password_variable):
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role.name), sql.Literal(password)
                )
            )


def apply_grants(conn: psycopg.Connection) -> None:
    """Create the roles and bring every one's rights on this database to its declaration."""
    ensure_roles(conn)
    for role in SERVICE_ROLES.values():
        for statement in _statements(conn, role):
            conn.execute(statement)


def apply_grants_at(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        apply_grants(conn)


def as_role(database_url: str, service: str) -> str:
    """The owner's URL turned into ``service``'s (its role; the password, if any, is dropped:
    the embedded server trusts its own socket)."""
    role = SERVICE_ROLES[service]
    url = make_url(database_url).set(username=role.name, password=None)
    return url.render_as_string(hide_password=False)


def role_urls(database_url: str) -> dict[str, str]:
    """``JOINEDUP_<SERVICE>_DATABASE_URL`` for every service, from the owner's URL of a server
    that trusts its local connections (the embedded one, the tests')."""
    return {role.url_variable: as_role(database_url, name) for name, role in SERVICE_ROLES.items()}


def service_database_url(settings: CommonSettings, service: str) -> str:
    """Where ``service`` connects: ``JOINEDUP_<SERVICE>_DATABASE_URL``; else
    ``JOINEDUP_DATABASE_URL`` as it is (one role for every service, as before: the risk is in
    docs/reliability.md); else the embedded server, as the service's own role."""
    role = SERVICE_ROLES.get(service)
    if role is None:
        return resolve_database_url(settings)
    if own := os.environ.get(role.url_variable):
        return own
    if settings.database_url:
        return settings.database_url
    return as_role(resolve_database_url(settings), service)
