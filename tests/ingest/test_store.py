"""The plan of the statement that checks and writes: it must stay a join at bulk scale."""

import uuid

from sqlalchemy import text

from services.ingest.submissions import store
from tests.support.database import run_in_transaction


async def test_the_write_joins_to_current_versions_instead_of_probing_per_row(database_url):
    """With a large observation table and a large staged batch of corrections, the INSERT's
    test for "has no current version" must not become a subplan run once per staged row (the
    shape that made a re-submitted million-row file take minutes)."""

    async def explain(session):
        rows = """
            SELECT n, 'E38' || lpad(CAST(n % 150 AS text), 6, '0') AS place_code,
                   'm' || n / 150 AS metric_code, '2025-01' AS period, n AS value
            FROM generate_series(1, 20000) AS n"""
        await session.execute(
            text(f"""
            INSERT INTO observation (place_code, metric_code, period, version, value,
                                     metric_version, submission_id)
            SELECT place_code, metric_code, period, 1, value, 1, gen_random_uuid()
            FROM ({rows}) AS r""")
        )
        await session.execute(text("ANALYZE observation"))
        await session.execute(store._CREATE_STAGED)
        await session.execute(
            text(f"""
            INSERT INTO staged (row_no, place_code, metric_code, period, value)
            SELECT n, place_code, metric_code, period, CAST(value + 1 AS text) FROM ({rows}) AS r
            """)
        )
        metrics = [
            {"code": f"m{n}", "version": 1, "status": "active", "scope": "national",
             "kind": "count", "multiplier": 1, "periodicity": "monthly", "decimals": 0}
            for n in range(135)
        ]  # fmt: skip
        places = [{"code": f"E38{n:06d}", "icb_code": "E54000054"} for n in range(150)]
        parameters = store.take_parameters(
            metrics=metrics,
            places=places,
            framing_rejected=0,
            partial=False,
            max_errors=100,
            submission_id=uuid.uuid4(),
        )
        plan = await session.execute(text("EXPLAIN " + store._TAKE_STAGED.text), parameters)
        return "\n".join(plan.scalars().all())

    plan = await run_in_transaction(database_url, explain)
    assert "Insert on observation" in plan, plan
    assert "SubPlan" not in plan, plan
