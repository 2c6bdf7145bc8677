"""`joinedup --help` answers at once because services/cli.py imports no service, database
driver or web framework until a command runs. Shown by the modules a fresh interpreter has
loaded after the help is printed, never by timing it."""

import json
import subprocess
import sys

import pytest

# What a command that runs imports, and help must not: each takes tens to hundreds of
# milliseconds to import (`python -X importtime -c "import services.cli"`). pydantic and rich
# are typer's own.
HEAVY = (
    "alembic",
    "altair",
    "fastapi",
    "httpx",
    "jinja2",
    "numpy",
    "prometheus_client",
    "psutil",
    "psycopg",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "uvicorn",
)
# The joinedup modules help needs: the command table and the constants its options offer.
LIGHT = {
    "services",
    "services.cli",
    "services.common",
    "services.common.durations",
    "services.common.vocabulary",
    "services.web",
    "services.worker",
}
RUN_AND_LIST_MODULES = """
import json, sys
from services.cli import app
try:
    app(sys.argv[1:], prog_name="joinedup")
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded_after(*args: str) -> tuple[str, set[str]]:
    """What ``joinedup ARGS`` printed, and the modules loaded once it had."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    *printed, last = result.stdout.splitlines()
    report = json.loads(last)
    assert report["code"] == 0, result.stderr
    return "\n".join(printed), set(report["modules"])


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["submit", "--help"],
        ["keys", "create", "--help"],
        ["worker", "--help"],
        ["up", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_service_driver_or_framework(args):
    printed, modules = loaded_after(*args)

    assert "Usage: joinedup" in printed
    assert top_level(modules) & set(HEAVY) == set()
    assert {name for name in modules if name.split(".")[0] == "services"} <= LIGHT


def test_submit_help_still_offers_the_modes_from_the_vocabulary():
    printed, _ = loaded_after("submit", "--help")

    assert "atomic" in printed and "partial" in printed


def test_a_command_that_runs_imports_what_it_needs():
    """The check above can fail: the same listing sees the database modules once a command
    that uses the database has run (here refused before connecting)."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, "db", "current"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"JOINEDUP_DATABASE_URL": "mysql://nowhere/joinedup", "PATH": ""},
    )
    report = json.loads(result.stdout.splitlines()[-1])

    assert report["code"] == 1
    assert "must be a postgresql:// URL" in result.stderr
    assert {"sqlalchemy", "pydantic_settings"} <= top_level(set(report["modules"]))
