"""Fixtures for the `joinedup up` tests: the processes it starts are killed after each test, and
an embedded data folder of its own is removed (tests/support/up.py has the helpers)."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.up import Up, postgres_processes


@pytest.fixture
def start_up() -> Iterator[Callable[..., Up]]:
    """``start_up(env)`` runs `joinedup up` with ``env`` (``workers=`` its --workers); whatever
    is left is killed after."""
    started: list[Up] = []

    def start(env: dict[str, str], workers: int = 1) -> Up:
        started.append(Up(env, workers))
        return started[-1]

    yield start
    for up in started:
        up.kill_everything()


@pytest.fixture
def embedded_env() -> Iterator[dict[str, str]]:
    """`up`'s environment with its own embedded data folder, outside pytest's temporary root
    (which pytest makes private again: run as root, the server runs as another user)."""
    data_dir = Path(tempfile.mkdtemp(prefix="joinedup-e2e-db-"))
    env = {name: value for name, value in os.environ.items() if name != "JOINEDUP_DATABASE_URL"}
    env["JOINEDUP_DATA_DIR"] = str(data_dir)
    yield env
    for process in postgres_processes(data_dir):  # left by a test that failed half-way
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    shutil.rmtree(data_dir, ignore_errors=True)
