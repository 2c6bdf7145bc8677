"""A key's life at each request (services/common/auth.py): refused once it has expired, saying
so, and its last use recorded at most once a minute, so a busy key does not write on every
request. Times are moved by setting the stored ones by hand, never by waiting."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.metrics_api.main import MetricsApiSettings, create_app
from tests.support.clients import asgi_client, bearer
from tests.support.problems import assert_problem


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(MetricsApiSettings(database_url=database_url), database_url=database_url)
    async for c in asgi_client(app):
        yield c


def stored(query, name: str) -> tuple:
    """The key's id, last use and row version (xmin: it changes whenever the row is written)."""
    [row] = query("SELECT id, last_used_at, xmin::text FROM api_key WHERE name = %s", name)
    return row


async def test_a_key_works_until_it_expires_then_gets_401_saying_so(client, make_key, query):
    key = await make_key("viewer", name="contractor")
    query("UPDATE api_key SET expires_at = now() + interval '1 hour' WHERE name = 'contractor'")
    assert (await client.get("/v1/areas", headers=bearer(key))).status_code == 200

    query("UPDATE api_key SET expires_at = now() - interval '1 second' WHERE name = 'contractor'")
    response = await client.get("/v1/areas", headers=bearer(key))

    body = assert_problem(response, 401)
    key_id = stored(query, "contractor")[0]
    assert f"The API key {key_id} (contractor) expired at" in body["detail"]
    assert f"joinedup keys rotate {key_id}" in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_only_the_holder_of_the_secret_learns_that_a_key_expired(client, make_key, query):
    key = await make_key("viewer", name="contractor")
    query("UPDATE api_key SET expires_at = now() - interval '1 second'")
    forged = key[: key.rindex("_") + 1] + "x" * 43

    body = assert_problem(await client.get("/v1/areas", headers=bearer(forged)), 401)

    assert body["detail"] == "The API key is not valid or has been revoked."


async def test_a_revoked_key_that_has_also_expired_says_revoked(client, make_key, query):
    key = await make_key("viewer", name="leaver")
    query("UPDATE api_key SET expires_at = now() - interval '1 day', revoked_at = now()")

    body = assert_problem(await client.get("/v1/areas", headers=bearer(key)), 401)

    assert "revoked" in body["detail"] and "expired" not in body["detail"]


async def test_last_use_is_written_once_a_minute_not_on_every_request(client, make_key, query):
    key = await make_key("viewer", name="dashboard")
    assert stored(query, "dashboard")[1] is None

    assert (await client.get("/v1/areas", headers=bearer(key))).status_code == 200
    _, first_use, version = stored(query, "dashboard")
    assert first_use is not None
    for _ in range(3):
        assert (await client.get("/v1/areas", headers=bearer(key))).status_code == 200
    assert stored(query, "dashboard")[1:] == (first_use, version), "a fresh last use was written"

    query(
        "UPDATE api_key SET last_used_at = now() - interval '61 seconds' WHERE name = 'dashboard'"
    )
    [(set_by_hand,)] = query("SELECT last_used_at FROM api_key WHERE name = 'dashboard'")
    assert (await client.get("/v1/areas", headers=bearer(key))).status_code == 200

    assert stored(query, "dashboard")[1] > set_by_hand


async def test_a_last_use_under_a_minute_old_is_kept(client, make_key, query):
    key = await make_key("viewer", name="dashboard")
    query("UPDATE api_key SET last_used_at = now() - interval '59 seconds'")
    [(set_by_hand,)] = query("SELECT last_used_at FROM api_key")

    assert (await client.get("/v1/areas", headers=bearer(key))).status_code == 200

    assert query("SELECT last_used_at FROM api_key") == [(set_by_hand,)]


async def test_one_keys_use_leaves_the_others_alone(client, make_key, query):
    used = await make_key("viewer", name="used")
    await make_key("viewer", name="idle")

    assert (await client.get("/v1/areas", headers=bearer(used))).status_code == 200

    assert stored(query, "used")[1] is not None and stored(query, "idle")[1] is None
