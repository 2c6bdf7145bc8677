"""`joinedup`: run the suite, migrate the database, load reference data, manage API keys,
submit data and refresh progress."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from services.common.durations import parse_duration
from services.common.vocabulary import Role, SubmissionMode, SubmitFormat, WorkerJob
from services.web import PORT as WEB_PORT
from services.worker import PORT as WORKER_PORT

# Only the standard library, typer and the constants above are imported here: `joinedup --help`
# and `joinedup submit --help` must answer at once, so each command imports what it runs (the
# database, the services, httpx) inside itself (tests/cli/test_startup.py keeps it so).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.demo import load as demo_load
    from services.demo.runner import Transact

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="joinedup: outcome metrics for health and care integration in England.",
)
db_app = typer.Typer(no_args_is_help=True, help="Migrate the shared schema (Alembic).")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list, rotate and revoke API keys.")
progress_app = typer.Typer(no_args_is_help=True, help="Progress against targets (targets_api).")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(progress_app, name="progress")

T = TypeVar("T")


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _database_url() -> str:
    from services.common.config import CommonSettings
    from services.common.db import resolve_database_url, sqlalchemy_url

    url = resolve_database_url(CommonSettings())
    try:
        sqlalchemy_url(url)
    except ValueError as exc:
        _fail(str(exc), 1)
    return url


@contextlib.contextmanager
def _reported(url: str) -> Iterator[None]:
    """Failures the operator can act on end the command with one line, not a traceback."""
    import psycopg
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from services.common.errors import Problem

    try:
        yield
    except Problem as problem:
        _fail(problem.detail, 2)
    except (OperationalError, psycopg.OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        shown = make_url(url).render_as_string(hide_password=True)
        _fail(f"cannot use the database at {shown}: {reason}", 1)


def _in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction."""
    import asyncio

    from services.common.config import CommonSettings
    from services.common.db import create_engine, make_sessionmaker

    async def run() -> T:
        engine = create_engine(url, CommonSettings(db_pool_size=1))
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    with _reported(url):
        return asyncio.run(run())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to REVISION (default: head)."""
    from services.common import schema_version

    url = _database_url()
    with _reported(url):
        schema_version.upgrade(url, revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1 or base")]) -> None:
    """Migrate the database down to REVISION."""
    from services.common import schema_version

    url = _database_url()
    with _reported(url):
        schema_version.downgrade(url, revision)


@db_app.command("roles")
def db_roles() -> None:
    """Create each service's login role and grant it its rights (done after every migration
    too); JOINEDUP_<SERVICE>_DATABASE_PASSWORD sets a role's password."""
    from services.common.roles import SERVICE_ROLES, apply_grants_at

    url = _database_url()
    with _reported(url):
        apply_grants_at(url)
    for role in SERVICE_ROLES.values():
        typer.echo(
            f"{role.name}: writes {', '.join(sorted(role.writes))};"
            f" reads {', '.join(sorted(role.selects - role.writes))}"
        )


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the head it should be at."""
    from services.common import schema_version

    async def current(session: AsyncSession) -> str | None:
        return await schema_version.current_revision(await session.connection())

    revision = _in_transaction(_database_url(), current)
    typer.echo(f"current: {revision or '(empty database)'}")
    typer.echo(f"head:    {schema_version.head_revision()}")


@app.command()
def seed() -> None:
    """Load England's areas and the national metrics (adds only what is missing)."""
    from services.metrics_api.seed import seed as seed_reference_data

    added = _in_transaction(_database_url(), seed_reference_data)
    typer.echo(f"seeded: {added['areas']} areas and {added['metrics']} metrics added")


def _when(moment: datetime | None, *, missing: str) -> str:
    return missing if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def _expiry(moment: datetime | None) -> str:
    return "it does not expire" if moment is None else f"it expires {moment:%Y-%m-%d %H:%M %Z}"


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do")],
    name: Annotated[str, typer.Option(help="Who or what holds the key")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="Area code the key acts for (repeatable); covers everything below it"),
    ] = None,
    expires_in: Annotated[
        timedelta | None,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            show_default=False,
            help="Stop working this long from now: 30m, 12h, 90d, 2w (default: never)",
        ),
    ] = None,
) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is stored."""
    from services.common import keys

    row, key = _in_transaction(
        _database_url(),
        lambda session: keys.create(
            session, name=name, role=role, scopes=scope or [], expires_in=expires_in
        ),
    )
    typer.echo(
        f"created key {row.id} ({row.name}, role {row.role}, scope "
        f"{' '.join(row.scopes) or 'none'}; {_expiry(row.expires_at)}). Store it now; it "
        f"cannot be shown again:"
    )
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves): when each was made, last used (to the minute)
    and expires, in UTC."""
    from services.common import keys

    listed = _in_transaction(_database_url(), keys.all_keys)
    typer.echo(
        f"{'id':>4}  {'role':<10} {'status':<8} {'scopes':<24} {'created':<16}  "
        f"{'last used':<16}  {'expires':<16}  name"
    )
    for row, status in ((entry.key, entry.status) for entry in listed):
        typer.echo(
            f"{row.id:>4}  {row.role:<10} {status:<8} {' '.join(row.scopes):<24} "
            f"{_when(row.created_at, missing='-'):<16}  "
            f"{_when(row.last_used_at, missing='never'):<16}  "
            f"{_when(row.expires_at, missing='never'):<16}  {row.name}"
        )


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[int, typer.Argument(help="The key's id from `keys list`")],
    grace: Annotated[
        timedelta,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="How long the old key keeps working, for its holder to switch: 0 (stops "
            "now), 30m, 12h, 90d, 2w",
        ),
    ] = "0",  # type: ignore[assignment]  # typer hands the default to the parser
) -> None:
    """Replace a key by a new one with the same name, role and scopes (printed once, alone on
    the last line); the old one expires after the grace."""
    from services.common import keys

    rotation = _in_transaction(
        _database_url(), lambda session: keys.rotate(session, key_id, grace=grace)
    )
    old, new = rotation.old, rotation.new
    typer.echo(
        f"rotated key {old.id} ({old.name}): it stops working at "
        f"{old.expires_at:%Y-%m-%d %H:%M:%S %Z}. New key {new.id} ({new.role}, scope "
        f"{' '.join(new.scopes) or 'none'}; {_expiry(new.expires_at)}). Store it now; it "
        f"cannot be shown again:"
    )
    typer.echo(rotation.key)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id from `keys list`")],
) -> None:
    """Revoke a key; it stops working at once."""
    from services.common import keys

    row, already_revoked = _in_transaction(
        _database_url(), lambda session: keys.revoke(session, key_id)
    )
    if already_revoked:
        typer.echo(
            f"key {row.id} ({row.name}) was already revoked at "
            f"{row.revoked_at:%Y-%m-%d %H:%M %Z}; nothing changed"
        )
    else:
        typer.echo(f"revoked key {row.id} ({row.name})")


@progress_app.command("refresh")
def progress_refresh(
    url: Annotated[
        str, typer.Option(envvar="JOINEDUP_TARGETS_API_URL", help="targets_api's address")
    ] = "http://127.0.0.1:8002",
    key: Annotated[
        str | None, typer.Option(envvar="JOINEDUP_API_KEY", show_default=False, help="An admin key")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the answer")] = 600.0,
) -> None:
    """Recompute all progress from the current observations, through the running targets_api
    (which reads the catalogue from metrics_api). Change notices from ingest refresh what
    changed without this; use it after restoring a backup or changing the rules.

    Exit codes: 0 done, 1 refused, 2 usage, 3 targets_api unavailable.
    """
    import httpx

    from services.common.http import problem_detail

    if not key or not key.strip():
        _fail("no API key: pass --key or set JOINEDUP_API_KEY to an admin key.", 2)
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/progress/refresh",
            timeout=timeout,
            headers={"Authorization": f"Bearer {key.strip()}"},
        )
    except httpx.HTTPError as exc:
        _fail(f"targets_api is not reachable at {url}: {exc}", 3)
    if response.status_code != 200:
        _fail(
            f"targets_api answered {response.status_code}: {problem_detail(response)}",
            3 if response.status_code == 503 else 1,
        )
    done = response.json()
    typer.echo(
        f"refreshed {done['pairs']} metric periods: {done['area_values']} area values, "
        f"{done['targets']} targets, in {done['seconds']:.1f} s"
    )


@app.command()
def submit(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="The CSV to send; its header names the columns place_code, metric_code, period, "
            "value, numerator, denominator, note (with --format dhis2: a dataValueSets file)",
        ),
    ],
    url: Annotated[
        str, typer.Option(envvar="JOINEDUP_INGEST_URL", help="ingest's address")
    ] = "http://127.0.0.1:8003",
    key: Annotated[
        str | None,
        typer.Option(
            envvar="JOINEDUP_API_KEY",
            show_default=False,
            help="A submitter key for the places in the file",
        ),
    ] = None,
    mode: Annotated[
        SubmissionMode,
        typer.Option(help="atomic: every row or none; partial: store the valid rows"),
    ] = SubmissionMode.atomic,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the rows, store nothing")
    ] = False,
    format: Annotated[
        SubmitFormat,
        typer.Option(
            "--format",
            help="native: joinedup's CSV; dhis2: a DHIS2 dataValueSets file, JSON or CSV; "
            "fhir: a FHIR Bundle (transaction: atomic, batch: partial) or one MeasureReport, "
            "in JSON (docs/api.md)",
        ),
    ] = SubmitFormat.native,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            show_default=False,
            help="Default: from the file's SHA-256 and the mode, so running "
            "the command again never stores the file twice",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds to wait for ingest to take each part of the file, and to answer"
        ),
    ] = 120.0,
    retries: Annotated[
        int,
        typer.Option(
            min=0,
            max=20,
            help="How often to try again while ingest is unreachable or answers "
            "503 (safe: the idempotency key)",
        ),
    ] = 5,
    show_errors: Annotated[
        int, typer.Option(min=0, help="Print at most this many row errors")
    ] = 50,
) -> None:
    """Send a CSV of observations (or a DHIS2 dataValueSets or FHIR file) to ingest; print what was
    stored and a table of row errors.

    Exit codes: 0 accepted (wholly or partially), 1 rejected or refused, 2 usage,
    3 ingest unavailable.
    """
    from services import submit_client

    if not key or not key.strip():
        _fail(
            "no API key: pass --key or set JOINEDUP_API_KEY to a submitter key for the "
            "places in the file (`joinedup keys create --role submitter --scope AREA`).",
            2,
        )
    upload = submit_client.Upload(
        path=file,
        url=url,
        key=key.strip(),
        mode=mode,
        dry_run=dry_run,
        format=format,
        idempotency_key=idempotency_key,
        timeout_s=timeout,
        retries=retries,
        show_errors=show_errors,
    )
    try:
        code = submit_client.submit(upload)
    except submit_client.SubmitFailed as failure:
        _fail(str(failure), failure.code)
    raise typer.Exit(code)


# uvicorn processes per API service: one event loop uses one core at most, so as many as there
# are cores (the 2-core machine this was measured on gets 2); no more than 4, because every
# process has its own database pool and the three services' processes share the embedded
# server's 100 connections (docs/operations.md).
DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)


@app.command()
def worker(
    only: Annotated[
        WorkerJob | None,
        typer.Option(
            envvar="JOINEDUP_WORKER_ONLY",
            show_default=False,
            help="Run only this job (default: every one)",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface its health and metrics listen on")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="JOINEDUP_WORKER_PORT")] = WORKER_PORT,
) -> None:
    """Run the background work until SIGTERM or Ctrl-C: targets_api's progress refresher
    (progress), ingest's outbox deliverer (outbox) and the webhook deliveries to areas'
    subscribers (webhooks). It serves /healthz, /readyz and
    /metrics on PORT. Several may run at once; they take turns.

    It needs the database (JOINEDUP_DATABASE_URL, or the embedded one), metrics_api
    (JOINEDUP_METRICS_API_URL), targets_api (JOINEDUP_TARGETS_API_URL) and the service key
    (JOINEDUP_SERVICE_KEY).
    """
    import uvicorn

    from services.common.logs import log_config
    from services.common.roles import service_database_url
    from services.supervisor import busy_ports
    from services.worker import main as worker_main

    settings = worker_main.WorkerSettings(worker_only=only)
    if busy_ports(host, [port]):
        _fail(f"port {port} on {host} is already in use; choose another with --port.", 1)
    url = _database_url()
    with _reported(url):
        worker_app = worker_main.create_app(
            settings, database_url=service_database_url(settings, "worker")
        )
    uvicorn.run(
        worker_app,
        host=host,
        port=port,
        log_config=log_config(settings.log_level),
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface the services listen on")] = "127.0.0.1",
    metrics_port: Annotated[int, typer.Option(envvar="JOINEDUP_METRICS_API_PORT")] = 8001,
    targets_port: Annotated[int, typer.Option(envvar="JOINEDUP_TARGETS_API_PORT")] = 8002,
    ingest_port: Annotated[int, typer.Option(envvar="JOINEDUP_INGEST_PORT")] = 8003,
    worker_port: Annotated[int, typer.Option(envvar="JOINEDUP_WORKER_PORT")] = WORKER_PORT,
    web_port: Annotated[int, typer.Option(envvar="JOINEDUP_WEB_PORT")] = WEB_PORT,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=32,
            envvar="JOINEDUP_WORKERS",
            help="uvicorn processes per API service (default: the machine's cores, at most 4)",
        ),
    ] = DEFAULT_WORKERS,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Once the services are ready, load the demo data as `joinedup demo` "
            "does (the services keep running if it fails)",
        ),
    ] = False,
) -> None:
    """Run the database, migrations, seed data, the three services, the worker and the web
    app until Ctrl-C.

    The database is the embedded one unless JOINEDUP_DATABASE_URL is set.
    """
    from services.common import keys, schema_version
    from services.common.config import CommonSettings
    from services.common.embedded import EmbeddedServer, start_embedded
    from services.common.roles import role_urls
    from services.demo import load as demo_load
    from services.demo.runner import DemoInBackground, revoke_demo_keys, web_demo_keys
    from services.metrics_api.seed import seed as seed_reference_data
    from services.supervisor import ServiceProcess, Supervisor, busy_ports, say

    pool = _pool_per_process(workers)
    services = [
        *(
            ServiceProcess(name, f"services.{name}.main:create_app", port, workers, pool)
            for name, port in (
                ("metrics_api", metrics_port),
                ("targets_api", targets_port),
                ("ingest", ingest_port),
            )
        ),
        ServiceProcess("worker", "services.worker.main:create_app", worker_port, page="metrics"),
        # One process only: its sessions are in that process's memory (docs/web.md). It acts
        # only with the signed-in person's key, so it gets no service key.
        ServiceProcess(
            "web",
            "services.web.main:create_app",
            web_port,
            page="sign-in",
            env={"JOINEDUP_SERVICE_KEY": ""},
        ),
    ]
    # Checked first: otherwise another program on the port would answer the readiness checks.
    if busy := busy_ports(host, [service.port for service in services]):
        _fail(
            f"port {', '.join(map(str, busy))} on {host} is already in use (is joinedup "
            f"already running?); choose others with --metrics-port, --targets-port, "
            f"--ingest-port, --worker-port and --web-port.",
            1,
        )
    url = _database_url()
    settings = CommonSettings()
    # Only the embedded server is ours to restart; a server of one's own is someone else's.
    database = None if settings.database_url else EmbeddedServer(start_embedded(settings))
    if database is not None:
        say(f"database: {database}; restarted if it dies")
    say("database: migrating to head")
    with _reported(url):
        schema_version.upgrade(url)
    added = _in_transaction(url, seed_reference_data)
    say(f"database: ready ({added['areas']} areas and {added['metrics']} metrics added)")
    admin_key = _in_transaction(url, keys.first_admin_key)
    env = {
        # On the embedded server each service connects as its own role (services/common/roles.py).
        **(role_urls(url) if database is not None else {}),
        **os.environ,
        "JOINEDUP_DATABASE_URL": url,
        "JOINEDUP_METRICS_API_URL": services[0].url,
        "JOINEDUP_TARGETS_API_URL": services[1].url,
        "JOINEDUP_INGEST_URL": services[2].url,
    }
    run_key_id = None
    if not env.get("JOINEDUP_SERVICE_KEY"):
        run_key_id, env["JOINEDUP_SERVICE_KEY"] = _in_transaction(url, keys.service_key_for_run)
    web_key_ids: list[int] = []
    if demo:
        web_key_ids, web_keys = _in_transaction(url, web_demo_keys)
        services[-1].env["JOINEDUP_WEB_DEMO_KEYS"] = json.dumps(web_keys)
    supervisor = Supervisor(services, host=host, env=env, database=database)
    demo_run = (
        DemoInBackground(
            _transactions(url),
            demo_load.Endpoints(*(s.url for s in services[:3])),
            cancel=supervisor.stopping,
        )
        if demo
        else None
    )
    supervisor.on_ready = demo_run.start if demo_run else None
    supervisor.install_signal_handlers()
    if admin_key:
        say("First run: created an admin key. Store it now; it cannot be shown again:")
        say(admin_key)
    try:
        code = supervisor.run()
    finally:
        if demo_run is not None:
            demo_run.finish()
        if run_key_id is not None:
            _in_transaction(url, lambda session: keys.revoke(session, run_key_id))
        if web_key_ids:
            _in_transaction(url, lambda session: revoke_demo_keys(session, web_key_ids))
    say("joinedup stopped.")
    raise typer.Exit(code)


def _pool_per_process(workers: int) -> dict[str, str]:
    """A service keeps the connections of one process's pool however many processes serve it,
    unless JOINEDUP_DB_POOL_SIZE says otherwise (it is then per process, as in production)."""
    from services.common.config import CommonSettings

    if "JOINEDUP_DB_POOL_SIZE" in os.environ:
        return {}
    total = CommonSettings.model_fields["db_pool_size"].default
    return {"JOINEDUP_DB_POOL_SIZE": str(max(2, math.ceil(total / workers)))}


@app.command("demo")
def demo_command(
    seed: Annotated[int, typer.Option(help="The same seed makes the same data")] = 1,
    years: Annotated[
        int,
        typer.Option(
            min=1, max=20, help="Years of data, ending at each metric's last ended period"
        ),
    ] = 5,
    places: Annotated[
        int | None,
        typer.Option(
            min=1,
            show_default=False,
            help="Only the first N places in code order (default: all 153)",
        ),
    ] = None,
    place: Annotated[
        list[str] | None,
        typer.Option(show_default=False, help="Only this place (repeatable), e.g. E08000035"),
    ] = None,
    metrics_url: Annotated[
        str, typer.Option(envvar="JOINEDUP_METRICS_API_URL", help="metrics_api's address")
    ] = "http://127.0.0.1:8001",
    targets_url: Annotated[
        str, typer.Option(envvar="JOINEDUP_TARGETS_API_URL", help="targets_api's address")
    ] = "http://127.0.0.1:8002",
    ingest_url: Annotated[
        str, typer.Option(envvar="JOINEDUP_INGEST_URL", help="ingest's address")
    ] = "http://127.0.0.1:8003",
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests at once")] = 8,
    wait: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds to wait for targets_api to compute progress; 0: do not wait"
        ),
    ] = 300.0,
) -> None:
    """Load realistic, synthetic demo data through the running services' APIs: a leader for
    every place, a plan agreed by the place and its ICB with national and local targets, years
    of submissions with trends, seasons, step changes, late and missing data and corrections;
    then wait for progress. Running it again adds nothing that is already there.

    It needs the database (JOINEDUP_DATABASE_URL, or the embedded one in JOINEDUP_DATA_DIR) to
    make its own keys, which it revokes when it ends.

    Exit codes: 0 loaded, 1 refused, 2 usage, 3 a service unavailable.
    """
    from services.demo import load as demo_load

    endpoints = demo_load.Endpoints(
        metrics_url.rstrip("/"), targets_url.rstrip("/"), ingest_url.rstrip("/")
    )
    options = demo_load.Options(
        seed=seed,
        years=years,
        places=tuple(place or ()),
        place_limit=places,
        concurrency=concurrency,
        progress_timeout_s=wait,
    )
    raise typer.Exit(_run_demo(None, endpoints, options))


def _run_demo(url: str | None, endpoints: demo_load.Endpoints, options: demo_load.Options) -> int:
    """`joinedup demo`'s run on the database at ``url`` (None: the configured one)."""
    from services.demo.runner import run_demo

    return run_demo(_transactions(url), endpoints, options)


def _transactions(url: str | None) -> Transact:
    """Committed transactions on ``url``, or on the configured database (None), which is found
    (and the embedded server started) only when the first transaction runs: the demo checks
    that the services answer before it makes its keys."""
    database = functools.cache(lambda: url or _database_url())

    def transact(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return _in_transaction(database(), work)

    return transact
