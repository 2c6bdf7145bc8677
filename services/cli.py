"""`joinedup`: run the suite, migrate the database, load reference data and manage API keys."""

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, schema_version
from services.common.auth import Role, create_key, revoke_key
from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker, resolve_database_url
from services.common.errors import Problem
from services.common.models import ApiKey
from services.metrics_api.seed import seed as seed_reference_data
from services.supervisor import ServiceProcess, Supervisor, say

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="joinedup: outcome metrics for health and care integration in England.")
db_app = typer.Typer(no_args_is_help=True, help="Migrate the shared schema (Alembic).")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

T = TypeVar("T")


def _database_url() -> str:
    return resolve_database_url(CommonSettings())


def _in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a domain problem exits with its message."""

    async def run() -> T:
        engine = create_engine(url, CommonSettings(db_pool_size=1))
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except Problem as problem:
        typer.echo(f"error: {problem.detail}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to REVISION (default: head)."""
    schema_version.upgrade(_database_url(), revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1 or base")]) -> None:
    """Migrate the database down to REVISION."""
    schema_version.downgrade(_database_url(), revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the head it should be at."""

    async def current(session: AsyncSession) -> str | None:
        return await schema_version.current_revision(await session.connection())

    revision = _in_transaction(_database_url(), current)
    typer.echo(f"current: {revision or '(empty database)'}")
    typer.echo(f"head:    {schema_version.head_revision()}")


@app.command()
def seed() -> None:
    """Load England's areas and the national metrics (adds only what is missing)."""
    added = _in_transaction(_database_url(), seed_reference_data)
    typer.echo(f"seeded: {added['areas']} areas and {added['metrics']} metrics added")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do")],
    name: Annotated[str, typer.Option(help="Who or what holds the key")],
    scope: Annotated[list[str] | None, typer.Option(
        help="Area code the key acts for (repeatable); covers everything below it")] = None,
) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is stored."""

    async def create(session: AsyncSession) -> tuple[ApiKey, str]:
        return await _create_key_audited(session, name=name, role=role, scopes=scope or [])

    row, key = _in_transaction(_database_url(), create)
    typer.echo(f"created key {row.id} ({row.name}, role {row.role}, scope "
               f"{' '.join(row.scopes) or 'none'}). Store it now; it cannot be shown again:")
    typer.echo(key)


async def _create_key_audited(session: AsyncSession, *, name: str, role: Role,
                              scopes: list[str]) -> tuple[ApiKey, str]:
    row, key = await create_key(session, name=name, role=role, scopes=scopes)
    await audit.record(session, actor="cli", action="api_key.create", entity_type="api_key",
                       entity_id=str(row.id),
                       after={"name": row.name, "role": row.role, "scopes": row.scopes})
    return row, key


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves)."""

    async def rows(session: AsyncSession) -> list[ApiKey]:
        return list((await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars())

    typer.echo(f"{'id':>4}  {'role':<10} {'status':<8} {'scopes':<24} name")
    for row in _in_transaction(_database_url(), rows):
        status = "revoked" if row.revoked_at else "active"
        typer.echo(f"{row.id:>4}  {row.role:<10} {status:<8} {' '.join(row.scopes):<24} "
                   f"{row.name}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id from `keys list`")]
                ) -> None:
    """Revoke a key; it stops working at once."""

    async def revoke(session: AsyncSession) -> ApiKey:
        row = await revoke_key(session, key_id=key_id)
        await audit.record(session, actor="cli", action="api_key.revoke", entity_type="api_key",
                           entity_id=str(row.id), after={"revoked_at": str(row.revoked_at)})
        return row

    row = _in_transaction(_database_url(), revoke)
    typer.echo(f"revoked key {row.id} ({row.name})")


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface the services listen on")] = "127.0.0.1",
    metrics_port: Annotated[int, typer.Option(envvar="JOINEDUP_METRICS_API_PORT")] = 8001,
    targets_port: Annotated[int, typer.Option(envvar="JOINEDUP_TARGETS_API_PORT")] = 8002,
    ingest_port: Annotated[int, typer.Option(envvar="JOINEDUP_INGEST_PORT")] = 8003,
) -> None:
    """Start the database (embedded unless JOINEDUP_DATABASE_URL is set), migrate, seed, and run
    metrics_api, targets_api and ingest until Ctrl-C."""
    url = _database_url()
    say("database: migrating to head")
    schema_version.upgrade(url)
    added = _in_transaction(url, seed_reference_data)
    say(f"database: ready ({added['areas']} areas and {added['metrics']} metrics added)")
    admin_key = _in_transaction(url, _first_admin_key)
    services = [
        ServiceProcess("metrics_api", "services.metrics_api.main:create_app", metrics_port),
        ServiceProcess("targets_api", "services.targets_api.main:create_app", targets_port),
        ServiceProcess("ingest", "services.ingest.main:create_app", ingest_port),
    ]
    urls = {"JOINEDUP_METRICS_API_URL": services[0].url,
            "JOINEDUP_TARGETS_API_URL": services[1].url, "JOINEDUP_INGEST_URL": services[2].url}
    supervisor = Supervisor(services, host=host,
                            env={**os.environ, **urls, "JOINEDUP_DATABASE_URL": url})
    supervisor.install_signal_handlers()
    if admin_key:
        say("First run: created an admin key. Store it now; it cannot be shown again:")
        say(admin_key)
    code = supervisor.run()
    say("joinedup stopped.")
    raise typer.Exit(code)


async def _first_admin_key(session: AsyncSession) -> str | None:
    """On a database with no keys at all, make the admin key the operator needs to begin."""
    if await session.scalar(select(func.count()).select_from(ApiKey)):
        return None
    _, key = await _create_key_audited(session, name="first admin (joinedup up)",
                                       role=Role.admin, scopes=[])
    return key
