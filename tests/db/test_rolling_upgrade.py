"""A rolling upgrade: the schema migrated past this build's head under a running service of
this build (a real process, as its own database role); it stays ready and correct while the
later revision declares itself compatible, and stops being ready when one does not."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command

import migrations
from services.common import schema_version
from tests.metrics_api.support import new_area
from tests.support.clients import bearer
from tests.support.services import ServiceProcess

LATER = Path(__file__).parent / "later_versions"


def upgrade_beyond_head(database_url: str, revision: str) -> None:
    """Migrate to ``revision``, one of the test's own migrations after this build's head."""
    config = schema_version.alembic_config(database_url)
    versions = Path(migrations.__file__).parent / "versions"
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join((str(versions), str(LATER))))
    command.upgrade(config, revision)


@pytest.fixture
def metrics_api(database_url: str) -> Iterator[ServiceProcess]:
    with ServiceProcess.for_service("metrics_api", database_url) as service:
        yield service


async def test_a_compatible_later_revision_keeps_the_service_ready_and_correct(
    metrics_api: ServiceProcess, database_url: str, make_key, query
) -> None:
    headers = bearer(await make_key("admin"))
    async with httpx.AsyncClient(base_url=metrics_api.url, timeout=30) as client:
        assert (await client.get("/readyz")).status_code == 200

        upgrade_beyond_head(database_url, "29991231_test_expand")
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["schema_revision"] == "29991231_test_expand"
        assert ready.json()["expected_revision"] == schema_version.head_revision()

        created = await client.post(
            "/v1/areas", json=new_area("E06000998", name="Upgraded"), headers=headers
        )
        assert created.status_code == 201, created.text
        read = await client.get("/v1/areas/E06000998", headers=headers)
        assert read.status_code == 200 and read.json()["name"] == "Upgraded"
        assert query("SELECT name, nickname FROM area WHERE code = 'E06000998'") == [
            ("Upgraded", None)
        ]

        upgrade_beyond_head(database_url, "29991231_test_contract")
        refused = await client.get("/readyz")
        assert refused.status_code == 503
        assert refused.json()["schema_revision"] == "29991231_test_contract"
