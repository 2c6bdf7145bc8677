"""Webhooks: an area's subscriptions (validation, who may manage them, the secret shown once,
the audit), ``publish`` in the caller's transaction, and the worker's signed delivery to a
real HTTP receiver on a local port: refused and retried with backoff, accepted once, a receiver
that is down delays but loses nothing, a delivery given up is counted. The deliverer's clock is
moved by hand, so no test waits for a retry to come due. The receiver is on loopback, which the
egress guard allows only because these tests allow 127.0.0.0/8 (``LOCAL``), as an operator
would allow a private network; the guard's refusals are tested without it."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker
from services.common.egress import parse_networks
from services.common.http import Backoff
from services.common.roles import as_role
from services.common.vocabulary import WebhookEvent, WorkerJob
from services.targets_api.webhooks.delivery import WebhookDeliverer, receivers_client
from services.targets_api.webhooks.service import publish
from services.targets_api.webhooks.signing import REPLAY_WINDOW_S, signature, verify
from services.worker.main import WorkerSettings
from services.worker.main import create_app as create_worker
from tests.support.areas import CORNWALL, LEEDS, WEST_YORKSHIRE
from tests.support.clients import asgi_client, bearer
from tests.support.problems import assert_problem
from tests.support.waiting import eventually_async

OPENED = WebhookEvent.escalation_opened
RESOLVED = WebhookEvent.escalation_resolved
SECRET = "a-receivers-shared-secret-0123456789"
NOW = 1_800_000_000  # the receiver's "now" for the signature check: what the deliverer signs
LOCAL = "127.0.0.0/8"  # JOINEDUP_WEBHOOK_ALLOWED_NETWORKS here: the local receiver's network


@pytest.fixture(autouse=True)
def local_receivers_allowed(monkeypatch):
    """targets_api (``client``) and the worker read it from the environment when made."""
    monkeypatch.setenv("JOINEDUP_WEBHOOK_ALLOWED_NETWORKS", LOCAL)


# --- a real receiver ---------------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP server on a free local port, answering each POST with the next status of
    ``script`` (200 once the script is used up) and keeping what it was sent."""

    server: ThreadingHTTPServer
    script: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    serving: bool = False

    def listen(self) -> None:
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.serving = True

    def close(self) -> None:
        # shutdown() waits for serve_forever to stop: only a serving receiver has one to stop.
        if self.serving:
            self.server.shutdown()
        self.server.server_close()


def _receiver(*, listening: bool) -> Receiver:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = receiver.script.pop(0) if receiver.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:  # quiet: pytest shows what fails
            pass

    # Bound but not yet listening: a connection is refused, as by a receiver that is down,
    # and the port stays ours until it listens.
    receiver = Receiver(ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False))
    receiver.server.server_bind()
    if listening:
        receiver.listen()
    return receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = _receiver(listening=True)
    yield r
    r.close()


# --- the worker's deliverer, with a clock moved by hand ---------------------------------------


class Clock:
    def __init__(self) -> None:
        # Ahead of the database's now(), so what was just published is due.
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Worker:
    deliverer: WebhookDeliverer
    clock: Clock

    async def cycle(self) -> int:
        return await self.deliverer.deliver_once()


@pytest.fixture
async def engines(database_url) -> AsyncIterator[dict]:
    """Sessions as targets_api's and the worker's database roles, as in production."""
    made = {
        role: create_engine(url, CommonSettings(database_url=url))
        for role, url in ((role, as_role(database_url, role)) for role in ("targets_api", "worker"))
    }
    yield {role: make_sessionmaker(engine) for role, engine in made.items()}
    for engine in made.values():
        await engine.dispose()


@pytest.fixture
async def worker(engines) -> AsyncIterator[Worker]:
    clock = Clock()
    async with receivers_client(parse_networks(LOCAL), 5) as client:
        yield Worker(
            WebhookDeliverer(
                engines["worker"],
                client,
                # Retries 1 to 4 s apart, given up at the third attempt: the clock moves 10 s.
                backoff=Backoff(base_s=2, max_s=4, max_retry_after_s=4),
                max_attempts=3,
                max_age=timedelta(days=1),
                clock=clock,
                unix_time=lambda: NOW,
            ),
            clock,
        )


async def publish_in_transaction(engines, *, area_codes=(LEEDS,), event=OPENED, **more):
    async with engines["targets_api"]() as session, session.begin():
        await publish(
            session,
            area_codes=list(area_codes),
            event=event,
            payload={"escalation_id": 7, "place_code": LEEDS, "note": "off track"},
            **more,
        )


async def subscribe(client, headers, *, url: str, code: str = LEEDS, **body) -> dict:
    response = await client.post(
        f"/v1/areas/{code}/webhooks",
        json={"url": url, "events": [OPENED], "secret": SECRET, **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client, headers, webhook_id: int) -> list[dict]:
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("joinedup_webhook_deliveries_total", {"result": result}) or 0


# --- subscriptions ---------------------------------------------------------------------------


async def test_a_subscription_shows_its_secret_once_and_is_audited_without_it(
    client, steward, make_key, query, engines
):
    made = await subscribe(client, steward, url="https://receiver.example/a", secret=None)
    await publish_in_transaction(engines)
    assert len(made["secret"]) >= 40, "a generated secret is as strong as the HMAC key can use"
    assert made["area_code"] == LEEDS and made["events"] == [OPENED] and made["active"]
    signatory = bearer(await make_key("signatory", LEEDS))
    listed = (await client.get(f"/v1/areas/{LEEDS}/webhooks", headers=signatory)).json()
    assert listed["count"] == 1 and "secret" not in listed["data"][0]
    assert listed["data"][0] == {k: v for k, v in made.items() if k != "secret"}

    deleted = await client.delete(f"/v1/webhooks/{made['id']}", headers=signatory)
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/v1/areas/{LEEDS}/webhooks", headers=steward)).json()["count"] == 0
    assert_problem(await client.delete(f"/v1/webhooks/{made['id']}", headers=steward), 404)
    # What waited for it is given up, and stays readable.
    [abandoned] = await deliveries(client, steward, made["id"])
    assert abandoned["state"] == "failed" and abandoned["attempts"] == 0
    assert "deleted" in abandoned["last_error"]

    audits = query(
        "SELECT action, entity_id, before, after FROM audit_log "
        "WHERE entity_type = 'webhook_subscription' ORDER BY id"
    )
    assert [(a, e) for a, e, _, _ in audits] == [
        ("webhook_subscription.create", str(made["id"])),
        ("webhook_subscription.delete", str(made["id"])),
    ]
    assert audits[1][3]["active"] is False and audits[1][3]["deliveries_abandoned"] == 1
    assert made["secret"] not in json.dumps([row[2:] for row in audits])


INVALID = [
    ({"url": "ftp://receiver.example/a"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"events": []}, "events"),
    ({"events": ["escalation.opened", "escalation.opened"]}, "events"),
    ({"events": ["plan.agreed"]}, "events"),
    ({"secret": "short"}, "secret"),
    ({"secret": "has a space in it 0123456789"}, "secret"),
    ({"colour": "blue"}, "colour"),
]


async def test_an_invalid_subscription_is_a_problem_naming_the_field(client, steward, query):
    # One test over every case: each is a request, not worth a database of its own.
    for body, loc in INVALID:
        sent = {"url": "https://receiver.example/a", "events": [OPENED], **body}
        response = await client.post(f"/v1/areas/{LEEDS}/webhooks", json=sent, headers=steward)
        problem = assert_problem(response, 422)
        assert {error["loc"][0] for error in problem["errors"]} == {loc}, (body, problem)
    assert query("SELECT count(*) FROM webhook_subscription") == [(0,)]


async def test_who_may_manage_an_areas_webhooks(client, steward, admin, make_key, query):
    """Admin, or a steward or signatory whose scope covers the area: every route."""
    made = await subscribe(client, steward, url="https://receiver.example/a")
    audited = query("SELECT count(*) FROM audit_log")
    routes = [
        ("POST", f"/v1/areas/{LEEDS}/webhooks", {"url": "https://x.example", "events": [OPENED]}),
        ("GET", f"/v1/areas/{LEEDS}/webhooks", None),
        ("GET", f"/v1/webhooks/{made['id']}/deliveries", None),
        ("DELETE", f"/v1/webhooks/{made['id']}", None),
    ]
    keys = {
        401: [{}, bearer("jdu_000000000000_made-up-secret")],
        403: [
            bearer(await make_key(*key))
            for key in (("viewer",), ("assessor",), ("submitter", LEEDS), ("steward", CORNWALL))
        ]
        + [bearer(await make_key("signatory", CORNWALL))],
    }
    for method, path, body in routes:
        for status, headers_list in keys.items():
            for headers in headers_list:
                response = await client.request(method, path, json=body, headers=headers)
                assert_problem(response, status)
    assert query("SELECT count(*) FROM audit_log") == audited, "a refused write changed nothing"
    assert_problem(await client.get("/v1/areas/E99999999/webhooks", headers=admin), 404)
    assert_problem(await client.get("/v1/webhooks/999999/deliveries", headers=admin), 404)
    # An ICB's signatory manages the ICB's own subscriptions (escalations are addressed to it).
    icb = bearer(await make_key("signatory", WEST_YORKSHIRE))
    await subscribe(client, icb, url="https://icb.example/hooks", code=WEST_YORKSHIRE)
    for method, path, body in routes:
        response = await client.request(method, path, json=body, headers=admin)
        assert response.status_code < 300, response.text


# --- publishing ------------------------------------------------------------------------------


async def test_publish_writes_one_delivery_per_asking_subscription_in_the_callers_transaction(
    client, steward, admin, engines, query
):
    asks = await subscribe(client, steward, url="https://a.example/hooks")
    await subscribe(client, steward, url="https://b.example/hooks", events=[RESOLVED])
    icb = await subscribe(client, admin, url="https://icb.example/hooks", code=WEST_YORKSHIRE)
    gone = await subscribe(client, steward, url="https://gone.example/hooks")
    assert (await client.delete(f"/v1/webhooks/{gone['id']}", headers=steward)).status_code == 204

    async with engines["targets_api"]() as session, session.begin():
        await publish(session, area_codes=[LEEDS], event=OPENED, payload={"id": 1})
        await session.rollback()
    assert query("SELECT count(*) FROM webhook_delivery") == [(0,)], "a rollback sends nothing"

    event_id = uuid.uuid4()
    for _ in range(2):  # the same event published twice is delivered once
        await publish_in_transaction(engines, area_codes=(LEEDS, WEST_YORKSHIRE), event_id=event_id)
    rows = query("SELECT subscription_id, event_id, event, body FROM webhook_delivery ORDER BY 1")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (asks["id"], event_id, OPENED.value),
        (icb["id"], event_id, OPENED.value),
    ]
    body = rows[0][3]
    assert body["id"] == str(event_id) and body["event"] == OPENED.value
    assert body["area_codes"] == [LEEDS, WEST_YORKSHIRE]
    assert body["data"] == {"escalation_id": 7, "place_code": LEEDS, "note": "off track"}
    with pytest.raises(ValueError):
        await publish_in_transaction(engines, event="escalation.forgotten")


# --- delivering ------------------------------------------------------------------------------


async def test_a_refused_delivery_is_retried_with_backoff_and_arrives_once_signed(
    client, steward, engines, worker, receiver
):
    hook = await subscribe(client, steward, url=receiver.url)
    receiver.script = [500]
    retried, delivered = counted("retried"), counted("delivered")
    await publish_in_transaction(engines)

    assert await worker.cycle() == 0
    [first] = await deliveries(client, steward, hook["id"])
    assert first["state"] == "pending" and first["attempts"] == 1
    assert first["last_status"] == 500 and "500" in first["last_error"]
    assert first["last_attempt_at"] and first["next_attempt_at"] > first["last_attempt_at"]
    assert await worker.cycle() == 0 and len(receiver.received) == 1, "not due: not sent"

    worker.clock.advance(10)
    assert await worker.cycle() == 1
    assert await worker.cycle() == 0, "delivered: never sent again"
    [done] = await deliveries(client, steward, hook["id"])
    assert done["state"] == "delivered" and done["attempts"] == 2 and done["delivered_at"]
    assert done["last_status"] is None and done["next_attempt_at"] is None
    assert counted("retried") - retried == 1 and counted("delivered") - delivered == 1
    assert REGISTRY.get_sample_value("joinedup_webhook_deliveries_pending") == 0

    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    assert headers["x-joinedup-event"] == OPENED.value
    assert headers["x-joinedup-delivery"] == str(done["id"])
    assert headers["x-joinedup-timestamp"] == str(NOW)
    assert headers["content-type"] == "application/json"
    assert verify(
        SECRET,
        timestamp=headers["x-joinedup-timestamp"],
        body=body,
        signature_header=headers["x-joinedup-signature"],
        now=NOW + 60,
    )
    assert json.loads(body)["data"]["note"] == "off track"
    assert json.loads(body)["id"] == done["event_id"]

    # Each attempt is kept, latest first, paged like every list.
    path = f"/v1/webhooks/{hook['id']}/deliveries/{done['id']}/attempts"
    history = (await client.get(path, headers=steward)).json()
    assert history["count"] == 2
    assert [(a["attempt"], a["status"], a["error"]) for a in history["data"]] == [
        (2, None, None),
        (1, 500, first["last_error"]),
    ]
    assert history["data"][1]["at"] == first["last_attempt_at"]
    assert history["data"][0]["at"] == done["last_attempt_at"]
    assert all(a["duration_ms"] >= 0 for a in history["data"])
    [latest] = (await client.get(path, params={"limit": 1}, headers=steward)).json()["data"]
    [earliest] = (await client.get(path, params={"limit": 1, "offset": 1}, headers=steward)).json()[
        "data"
    ]
    assert (latest["attempt"], earliest["attempt"]) == (2, 1)


async def test_a_deliverys_attempts_are_read_as_its_deliveries_are(
    client, steward, admin, make_key, engines
):
    hook = await subscribe(client, steward, url="https://receiver.example/a")
    other = await subscribe(client, steward, url="https://receiver.example/b")
    await publish_in_transaction(engines)
    [delivery] = await deliveries(client, steward, hook["id"])
    path = f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/attempts"
    assert (await client.get(path, headers=steward)).json() == {"data": [], "count": 0}
    for key in (("viewer",), ("submitter", LEEDS), ("steward", CORNWALL)):
        assert_problem(await client.get(path, headers=bearer(await make_key(*key))), 403)
    assert_problem(await client.get(path), 401)
    # Another subscription's delivery, or none: not found, even for an admin.
    elsewhere = f"/v1/webhooks/{other['id']}/deliveries/{delivery['id']}/attempts"
    assert_problem(await client.get(elsewhere, headers=admin), 404)
    missing = f"/v1/webhooks/{hook['id']}/deliveries/999999/attempts"
    assert_problem(await client.get(missing, headers=admin), 404)
    assert_problem(
        await client.get(path, params={"limit": 0}, headers=admin), 422, ("query", "limit")
    )


# --- the egress guard (SSRF) -----------------------------------------------------------------

REFUSED_AT_SUBSCRIBE = [
    "http://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
    "http://10.0.0.7/hooks",
    "https://192.168.1.20/hooks",
    "http://[::1]:8080/hooks",  # loopback, but not in 127.0.0.0/8
    "http://[::ffff:172.16.0.1]/hooks",  # IPv4-mapped: judged as the IPv4 address
    "http://0.0.0.0/hooks",
    "http://224.0.0.1/hooks",
]


async def test_a_receiver_at_a_non_global_address_is_refused_when_subscribing(
    client, steward, query
):
    audited = query("SELECT count(*) FROM audit_log")
    for url in REFUSED_AT_SUBSCRIBE:
        response = await client.post(
            f"/v1/areas/{LEEDS}/webhooks", json={"url": url, "events": [OPENED]}, headers=steward
        )
        problem = assert_problem(response, 422, ("url",))
        assert "address" in problem["errors"][0]["msg"], (url, problem)
        assert "JOINEDUP_WEBHOOK_ALLOWED_NETWORKS" in problem["detail"], problem
    assert query("SELECT count(*) FROM webhook_subscription") == [(0,)]
    assert query("SELECT count(*) FROM audit_log") == audited


async def test_the_deliverer_refuses_an_address_it_is_not_allowed_and_retries_as_usual(
    client, steward, engines, worker, receiver, query
):
    """A worker allowed no private network: the receiver on loopback is never sent to, by its
    address or by a name that resolves to it now (as a name may after it was subscribed: DNS
    rebinding), and each refusal is an attempt like a connection refused."""
    by_address = await subscribe(client, steward, url=receiver.url)
    # Written as a name that resolved elsewhere when subscribed would be.
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    [(named,)] = query(
        "INSERT INTO webhook_subscription (area_code, url, events, secret, created_by)"
        " VALUES (%s, %s, %s, %s, 'test') RETURNING id",
        LEEDS,
        by_name,
        [OPENED.value],
        SECRET,
    )
    await publish_in_transaction(engines)
    async with receivers_client((), 5) as guarded:
        worker.deliverer.client = guarded
        assert await worker.cycle() == 0
        worker.clock.advance(10)
        assert await worker.cycle() == 0
    assert receiver.received == [], "nothing reached the receiver"
    for hook_id, host in ((by_address["id"], "127.0.0.1"), (named, "localhost")):
        [row] = await deliveries(client, steward, hook_id)
        assert row["state"] == "pending" and row["attempts"] == 2, row
        assert row["last_error"].startswith("EgressRefused: not sent: " + host), row
        assert "a loopback address" in row["last_error"] and row["last_status"] is None

    # Allowed (as the module's worker is): each delivery goes, once; the one by name to the
    # address checked, with the name still its Host.
    worker.clock.advance(10)
    async with receivers_client(parse_networks(LOCAL), 5) as allowed:
        worker.deliverer.client = allowed
        assert await worker.cycle() == 2
    port = receiver.server.server_address[1]
    hosts = sorted(headers["host"] for headers, _ in receiver.received)
    assert hosts == [f"127.0.0.1:{port}", f"localhost:{port}"]


async def test_a_places_escalation_and_its_icbs_answer_are_told_to_the_icbs_receiver(
    client, make_key, worker, receiver
):
    """Issue 19's chain, by hand: Leeds raises an escalation to West Yorkshire, the ICB
    acknowledges it, and the worker tells the ICB's receiver of both, signed, each with the
    escalation as that step left it."""
    icb = bearer(await make_key("signatory", WEST_YORKSHIRE))
    events = [OPENED, WebhookEvent.escalation_acknowledged]
    await subscribe(client, icb, url=receiver.url, code=WEST_YORKSHIRE, events=events)
    asked = {"title": "No step-down beds", "description": "Twenty went.", "ask": "Broker beds."}
    leeds = bearer(await make_key("signatory", LEEDS))
    raised = await client.post(f"/v1/places/{LEEDS}/escalations", json=asked, headers=leeds)
    assert raised.status_code == 201, raised.text
    escalation = raised.json()["id"]
    answer = {"note": "Brokering across the ICB"}
    acked = await client.post(f"/v1/escalations/{escalation}/acknowledge", json=answer, headers=icb)
    assert acked.status_code == 200, acked.text

    assert await worker.cycle() == 2
    told = [(headers, json.loads(body)) for headers, body in receiver.received]
    assert [(h["x-joinedup-event"], b["data"]["id"], b["data"]["state"]) for h, b in told] == [
        (OPENED.value, escalation, "open"),
        ("escalation.acknowledged", escalation, "acknowledged"),
    ]
    assert told[0][1]["data"]["addressed_to"] == WEST_YORKSHIRE
    assert told[0][1]["area_codes"] == [LEEDS, WEST_YORKSHIRE]
    assert told[1][1]["data"]["note"] == answer["note"]
    for headers, body in receiver.received:
        assert verify(
            SECRET,
            timestamp=headers["x-joinedup-timestamp"],
            body=body,
            signature_header=headers["x-joinedup-signature"],
            now=NOW,
        )


async def test_a_receiver_that_is_down_delays_but_loses_nothing(client, steward, engines, worker):
    down = _receiver(listening=False)
    try:
        hook = await subscribe(client, steward, url=down.url)
        for _ in range(3):
            await publish_in_transaction(engines)
        assert await worker.cycle() == 0
        rows = await deliveries(client, steward, hook["id"])
        # One knock at a receiver that is down per cycle, not one per waiting event.
        assert sorted(row["attempts"] for row in rows) == [0, 0, 1]
        [tried] = [row for row in rows if row["attempts"]]
        assert tried["last_status"] is None and "ConnectError" in tried["last_error"]

        down.listen()
        sent = 0
        for _ in range(4):  # at most one cycle per event, and one for the retry to come due
            worker.clock.advance(10)
            sent += await worker.cycle()
        assert sent == 3
        rows = await deliveries(client, steward, hook["id"])
        assert {row["state"] for row in rows} == {"delivered"}
        ids = [json.loads(body)["id"] for _, body in down.received]
        assert sorted(ids) == sorted(row["event_id"] for row in rows), "each event exactly once"
    finally:
        down.close()


async def test_a_delivery_refused_to_the_last_attempt_is_given_up_and_counted(
    client, steward, engines, worker, receiver
):
    hook = await subscribe(client, steward, url=receiver.url)
    receiver.script = [503, 500, 502, 200]
    failed = counted("failed")
    await publish_in_transaction(engines)
    for _ in range(5):
        await worker.cycle()
        worker.clock.advance(10)
    [row] = await deliveries(client, steward, hook["id"])
    assert row["state"] == "failed" and row["attempts"] == 3 and row["last_status"] == 502
    assert row["failed_at"] and row["next_attempt_at"] is None and row["delivered_at"] is None
    assert len(receiver.received) == 3, "given up: never sent again"
    assert counted("failed") - failed == 1


async def test_two_deliverers_at_once_share_the_deliveries_and_send_each_once(
    client, steward, engines, worker, receiver
):
    """Two worker processes, or one rolling out beside another: SKIP LOCKED shares the rows."""
    await subscribe(client, steward, url=receiver.url)
    await subscribe(client, steward, url=receiver.url.replace("/hooks", "/other"))
    for _ in range(6):
        await publish_in_transaction(engines)
    twin = WebhookDeliverer(
        engines["worker"],
        worker.deliverer.client,
        backoff=worker.deliverer.backoff,
        max_attempts=3,
        max_age=timedelta(days=1),
        batch=3,
        clock=worker.clock,
    )
    worker.deliverer.batch = 3
    sent = [0, 0]
    for _ in range(8):
        rounds = await asyncio.gather(worker.cycle(), twin.deliver_once())
        sent = [total + now for total, now in zip(sent, rounds, strict=True)]
        if not any(rounds):
            break
    assert sum(sent) == 12 and min(sent) > 0, sent
    arrived = [(headers["x-joinedup-delivery"]) for headers, _ in receiver.received]
    assert len(arrived) == len(set(arrived)) == 12, "each delivery sent once"


async def test_the_worker_runs_the_deliverer_by_itself(client, steward, engines, database_url):
    """The worker's job, as `joinedup worker --only webhooks` runs it: published, then sent."""
    live = _receiver(listening=True)
    try:
        hook = await subscribe(client, steward, url=live.url)
        settings = WorkerSettings(
            database_url=database_url, worker_only=WorkerJob.webhooks, webhook_poll_s=0.05
        )
        async for _ in asgi_client(create_worker(settings, as_role(database_url, "worker"))):
            await publish_in_transaction(engines)
            [row] = await eventually_async(
                lambda: deliveries(client, steward, hook["id"]),
                lambda rows: rows and rows[0]["state"] == "delivered",
                what="the worker delivering the event",
            )
        [(headers, body)] = live.received
        assert verify(
            SECRET,
            timestamp=headers["x-joinedup-timestamp"],
            body=body,
            signature_header=headers["x-joinedup-signature"],
            now=int(time.time()),
        )
        assert row["attempts"] == 1
    finally:
        live.close()


def test_a_signature_is_refused_outside_the_replay_window_or_with_another_secret():
    body = b'{"event":"escalation.opened"}'
    signed = signature(SECRET, NOW, body)
    assert verify(SECRET, timestamp=str(NOW), body=body, signature_header=signed, now=NOW)
    late = NOW + REPLAY_WINDOW_S + 1
    assert not verify(SECRET, timestamp=str(NOW), body=body, signature_header=signed, now=late)
    assert not verify(
        "another-secret-0123456789", timestamp=str(NOW), body=body, signature_header=signed, now=NOW
    )
    assert not verify(
        SECRET, timestamp=str(NOW), body=body + b" ", signature_header=signed, now=NOW
    )
