import psycopg

from services.common import schema_version
from services.common.db import libpq_url


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def test_every_migration_is_reversible(empty_database_url):
    schema_version.upgrade(empty_database_url)
    at_head = _tables(empty_database_url)
    assert {"area", "metric", "metric_version", "api_key", "audit_log"} <= at_head

    schema_version.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}

    schema_version.upgrade(empty_database_url)
    assert _tables(empty_database_url) == at_head
