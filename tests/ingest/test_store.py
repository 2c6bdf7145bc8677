"""The plan of the versioning write: it must stay a join at bulk scale."""

import uuid

from sqlalchemy import text

from services.ingest.submissions import store
from tests.conftest import run_in_transaction


async def test_the_write_joins_to_current_versions_instead_of_probing_per_row(database_url):
    """With a large observation table and a large analysed batch, the INSERT's test for "has no
    current version" must not become a subplan run once per staged row (the shape that made a
    re-submitted million-row file take minutes)."""

    async def explain(session):
        rows = """
            SELECT 'E38' || lpad(CAST(n % 150 AS text), 6, '0') AS place_code,
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
        await session.execute(store._CREATE_CHECKED)
        await session.execute(
            text(f"""
            INSERT INTO checked (row_no, place_code, metric_code, period, metric_version, value,
                                 errors)
            SELECT row_number() OVER (), place_code, metric_code, period, 1, value + 1,
                   CAST(ARRAY[] AS text[])
            FROM ({rows}) AS r""")
        )
        await session.execute(text("ANALYZE checked"))
        plan = (
            (
                await session.execute(
                    text("EXPLAIN " + store._WRITE.text), {"submission_id": uuid.uuid4()}
                )
            )
            .scalars()
            .all()
        )
        return "\n".join(plan)

    plan = await run_in_transaction(database_url, explain)
    assert "SubPlan" not in plan, plan
