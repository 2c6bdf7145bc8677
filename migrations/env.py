"""Alembic environment: runs the static migrations in versions/ against one database.

The URL comes from ``config.attributes["database_url"]`` when called from code (the CLI, the
tests), else from the JOINEDUP_* settings, which start the embedded server if none is configured.
It runs as the owner of the schema; after the migrations it grants the services' roles their
rights (services/common/roles.py).
"""

from typing import cast

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool

from services.common.config import CommonSettings
from services.common.db import resolve_database_url, sqlalchemy_url
from services.common.roles import apply_grants

config = context.config
url = config.attributes.get("database_url") or resolve_database_url(CommonSettings())

engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    # Every migration may add or drop tables: the services' roles are brought to their
    # declaration (services/common/roles.py) in the same run, as the owner.
    driver = cast(psycopg.Connection, connection.connection.driver_connection)
    apply_grants(driver)
    driver.commit()
engine.dispose()
