"""ingest in-process, reading its catalogue from the real metrics_api app (see
client_reading_catalogue in tests/conftest.py)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from tests.conftest import bearer, client_reading_catalogue

LEEDS = "E08000035"  # a place in West Yorkshire ICB (E54000054)
BRADFORD = "E08000032"  # another place in West Yorkshire ICB
CORNWALL = "E06000052"  # a place in another ICB and region
DISCHARGE = "bcf-discharge-usual-residence"  # proportion x100, monthly
FALLS = "bcf-falls-65plus"  # rate x100000, quarterly
CSV_HEADER = "place_code,metric_code,period,value,numerator,denominator,note\n"


@pytest.fixture
async def client(database_url: str, make_key) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(
        database_url=database_url,
        service_key=await make_key("service", name="ingest"),
        metrics_api_url="http://metrics_api",
    )
    async for c in client_reading_catalogue(create_ingest, settings, database_url):
        yield c


@pytest.fixture
async def submitter(make_key) -> dict[str, str]:
    """A submitter for West Yorkshire ICB: Leeds and Bradford are in scope, Cornwall is not."""
    return bearer(await make_key("submitter", "E54000054"))


def observation(metric: str = DISCHARGE, period: str = "2025-07", **fields) -> dict:
    if metric == DISCHARGE and not fields:
        fields = {"numerator": 912, "denominator": 1003}
    return {"metric_code": metric, "period": period, **fields}


def json_submission(*observations: dict, place: str = LEEDS, mode: str = "atomic") -> dict:
    return {"place_code": place, "mode": mode, "observations": list(observations)}


def csv_body(*rows: str) -> str:
    return CSV_HEADER + "".join(row + "\n" for row in rows)
