"""Two outbox deliverers at once (two worker processes, or one rolling out beside another):
they share the notices and no notice is sent twice. Each is a real OutboxDeliverer on the test
database posting to the real targets_api app in-process."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker
from services.ingest.outbox import OutboxDeliverer
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.areas import LEEDS
from tests.support.clients import bearer, client_reading_catalogue
from tests.support.prometheus import counted
from tests.support.submissions import DISCHARGE

NOTICES = 30
BATCH = 4  # small, so that each deliverer claims several batches while the other holds one
ROUTE = "/internal/v1/observation-changes"


@pytest.fixture
async def targets_api(database_url, make_key) -> AsyncIterator[httpx.AsyncClient]:
    settings = TargetsApiSettings(database_url=database_url, metrics_api_url="http://metrics_api")
    async for client in client_reading_catalogue(create_targets_api, settings, database_url):
        client.headers.update(bearer(await make_key("service", name="worker")))
        yield client


async def notices_received(targets_api: httpx.AsyncClient) -> float:
    """The notices targets_api has accepted in this test process (its tests share the count)."""
    return counted(
        (await targets_api.get("/metrics")).text,
        "joinedup_http_requests_total",
        service="targets_api",
        method="POST",
        route=ROUTE,
        status="202",
    )
    return 0.0


async def test_two_deliverers_share_the_outbox_and_send_each_notice_once(
    targets_api, database_url, query
):
    for n in range(NOTICES):
        notice = {
            "submission_id": f"00000000-0000-0000-0000-{n:012d}",
            "changes": [{"place_code": LEEDS, "metric_code": DISCHARGE, "periods": ["2025-07"]}],
        }
        query(
            "INSERT INTO outbox (topic, payload) VALUES ('observations.changed', %s)",
            json.dumps(notice),
        )
    before = await notices_received(targets_api)
    engine = create_engine(database_url, CommonSettings(database_url=database_url))
    deliverers = [
        OutboxDeliverer(make_sessionmaker(engine), targets_api, batch=BATCH) for _ in range(2)
    ]
    delivered = [0, 0]
    try:
        for _ in range(NOTICES):  # at least one notice a round, so never more rounds
            rounds = await asyncio.gather(*(d.deliver_once() for d in deliverers))
            delivered = [total + now for total, now in zip(delivered, rounds, strict=True)]
            if not any(rounds):
                break
    finally:
        await engine.dispose()

    assert query("SELECT attempts, delivered_at IS NOT NULL FROM outbox") == [(1, True)] * NOTICES
    assert sum(delivered) == NOTICES and min(delivered) > 0, delivered
    assert await notices_received(targets_api) - before == NOTICES
