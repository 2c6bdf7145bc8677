"""No key and no database password ever reaches the logs, even at DEBUG (where SQLAlchemy and
psycopg log too): not for a good key, a wrong secret, a key put in the query string, nor in
what `joinedup keys create` prints before the key's own last line."""

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.support.areas import LEEDS
from tests.support.clients import bearer
from tests.support.services import API_SERVICES

CANARY_PASSWORD = "canary-db-password-7f3a"
READ = {
    "metrics_api": f"/v1/areas/{LEEDS}",
    "targets_api": f"/v1/places/{LEEDS}",
    "ingest": "/v1/submissions",
}
WRITE = {"metrics_api": "/v1/metrics", "targets_api": "/v1/spc", "ingest": "/v1/submissions"}
JOINEDUP = [sys.executable, "-c", "from services.cli import app; app(prog_name='joinedup')"]


def with_password(database_url: str) -> tuple[str, str]:
    """The URL with a password in it, and the password. The embedded test server trusts local
    connections, so a made-up one connects; a configured server's URL keeps its own."""
    url = make_url(database_url)
    if url.password:
        return database_url, str(url.password)
    return url.set(password=CANARY_PASSWORD).render_as_string(hide_password=False), CANARY_PASSWORD


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # httpx logs each URL it requests; the test's own client (to testserver) is not the
        # service, but the services' calls to their peers are kept.
        if record.name == "httpx" and "http://testserver/" in record.getMessage():
            return
        self.lines.append(self.format(record))  # the message, and any traceback


@pytest.fixture
def logged() -> Iterator[Records]:
    """Every log record from here on, whatever handlers the app factory installs."""
    records = Records()
    yield records
    logging.getLogger().removeHandler(records)


def secret_of(key: str) -> str:
    return key.split("_", 2)[2]


@pytest.mark.parametrize("service", API_SERVICES)
async def test_no_key_or_password_is_logged(open_service, make_key, database_url, logged, service):
    url, password = with_password(database_url)
    key = await make_key("admin")
    wrong_secret = key.rsplit("_", 1)[0] + "_wrong-secret-b81d"
    async with open_service(service, url=url, log_level="DEBUG") as client:
        logging.getLogger().addHandler(logged)
        statuses = [
            (await client.get(READ[service], headers=bearer(key))).status_code,
            (
                await client.post(WRITE[service], json={"not": "valid"}, headers=bearer(key))
            ).status_code,
            (await client.get(READ[service], headers=bearer(wrong_secret))).status_code,
            (await client.get(READ[service], headers={"Authorization": key})).status_code,
            (
                await client.get(
                    READ[service], params={"api_key": key, "access_token": key, "key": key}
                )
            ).status_code,
        ]
    assert statuses == [200, 422, 401, 401, 401]
    text = "\n".join(logged.lines)
    assert logged.lines, "nothing was logged, so nothing was tested"
    for secret in (secret_of(key), secret_of(wrong_secret), password):
        assert secret not in text


def test_keys_create_prints_the_key_only_on_its_last_line(database_url):
    url, password = with_password(database_url)
    env = {**os.environ, "JOINEDUP_DATABASE_URL": url, "JOINEDUP_LOG_LEVEL": "DEBUG"}
    result = subprocess.run(
        [*JOINEDUP, "keys", "create", "--role", "viewer", "--name", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    *before, key = result.stdout.splitlines()
    everything_else = "\n".join([*before, result.stderr])
    assert key.startswith("jdu_")
    assert secret_of(key) not in everything_else
    assert password not in result.stdout + result.stderr
