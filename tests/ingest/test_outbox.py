"""Two outbox deliverers at once (two worker processes, or one rolling out beside another):
they share the notices and no notice is sent twice. Each is a real OutboxDeliverer on the test
database posting to the real targets_api app in-process."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker
from services.common.http import Backoff
from services.ingest.outbox import OutboxDeliverer
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.areas import LEEDS
from tests.support.clients import bearer, client_reading_catalogue
from tests.support.prometheus import counted
from tests.support.submissions import DISCHARGE, FALLS, json_submission, observation

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


async def queued(query) -> list[tuple]:
    return query(
        "SELECT place_code, metric_code, period_from, period_to, submission_id::text "
        "FROM progress_refresh_queue ORDER BY id"
    )


async def test_a_submission_announces_one_range_per_place_and_metric_and_targets_api_queues_it(
    client, submitter, targets_api, database_url, query
):
    """ingest's notice, delivered by a real deliverer to the real receiver."""
    body = json_submission(
        observation(period="2025-09"),
        observation(period="2025-07"),
        observation(FALLS, "2025-Q2", numerator=30, denominator=60000),
        observation(FALLS, "2024-Q4", numerator=31, denominator=60000),
    )
    response = await client.post("/v1/submissions", json=body, headers=submitter)
    assert response.status_code == 201, response.text
    submission_id = response.json()["id"]
    [(payload,)] = query("SELECT payload FROM outbox")
    assert sorted(payload["changes"], key=lambda c: c["metric_code"]) == [
        {"place_code": LEEDS, "metric_code": DISCHARGE, "from": "2025-07", "to": "2025-09"},
        {"place_code": LEEDS, "metric_code": FALLS, "from": "2024-Q4", "to": "2025-Q2"},
    ]

    engine = create_engine(database_url, CommonSettings(database_url=database_url))
    try:
        assert await OutboxDeliverer(make_sessionmaker(engine), targets_api).deliver_once() == 1
    finally:
        await engine.dispose()
    assert sorted(await queued(query)) == [
        (LEEDS, DISCHARGE, "2025-07", "2025-09", submission_id),
        (LEEDS, FALLS, "2024-Q4", "2025-Q2", submission_id),
    ]


async def test_a_notice_of_every_period_from_an_older_ingest_is_queued_as_its_range(
    targets_api, query
):
    """Notices written before ranges may still wait in the outbox during an upgrade; a notice
    delivered twice queues the same range twice, which the refresher merges."""
    notice = {
        "submission_id": "00000000-0000-0000-0000-000000000001",
        "changes": [
            {"place_code": LEEDS, "metric_code": DISCHARGE, "periods": ["2025-08", "2024-12"]},
            {"place_code": LEEDS, "metric_code": FALLS, "periods": ["2025-Q1"]},
        ],
    }
    for _ in range(2):
        response = await targets_api.post(ROUTE, json=notice)
        assert response.status_code == 202, response.text
        assert response.json() == {"recorded": 2}
    submission = notice["submission_id"]
    assert (
        await queued(query)
        == [
            (LEEDS, DISCHARGE, "2024-12", "2025-08", submission),
            (LEEDS, FALLS, "2025-Q1", "2025-Q1", submission),
        ]
        * 2
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"from": "2025-08"}, "give from and to"),
        ({"from": "2025-08", "to": "2025-07"}, "comes before"),
        ({"from": "2025-08", "to": "2025-Q3"}, "one periodicity"),
        ({"periods": ["2025", "2025-07"]}, "one periodicity"),
        ({"periods": ["2025-13"]}, "2025-13"),
        ({"periods": ["2025-07"], "from": "2025-07", "to": "2025-07"}, "not both"),
        ({"periods": []}, "at least 1"),
    ],
)
async def test_a_notice_without_one_range_is_refused_saying_why(targets_api, query, change, says):
    notice = {
        "submission_id": "00000000-0000-0000-0000-000000000001",
        "changes": [{"place_code": LEEDS, "metric_code": DISCHARGE, **change}],
    }
    response = await targets_api.post(ROUTE, json=notice)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.text
    assert await queued(query) == []


class RecordedBackoff:
    """The deliverer's own backoff, each pause it gives recorded: the test reads the pause the
    deliverer chose instead of timing it."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.pauses: list[tuple[int, float]] = []

    def pause(self, retry: int, retry_after: float | None = None) -> float:
        pause = self.backoff.pause(retry, retry_after)
        self.pauses.append((retry, pause))
        return pause


async def test_a_refused_notice_waits_as_the_common_backoff_says(targets_api, database_url, query):
    query(
        "INSERT INTO outbox (topic, payload) VALUES ('observations.changed', %s)",
        json.dumps({"submission_id": "00000000-0000-0000-0000-000000000001", "changes": []}),
    )
    engine = create_engine(database_url, CommonSettings(database_url=database_url))
    try:
        deliverer = OutboxDeliverer(make_sessionmaker(engine), targets_api, max_backoff_s=60)
        recorded = RecordedBackoff(deliverer.backoff)
        deliverer.backoff = recorded  # type: ignore[assignment]
        for attempt in range(3):
            [(before,)] = query("SELECT clock_timestamp()")
            assert await deliverer.deliver_once() == 0
            [(after,)] = query("SELECT clock_timestamp()")
            [(attempts, next_attempt_at, error)] = query(
                "SELECT attempts, next_attempt_at, last_error FROM outbox"
            )
            # Backoff(base_s=0.5): the n-th retry waits between half of 0.5 x 2^n s and all of
            # it, asked with the number of attempts made before this one.
            [*_, (retry, pause)] = recorded.pauses
            ceiling = 0.5 * 2**attempt
            assert (attempts, retry, len(recorded.pauses)) == (attempt + 1, attempt, attempt + 1)
            assert ceiling / 2 <= pause <= ceiling, (attempt, pause)
            # ...counted from the delivering transaction's now(), which is between the two
            # readings of the server's clock however long the attempt took under load.
            assert before <= next_attempt_at - timedelta(seconds=pause) <= after
            assert error.startswith("targets_api answered 422")
            query("UPDATE outbox SET next_attempt_at = now()")
    finally:
        await engine.dispose()
