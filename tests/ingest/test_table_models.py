"""The table models of the outbox and of the queue it feeds say what the migrations made: the
models' DDL, created in a schema of its own, is the same as the migrated tables' in the
catalogue (types, nullability, defaults, identity, keys, checks, indexes)."""

import psycopg
import pytest
import sqlalchemy as sa

from services.common.db import libpq_url
from services.common.models import Outbox, ProgressRefreshQueue

_COLUMNS = """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
           pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = to_regclass(%(table)s) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attname
"""
_CONSTRAINTS = """
    SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = to_regclass(%(table)s) AND contype <> 'n' ORDER BY conname
"""
# The index's definition names its schema; the comparison is of everything else.
_INDEXES = """
    SELECT indexname, replace(indexdef, schemaname || '.', '') FROM pg_indexes
    WHERE schemaname = %(schema)s AND tablename = %(name)s ORDER BY indexname
"""


def describe(conn: psycopg.Connection, schema: str, name: str) -> dict[str, list[tuple]]:
    where = {"table": f"{schema}.{name}", "schema": schema, "name": name}
    return {
        part: conn.execute(statement, where).fetchall()
        for part, statement in [
            ("columns", _COLUMNS),
            ("constraints", _CONSTRAINTS),
            ("indexes", _INDEXES),
        ]
    }


@pytest.mark.parametrize("model", [Outbox, ProgressRefreshQueue])
def test_the_model_is_the_migrated_table(database_url, model):
    table = model.__table__
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA from_model"))
            table.to_metadata(sa.MetaData(schema="from_model")).create(conn)
    finally:
        engine.dispose()
    with psycopg.connect(libpq_url(database_url)) as conn:
        migrated = describe(conn, "public", table.name)
        modelled = describe(conn, "from_model", table.name)
    assert migrated["columns"]  # the table is there to compare
    assert modelled == migrated
