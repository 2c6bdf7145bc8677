"""Alembic environment: runs the static migrations in versions/ against one database.

The URL comes from ``config.attributes["database_url"]`` when called from code (the CLI, the
tests), else from the JOINEDUP_* settings, which start the embedded server if none is configured.
"""

from alembic import context
from sqlalchemy import create_engine, pool

from services.common.config import CommonSettings
from services.common.db import resolve_database_url, sqlalchemy_url

config = context.config
url = config.attributes.get("database_url") or resolve_database_url(CommonSettings())

engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
