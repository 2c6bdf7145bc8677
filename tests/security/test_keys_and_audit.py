"""A revoked key stops working at once on every service (keys are looked up on every request,
never cached), and the audit log refuses UPDATE, DELETE and TRUNCATE from the role the
services connect as."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.common.auth import revoke_key
from services.metrics_api.main import create_app as create_metrics_api
from tests.metrics_api.support import key_id
from tests.support.areas import LEEDS
from tests.support.clients import bearer
from tests.support.database import run_in_transaction
from tests.support.problems import assert_problem
from tests.support.services import API_SERVICES

READ = {
    "metrics_api": f"/v1/areas/{LEEDS}",
    "targets_api": f"/v1/places/{LEEDS}",
    "ingest": "/v1/submissions",
}


@pytest.mark.parametrize("service", API_SERVICES)
async def test_a_revoked_key_stops_working_at_once(
    open_service, make_key, query, database_url, service
):
    key = await make_key("admin")
    async with open_service(service) as client:
        assert (await client.get(READ[service], headers=bearer(key))).status_code == 200
        await run_in_transaction(
            database_url, lambda session: revoke_key(session, key_id=key_id(query, key))
        )
        response = await client.get(READ[service], headers=bearer(key))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


AUDIT_TAMPERING = {
    "update": "UPDATE audit_log SET actor = 'someone else'",
    "delete": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
}


@pytest.mark.parametrize("statement", AUDIT_TAMPERING)
async def test_the_audit_log_cannot_be_changed_by_the_services_role(database_url, query, statement):
    before = query("SELECT * FROM audit_log ORDER BY id")
    assert before, "the seed leaves entries, so row triggers have rows to refuse"
    app = create_metrics_api(database_url=database_url)  # the services' own engine and role
    try:
        async with app.state.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only") as refused:
                await conn.execute(text(AUDIT_TAMPERING[statement]))
            await conn.rollback()
    finally:
        await app.state.engine.dispose()
    assert refused.value.orig.sqlstate == "42501"  # insufficient_privilege
    assert query("SELECT * FROM audit_log ORDER BY id") == before
