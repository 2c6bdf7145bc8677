"""The progress refresh and the plan workflow never wait for each other (docs/architecture.md,
"Lock order"), so they cannot deadlock.

Each side's locks are held open in a transaction of its own while the other side runs through
the API; the test watches PostgreSQL for a backend waiting on a lock, so a wrong order fails at
once instead of hanging, and nothing depends on timing.
"""

import asyncio
from collections.abc import Awaitable

import httpx
import psycopg

from services.common.config import CommonSettings
from services.common.db import create_engine, libpq_url, make_sessionmaker
from services.targets_api.plans import workflow
from services.targets_api.progress.store import DRAIN_QUEUE, LOCK
from tests.support.areas import BRADFORD, LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.targets_api.plan_support import DISCHARGE, Plans
from tests.targets_api.progress_support import refresh, store_observations

_WAITING = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'
"""


async def without_waiting(work: Awaitable[httpx.Response], query) -> httpx.Response:
    """The response to ``work``; fails as soon as any backend of the database waits on a lock."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if query(_WAITING)[0][0]:
            task.cancel()
            raise AssertionError("a backend waits for a lock the other side holds")
        await asyncio.sleep(0.01)
    return task.result()


async def test_a_plan_is_agreed_while_a_refresh_holds_the_queue(
    client, plans, service_key, query, database_url
):
    plan = await plans.in_state("proposed")
    assert (await plans.decide(plan["id"], LEEDS)).status_code == 201
    # A notice for a metric of the plan: the agreement appends rows for the same (place, metric).
    noticed = await client.post(
        "/internal/v1/observation-changes",
        headers=bearer(service_key),
        json={
            "submission_id": "00000000-0000-0000-0000-0000000000bb",
            "changes": [{"place_code": LEEDS, "metric_code": DISCHARGE, "periods": ["2025-09"]}],
        },
    )
    assert noticed.status_code == 202, noticed.text

    with psycopg.connect(libpq_url(database_url)) as refresher:
        # A refresh under way: it has taken its lock and drained (so locked) the queued rows.
        refresher.execute(str(LOCK))
        assert refresher.execute(str(DRAIN_QUEUE)).fetchall()

        agreed = await without_waiting(plans.decide(plan["id"], WEST_YORKSHIRE), query)

        assert agreed.status_code == 201, agreed.text
        assert agreed.json()["status"] == "agreed"
        refresher.rollback()
    # The refresh gave up its drain, so its rows and the agreement's are all still queued.
    assert {
        row[0]
        for row in query(
            "SELECT metric_code FROM progress_refresh_queue WHERE place_code = %s", LEEDS
        )
    } >= {DISCHARGE}


async def test_a_refresh_writes_progress_while_the_workflow_holds_the_plan(
    client, plans, admin, query, database_url
):
    plan = await plans.in_state("agreed")
    store_observations(query, [(LEEDS, DISCHARGE, "2025-09", 90.0, 900, 1000)])
    engine = create_engine(database_url, CommonSettings(database_url=database_url, db_pool_size=1))
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            # What every plan change does first (a revision, an approval, a supersession).
            await workflow.lock(session, plan["id"])

            refreshed = await without_waiting(
                client.post("/v1/progress/refresh", headers=admin), query
            )

            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["targets"] == 5
    finally:
        await engine.dispose()


async def test_approvals_and_refreshes_together_never_deadlock(
    client, steward, make_key, admin, query
):
    signatories = {
        code: bearer(await make_key("signatory", code))
        for code in (LEEDS, BRADFORD, WEST_YORKSHIRE)
    }
    proposed = []
    for place in (LEEDS, BRADFORD):
        plans = Plans(client, steward, signatories[place], signatories[WEST_YORKSHIRE])
        plan = await plans.draft(place)
        await plans.propose(plan["id"])
        proposed.append((plans, plan["id"], place))
    store_observations(
        query, [(place, DISCHARGE, "2025-09", 90.0, 900, 1000) for place in (LEEDS, BRADFORD)]
    )
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = query(deadlocks)

    async def agree(plans: Plans, plan_id: int, place: str) -> None:
        for organisation in (place, WEST_YORKSHIRE):
            response = await plans.decide(plan_id, organisation, headers=signatories[organisation])
            assert response.status_code == 201, response.text

    async def refreshes() -> None:
        for _ in range(5):
            await refresh(client, admin)

    await asyncio.gather(refreshes(), *(agree(*p) for p in proposed), refreshes())

    assert query(deadlocks) == before
    await refresh(client, admin)
    assert query(
        "SELECT place_code, count(*) FROM target_progress GROUP BY place_code ORDER BY place_code"
    ) == [(BRADFORD, 5), (LEEDS, 5)]
