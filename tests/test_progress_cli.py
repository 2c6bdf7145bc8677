"""`joinedup progress refresh` against real metrics_api and targets_api processes."""

import pytest
from typer.testing import CliRunner, Result

from services.cli import app
from tests.support.services import ServiceProcess, free_port
from tests.targets_api.progress_support import store_observations

pytestmark = pytest.mark.e2e

LEEDS, DISCHARGE = "E08000035", "bcf-discharge-usual-residence"


def refresh(key: str | None, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["progress", "refresh", *args], env={"JOINEDUP_API_KEY": key, "COLUMNS": "400"}
    )


@pytest.fixture
async def targets_api(database_url, make_key):
    service_key = await make_key("service", name="targets_api")
    with (
        ServiceProcess.for_service("metrics_api", database_url) as metrics_api,
        ServiceProcess.for_service(
            "targets_api",
            database_url,
            env={
                "JOINEDUP_SERVICE_KEY": service_key,
                "JOINEDUP_METRICS_API_URL": metrics_api.url,
            },
        ) as targets_api,
    ):
        yield targets_api


async def test_refresh_recomputes_everything_and_is_audited(targets_api, make_key, query):
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-07", 90.0, 900, 1000),
            (LEEDS, DISCHARGE, "2025-08", 91.0, 910, 1000),
        ],
    )

    result = refresh(await make_key("admin"), "--url", targets_api.url)

    assert result.exit_code == 0, result.output
    # Two periods, each with the place, its ICB, its region and England.
    assert result.output.startswith("refreshed 2 metric periods: 8 area values, 0 targets")
    assert query("SELECT count(*) FROM area_value") == [(8,)]
    assert query("SELECT action FROM audit_log WHERE entity_type = 'progress'") == [
        ("progress.refresh",)
    ]


async def test_refusals_and_an_absent_service_are_told_apart(targets_api, make_key):
    viewer = await make_key("viewer")

    assert refresh(None, "--url", targets_api.url).exit_code == 2
    refused = refresh(viewer, "--url", targets_api.url)
    assert refused.exit_code == 1 and "403" in refused.output
    absent = refresh(viewer, "--url", f"http://127.0.0.1:{free_port()}")
    assert absent.exit_code == 3 and "not reachable" in absent.output
    assert viewer not in refused.output + absent.output
