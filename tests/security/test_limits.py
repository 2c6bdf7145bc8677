"""Oversize bodies get 413 on every service, announced or streamed; and the per-key rate limit
(off unless configured) answers 429 with Retry-After, counting only requests with a valid key."""

import pytest

from services.common.config import CommonSettings
from services.common.ratelimit import KeyRateLimiter
from tests.support.areas import LEEDS
from tests.support.clients import bearer
from tests.support.clock import ManualClock
from tests.support.problems import assert_problem
from tests.support.services import API_SERVICES

LIMIT = 1000
WRITE = {"metrics_api": "/v1/metrics", "targets_api": "/v1/spc", "ingest": "/v1/submissions"}
READ = {
    "metrics_api": f"/v1/areas/{LEEDS}",
    "targets_api": f"/v1/places/{LEEDS}",
    "ingest": "/v1/submissions",
}


def oversize() -> bytes:
    return b'{"values": [' + b"1, " * LIMIT + b'1], "improvement_direction": "increase"}'


async def chunks():
    for _ in range(4):
        yield b" " * (LIMIT // 2)


@pytest.mark.parametrize("service", API_SERVICES)
async def test_an_oversize_body_is_a_413(open_service, make_key, service):
    headers = bearer(await make_key("admin")) | {"Content-Type": "application/json"}
    async with open_service(service, max_body_bytes=LIMIT) as client:
        announced = await client.post(WRITE[service], content=oversize(), headers=headers)
        streamed = await client.post(WRITE[service], content=chunks(), headers=headers)
    for response in (announced, streamed):
        assert_problem(response, 413)


def test_rate_limiting_is_off_by_default():
    assert CommonSettings().rate_limit_per_minute == 0


@pytest.mark.parametrize("service", API_SERVICES)
async def test_a_key_over_its_rate_is_a_429_with_retry_after(open_service, make_key, service):
    key, other = bearer(await make_key("admin")), bearer(await make_key("assessor"))
    async with open_service(service, rate_limit_per_minute=6, rate_limit_burst=2) as client:
        # Requests without a valid key are refused before they could spend anyone's allowance.
        for _ in range(3):
            assert (await client.get(READ[service])).status_code == 401
        allowed = [(await client.get(READ[service], headers=key)).status_code for _ in range(2)]
        limited = await client.get(READ[service], headers=key)
        another_key = await client.get(READ[service], headers=other)
    assert allowed == [200, 200]
    assert_problem(limited, 429)
    # At 6 a minute a token comes every 10 s, less whatever has passed since the burst.
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    assert another_key.status_code == 200


async def test_the_services_own_key_is_not_limited(open_service, make_key):
    service_key = bearer(await make_key("service"))
    async with open_service("metrics_api", rate_limit_per_minute=1) as client:
        statuses = {
            (await client.get(f"/v1/areas/{LEEDS}", headers=service_key)).status_code
            for _ in range(5)
        }
    assert statuses == {200}


async def test_without_a_limit_a_key_is_never_limited(open_service, make_key):
    key = bearer(await make_key("viewer"))
    async with open_service("metrics_api") as client:
        statuses = {
            (await client.get(f"/v1/areas/{LEEDS}", headers=key)).status_code for _ in range(30)
        }
    assert statuses == {200}


def test_the_bucket_refills_at_the_rate_up_to_the_burst():
    clock = ManualClock()
    limiter = KeyRateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire(1) for _ in range(4)] == [None, None, None, 1]
    clock.advance(1.0)
    assert limiter.acquire(1) is None
    assert limiter.acquire(1) == 1
    clock.advance(3600)  # idle a long time: back to the burst, never more
    assert [limiter.acquire(1) for _ in range(4)] == [None, None, None, 1]
    assert limiter.acquire(2) is None  # every key has its own bucket
