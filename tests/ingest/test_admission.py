"""Admission to the pool for submissions: arrival order, and a bounded wait that ends in a 503.

No test here measures time: waiters are lined up by letting the event loop run until the gate
counts them, and a wait that must end does so because nobody releases the slot."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from services.ingest.submissions.admission import Admission
from tests.support.clients import client_reading_catalogue
from tests.support.problems import assert_problem
from tests.support.submissions import json_submission, observation


async def lined_up(admission: Admission, waiting: int) -> None:
    """Let the loop run until ``waiting`` tasks wait at the gate (a bounded number of turns,
    so a gate that never queues fails the test rather than hanging it)."""
    for _ in range(100_000):
        if admission.waiting >= waiting:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{admission.waiting} waiting at the gate, not {waiting}")


async def test_waiters_are_admitted_in_the_order_they_came():
    admission = Admission(1)
    assert await admission.acquire(wait_s=0)
    admitted: list[str] = []

    async def wait(name: str) -> None:
        assert await admission.acquire(wait_s=60)
        admitted.append(name)

    tasks = []
    for count, name in enumerate("BCD", start=1):
        tasks.append(asyncio.create_task(wait(name)))
        await lined_up(admission, count)
    for _ in tasks:
        admission.release()
        # A released slot goes to the longest waiter, not to whoever asks next.
        assert not await admission.acquire(wait_s=0)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert admitted == ["B", "C", "D"]


async def test_a_waiter_that_gives_up_leaves_its_place_to_the_next():
    admission = Admission(1)
    assert await admission.acquire(wait_s=0)
    leaver = asyncio.create_task(admission.acquire(wait_s=60))
    await lined_up(admission, 1)
    stayer = asyncio.create_task(admission.acquire(wait_s=60))
    await lined_up(admission, 2)
    leaver.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaver
    admission.release()
    assert await stayer
    assert admission.waiting == 0
    admission.release()
    assert await admission.acquire(wait_s=0)  # the one slot is free again, not lost or doubled
    assert not await admission.acquire(wait_s=0)


async def test_a_wait_that_nobody_ends_gives_up_and_takes_no_slot():
    admission = Admission(1)
    assert await admission.acquire(wait_s=0)
    assert not await admission.acquire(wait_s=0.01)
    assert admission.waiting == 0
    admission.release()
    assert await admission.acquire(wait_s=0)


@pytest.fixture
async def gated(database_url: str, make_key) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """ingest with a gate of two slots and a short wait, and the app that holds the gate."""
    settings = IngestSettings(
        database_url=database_url,
        service_key=await make_key("service", name="ingest"),
        metrics_api_url="http://metrics_api",
        db_pool_size=2,
        admission_wait_s=0.05,
    )
    apps: list[FastAPI] = []

    def create(*args, **kwargs) -> FastAPI:
        apps.append(create_ingest(*args, **kwargs))
        return apps[-1]

    async for client in client_reading_catalogue(create, settings, database_url):
        yield client, apps[0]


async def test_a_submission_that_cannot_be_admitted_gets_a_503_with_retry_after(
    gated, submitter, query
):
    client, app = gated
    admission: Admission = app.state.admission
    assert [await admission.acquire(wait_s=0) for _ in range(2)] == [True, True]
    response = await client.post(
        "/v1/submissions",
        json=json_submission(observation()),
        headers={**submitter, "Idempotency-Key": "gate-1"},
    )
    body = assert_problem(response, 503)
    assert "retry" in body["detail"].lower()
    assert int(response.headers["retry-after"]) >= 1
    assert query("SELECT count(*) FROM submission") == [(0,)]
    assert admission.waiting == 0

    # Once a slot is free the same retry is stored, once.
    admission.release()
    retried = await client.post(
        "/v1/submissions",
        json=json_submission(observation()),
        headers={**submitter, "Idempotency-Key": "gate-1"},
    )
    assert retried.status_code == 201, retried.text
    assert query("SELECT count(*) FROM observation") == [(1,)]


async def test_a_queued_submission_goes_ahead_when_a_slot_is_released(gated, submitter):
    client, app = gated
    # Long enough that only the release below can end the wait.
    app.state.settings = app.state.settings.model_copy(update={"admission_wait_s": 600})
    admission: Admission = app.state.admission
    assert [await admission.acquire(wait_s=0) for _ in range(2)] == [True, True]
    queued = asyncio.create_task(
        client.post("/v1/submissions", json=json_submission(observation()), headers=submitter)
    )
    await lined_up(admission, 1)
    admission.release()
    response = await queued
    assert response.status_code == 201, response.text
    # The request gave its slot back: with the one still held, one is free.
    assert await admission.acquire(wait_s=0)
    assert not await admission.acquire(wait_s=0)
