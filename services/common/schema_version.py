"""Alembic, driven from code: migrate a database and tell whether it serves this build.

A build serves a schema at its own head, or at a later revision that declares, by a row in
``schema_compatibility``, that services built for that head keep working (the expand half of
an expand/contract change, docs/operations.md): so a rolling upgrade can migrate first and
replace the old processes after, each staying ready meanwhile.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(conn: AsyncConnection) -> str | None:
    has_table = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not has_table:
        return None
    return await conn.scalar(text("SELECT version_num FROM alembic_version"))


async def serves(conn: AsyncConnection, current: str | None, head: str | None) -> bool:
    """Whether a service built for ``head`` works on a schema at ``current``."""
    if current == head:
        return True
    if current is None or head is None:
        return False
    has_table = await conn.scalar(text("SELECT to_regclass('schema_compatibility') IS NOT NULL"))
    if not has_table:
        return False
    return bool(
        await conn.scalar(
            text(
                "SELECT EXISTS (SELECT FROM schema_compatibility"
                " WHERE revision = :current AND compatible_with = :head)"
            ),
            {"current": current, "head": head},
        )
    )
