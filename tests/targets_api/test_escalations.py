"""Escalations (issue 19): raised by a place, answered by the area it is addressed to, moved up
the chain ICB -> region -> England; raised, resolved and moved up by the rules each progress
refresh evaluates (the clock moved, never slept through); the audit, the history, the lists,
CSV and the one-live-escalation-per-cause index."""

import csv
import io
from datetime import date, timedelta

import psycopg
import pytest

from tests.support.areas import (
    BRADFORD,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import AVOIDABLE, FALLS
from tests.targets_api.progress_support import refresh, store_observations

ASK = {
    "title": "No step-down beds from January",
    "description": "The community provider withdrew 20 beds.\nDischarges now wait.",
    "ask": "Broker beds across the ICB's providers.",
}


async def raise_one(client, headers, code=LEEDS, **changes):
    return await client.post(f"/v1/places/{code}/escalations", json=ASK | changes, headers=headers)


async def act(client, headers, escalation_id, action, note="noted"):
    return await client.post(
        f"/v1/escalations/{escalation_id}/{action}", json={"note": note}, headers=headers
    )


@pytest.fixture
async def keys(make_key):
    """Signatories at each level of Leeds's chain, and a steward of another ICB's place."""
    return {
        "leeds": bearer(await make_key("signatory", LEEDS)),
        "bradford": bearer(await make_key("steward", BRADFORD)),
        "icb": bearer(await make_key("signatory", WEST_YORKSHIRE, name="WY ICB")),
        "region": bearer(await make_key("steward", NORTH_EAST_AND_YORKSHIRE)),
        "england": bearer(await make_key("signatory", ENGLAND)),
        "viewer": bearer(await make_key("viewer")),
    }


async def test_a_place_escalates_and_each_level_answers_up_to_england(client, keys, query):
    raised = await raise_one(client, keys["leeds"], metric_code=AVOIDABLE)
    assert raised.status_code == 201, raised.text
    body = raised.json()
    assert (body["state"], body["addressed_to"], body["level"]) == ("open", WEST_YORKSHIRE, "icb")
    assert body["reason"] == "manual" and body["metric_code"] == AVOIDABLE
    assert raised.headers["Location"] == f"/v1/escalations/{body['id']}"
    assert date.fromisoformat(body["acknowledge_by"]) > date.fromisoformat(body["created_at"][:10])
    retry = await raise_one(client, keys["leeds"], metric_code=AVOIDABLE)
    assert (retry.status_code, retry.json()["id"]) == (200, body["id"]), "a retry adds nothing"

    first = body["id"]
    # The place cannot answer its own escalation, nor another place's steward, nor a viewer.
    assert_problem(await act(client, keys["leeds"], first, "acknowledge"), 403)
    assert_problem(await act(client, keys["bradford"], first, "acknowledge"), 403)
    assert_problem(await act(client, keys["viewer"], first, "acknowledge"), 403)

    acknowledged = await act(client, keys["icb"], first, "acknowledge", "On the agenda")
    assert acknowledged.status_code == 200 and acknowledged.json()["state"] == "acknowledged"
    assert acknowledged.json()["acknowledge_by"] is None
    again = await act(client, keys["icb"], first, "acknowledge")
    assert again.status_code == 200, "acknowledging twice is a retry"

    up = await act(client, keys["icb"], first, "escalate", "Needs the region's help")
    assert up.status_code == 201, up.text
    at_region = up.json()
    assert (at_region["addressed_to"], at_region["level"], at_region["state"]) == (
        NORTH_EAST_AND_YORKSHIRE,
        "region",
        "open",
    )
    assert at_region["escalated_from_id"] == first and at_region["title"] == ASK["title"]
    retried = await act(client, keys["icb"], first, "escalate")
    assert (retried.status_code, retried.json()["id"]) == (200, at_region["id"])
    below = (await client.get(f"/v1/escalations/{first}", headers=keys["viewer"])).json()
    assert (below["state"], below["escalated_to_id"]) == ("escalated", at_region["id"])
    assert [(s["step"], s["from_area"], s["to_area"], s["note"]) for s in below["steps"]] == [
        ("opened", LEEDS, WEST_YORKSHIRE, None),
        ("acknowledged", None, WEST_YORKSHIRE, "On the agenda"),
        ("escalated", WEST_YORKSHIRE, NORTH_EAST_AND_YORKSHIRE, "Needs the region's help"),
    ]
    assert all("WY ICB" in s["actor"] for s in below["steps"][1:])
    # The ICB no longer holds it: its answers are refused as illegal.
    assert_problem(await act(client, keys["icb"], first, "resolve"), 409)
    assert_problem(await act(client, keys["icb"], at_region["id"], "acknowledge"), 403)

    national = (await act(client, keys["region"], at_region["id"], "escalate")).json()
    assert (national["addressed_to"], national["level"]) == (ENGLAND, "nation")
    top = assert_problem(await act(client, keys["england"], national["id"], "escalate"), 409)
    assert "top of the chain" in top["detail"] and top["level"] == "nation"
    resolved = await act(client, keys["england"], national["id"], "resolve", "Support team sent")
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert_problem(await act(client, keys["england"], national["id"], "acknowledge"), 409)

    audits = query(
        "SELECT action, entity_id::int, after->>'state' FROM audit_log"
        " WHERE entity_type = 'escalation' ORDER BY id"
    )
    assert audits == [
        ("escalation.opened", first, "open"),
        ("escalation.acknowledged", first, "acknowledged"),
        ("escalation.escalated", first, "escalated"),
        ("escalation.opened", at_region["id"], "open"),
        ("escalation.escalated", at_region["id"], "escalated"),
        ("escalation.opened", national["id"], "open"),
        ("escalation.resolved", national["id"], "resolved"),
    ]

    by_place = (await client.get(f"/v1/places/{LEEDS}/escalations", headers=keys["viewer"])).json()
    assert by_place["count"] == 3 and [e["id"] for e in by_place["data"]] == [
        national["id"],
        at_region["id"],
        first,
    ]
    at_icb = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/escalations?state=escalated&limit=1", headers=keys["viewer"]
    )
    assert at_icb.json()["count"] == 1 and at_icb.json()["data"][0]["id"] == first
    none_open = await client.get(
        f"/v1/areas/{WEST_YORKSHIRE}/escalations?state=open", headers=keys["viewer"]
    )
    assert none_open.json() == {"data": [], "count": 0}
    as_csv = await client.get(
        f"/v1/places/{LEEDS}/escalations", headers=keys["viewer"] | {"Accept": "text/csv"}
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [(r["id"], r["state"], r["addressed_to"]) for r in rows] == [
        (str(national["id"]), "resolved", ENGLAND),
        (str(at_region["id"]), "escalated", NORTH_EAST_AND_YORKSHIRE),
        (str(first), "escalated", WEST_YORKSHIRE),
    ]


async def test_what_a_client_may_get_wrong_is_a_problem_naming_it(client, keys, steward):
    assert_problem(await raise_one(client, keys["viewer"]), 403)
    assert_problem(await raise_one(client, keys["bradford"]), 403)  # Leeds is not in its scope
    assert_problem(await raise_one(client, {}), 401)
    assert_problem(await raise_one(client, steward, code=WEST_YORKSHIRE), 422, ("path", "code"))
    assert_problem(await raise_one(client, steward, code="E08999999"), 404)
    assert_problem(
        await raise_one(client, steward, metric_code="no-such-metric"), 422, ("metric_code",)
    )
    assert_problem(await raise_one(client, steward, title=""), 422, ("title",))
    assert_problem(await raise_one(client, steward, title="a\nb"), 422, ("title",))
    assert_problem(await raise_one(client, steward, ask="nul\x00"), 422, ("ask",))
    assert_problem(await raise_one(client, steward, urgent=True), 422, ("urgent",))
    assert_problem(await act(client, steward, 999_999, "acknowledge"), 404)
    assert_problem(await act(client, steward, 0, "acknowledge"), 422)
    assert_problem(await client.get("/v1/escalations/2147483648", headers=steward), 422)
    assert_problem(
        await client.get(f"/v1/areas/{WEST_YORKSHIRE}/escalations?state=closed", headers=steward),
        422,
    )
    assert_problem(await client.get("/v1/areas/E99999999/escalations", headers=steward), 404)
    opened = (await raise_one(client, steward)).json()
    bad_note = await client.post(
        f"/v1/escalations/{opened['id']}/acknowledge", json={"note": 3}, headers=steward
    )
    assert_problem(bad_note, 422, ("note",))


def escalations(query, *where: str) -> list[tuple]:
    condition = " AND ".join(("true", *where))
    return query(
        "SELECT reason, metric_code, state, addressed_to, level FROM escalation"
        f" WHERE {condition} ORDER BY id"
    )


async def test_the_rules_raise_resolve_and_move_up_without_anyone(
    client, plans, admin, keys, query, clock
):
    """Leeds's agreed plan: falls off track three quarters running (a rule escalation); the
    other four national metrics have no value for their latest overdue period (four more).
    The ICB's and the region's webhook subscribers are told of each step (the deliveries are
    written with it; tests/targets_api/test_webhooks.py sends them)."""
    await plans.in_state("agreed")
    every_event = ["escalation.opened", "escalation.acknowledged"]
    every_event += ["escalation.escalated", "escalation.resolved"]
    for area in (WEST_YORKSHIRE, NORTH_EAST_AND_YORKSHIRE):
        subscribed = await client.post(
            f"/v1/areas/{area}/webhooks",
            json={"url": f"https://{area.lower()}.example/hooks", "events": every_event},
            headers=admin,
        )
        assert subscribed.status_code == 201, subscribed.text
    store_observations(
        query,
        [
            (LEEDS, FALLS, period, value, value, 100_000)
            for period, value in [
                ("2025-Q2", 600),
                ("2025-Q3", 596),
                ("2025-Q4", 590),
                ("2026-Q1", 585),
            ]
        ],
    )
    clock.today = date(2026, 5, 1)
    await refresh(client, admin)
    assert escalations(query, "reason = 'off_track'") == [
        ("off_track", FALLS, "open", WEST_YORKSHIRE, "icb")
    ]
    missing = escalations(query, "reason = 'data_missing'")
    assert {m[1] for m in missing} == {
        "bcf-avoidable-admissions",
        "bcf-discharge-usual-residence",
        "bcf-residential-admissions-65plus",
        "bcf-reablement-91-days",
    }, "falls has its overdue quarter (2025-Q4); the others have nothing"
    assert query("SELECT count(*) FROM escalation_step WHERE actor = 'rule:escalations'") == [(5,)]
    assert told(query) == {(WEST_YORKSHIRE, "escalation.opened", "open"): 5}

    await refresh(client, admin)  # the same causes: nothing new, nothing twice
    assert len(escalations(query)) == 5
    # The database itself refuses a second live escalation for the same cause.
    with pytest.raises(psycopg.errors.UniqueViolation):
        query(
            "INSERT INTO escalation (place_code, metric_code, reason, title, description, ask,"
            " addressed_to, level, created_by, updated_by) VALUES (%s, %s, 'off_track', 't',"
            " 'd', 'a', %s, 'icb', 'x', 'x')",
            LEEDS,
            FALLS,
            WEST_YORKSHIRE,
        )

    [(falls_id,)] = query("SELECT id FROM escalation WHERE reason = 'off_track'")
    assert (await act(client, keys["icb"], falls_id, "acknowledge")).status_code == 200
    # Falls back on track (570 beats the line's 574.3 for 2026-Q2), the avoidable admissions
    # of 2025-Q4 submitted at last: both resolve themselves, with a note.
    store_observations(query, [(LEEDS, FALLS, "2026-Q2", 570, 570, 100_000)])
    store_observations(query, [(LEEDS, AVOIDABLE, "2025-Q4", 500, 500, 100_000)])
    await refresh(client, admin)
    assert escalations(query, f"metric_code IN ('{FALLS}', '{AVOIDABLE}')") == [
        ("off_track", FALLS, "resolved", WEST_YORKSHIRE, "icb"),
        ("data_missing", AVOIDABLE, "resolved", WEST_YORKSHIRE, "icb"),
    ]
    detail = (await client.get(f"/v1/escalations/{falls_id}", headers=keys["viewer"])).json()
    assert [s["step"] for s in detail["steps"]] == ["opened", "acknowledged", "resolved"]
    assert detail["steps"][-1]["note"].startswith("Resolved by itself")

    # 28 days on, not yet overdue; the 29th day the ICB has not acknowledged them, they go up.
    opened_on = date.fromisoformat(
        query("SELECT min(created_at)::date::text FROM escalation")[0][0]
    )
    clock.today = opened_on + timedelta(days=28)
    await refresh(client, admin)
    assert escalations(query, "level = 'region'") == []
    clock.today = opened_on + timedelta(days=29)
    await refresh(client, admin)
    moved = escalations(query, "level = 'region'")
    assert {m[1] for m in moved} >= {
        "bcf-discharge-usual-residence",
        "bcf-residential-admissions-65plus",
        "bcf-reablement-91-days",
    }
    assert all(m[2:] == ("open", NORTH_EAST_AND_YORKSHIRE, "region") for m in moved)
    assert len(escalations(query, "state = 'escalated'")) == len(moved)
    steps = query(
        "SELECT s.step, s.from_area, s.to_area FROM escalation_step s JOIN escalation e"
        " ON e.id = s.escalation_id WHERE e.level = 'region' ORDER BY s.id"
    )
    assert set(steps) == {("opened", WEST_YORKSHIRE, NORTH_EAST_AND_YORKSHIRE)}
    # Told: the ICB of each step (the 29 days made more periods overdue: more were opened); the
    # region of what was opened there, nothing before.
    [(opened_at_icb,)] = query("SELECT count(*) FROM escalation WHERE level = 'icb'")
    assert opened_at_icb > 5
    assert told(query) == {
        (WEST_YORKSHIRE, "escalation.opened", "open"): opened_at_icb,
        (WEST_YORKSHIRE, "escalation.acknowledged", "acknowledged"): 1,
        (WEST_YORKSHIRE, "escalation.resolved", "resolved"): 2,
        (WEST_YORKSHIRE, "escalation.escalated", "escalated"): len(moved),
        (NORTH_EAST_AND_YORKSHIRE, "escalation.opened", "open"): len(moved),
    }


def told(query) -> dict[tuple[str, str, str], int]:
    """Webhook deliveries by (subscriber's area, event, the escalation's state in the body)."""
    rows = query(
        "SELECT s.area_code, d.event, d.body -> 'data' ->> 'state', count(*)"
        " FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id"
        " GROUP BY 1, 2, 3"
    )
    return {(area, event, state): n for area, event, state, n in rows}


async def test_prometheus_counts_live_and_overdue_escalations(client, keys, steward):
    await raise_one(client, keys["leeds"])
    scraped = (await client.get("/metrics")).text
    assert 'joinedup_escalations_open{level="icb",reason="manual"} 1' in scraped
    assert 'joinedup_escalations_open{level="region",reason="off_track"} 0' in scraped
    assert 'joinedup_escalations_acknowledgement_overdue{level="icb",reason="manual"} 0' in scraped
