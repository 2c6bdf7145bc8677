"""/public/v1/: the public record, with no key. One seeded England holds everything that must
stay private (a draft revision and another place's proposed plan with targets of their own, open
periods' values, keys, approvals, audit); every public route found in the app's route table is
walked, and each answer compared with what a viewer key reads on the private routes."""

import json
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from tests.support.areas import BRADFORD, ENGLAND, LEEDS, NORTH_EAST_AND_YORKSHIRE, WEST_YORKSHIRE
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import AVOIDABLE, DISCHARGE, target
from tests.targets_api.progress_support import refresh, store_observations

TODAY = date(2026, 12, 2)  # 2026-10 and 2026-11 are open (45-day deadline), 2026-09 closed
# Values that exist only where the public must not look: found in an answer, they leaked.
DRAFT_TARGET = 97.31  # Leeds's draft revision
PROPOSED_TARGET = 96.17  # Bradford's proposed plan
OPEN_VALUES = (93.71, 93.82)  # Leeds's discharge in 2026-10 and 2026-11, still open
# Names of fields that carry keys, people's sign-offs, audit or submissions.
PRIVATE_FIELDS = {
    "key_id",
    "actor",
    "actor_key_id",
    "changed_by",
    "approvals",
    "signatory",
    "comment",
    "rejection_reason",
    "submission_id",
    "history",
    "scopes",
    "nomination_id",
    "confirmations",
    "request_id",
}
LEADER = {
    "name": "Jo Public",
    "role": "Place director",
    "organisation": "Leeds City Council",
    "appointed_on": "2025-01-06",
    "joint_appointment": True,
}
GOVERNANCE = {
    "model": "joint_committee",
    "adopted_on": "2023-03-01",
    "scrutinised_on": "2023-02-01",
    "members": [
        {"organisation": "Leeds City Council", "category": "local_authority"},
        {"organisation": "Healthwatch Leeds", "category": "healthwatch"},
    ],
    "delegated_functions": ["Better Care Fund pooled budget"],
}
# Where each public route's path parameters point: a place's routes at Leeds, an area's at
# Leeds's ICB, region and England. A new parameter must be given values here to be walked.
PARAMETERS = {
    "places": {"code": [LEEDS], "metric_code": [DISCHARGE, AVOIDABLE]},
    "areas": {"code": [WEST_YORKSHIRE, NORTH_EAST_AND_YORKSHIRE, ENGLAND]},
}


def discharge(period: str, value: float) -> tuple:
    return (LEEDS, DISCHARGE, period, value, round(value * 100), 10000)


def leeds_observations() -> list[tuple]:
    closed = [discharge(f"2026-{m:02d}", 89.0 + m / 10) for m in range(1, 10)]
    open_ = [discharge("2026-10", OPEN_VALUES[0]), discharge("2026-11", OPEN_VALUES[1])]
    # Avoidable admissions: every quarter closed, so its status is public.
    quarters = [
        (LEEDS, AVOIDABLE, q, v, v * 10, 1000000)
        for q, v in (("2025-Q4", 50.0), ("2026-Q1", 49.0), ("2026-Q2", 48.0), ("2026-Q3", 47.0))
    ]
    return closed + open_ + quarters


@pytest.fixture
async def seeded(client, clock, plans, steward, admin, query) -> dict[str, Any]:
    """Leeds with a leader, governance, an agreed plan and a draft revision of it; Bradford
    with a proposed plan; Leeds's observations, some open; progress refreshed."""
    clock.today = TODAY
    leader = await client.put(f"/v1/places/{LEEDS}/leader", json=LEADER, headers=steward)
    assert leader.status_code == 201, leader.text
    governance = await client.put(
        f"/v1/places/{LEEDS}/governance", json=GOVERNANCE, headers=steward
    )
    assert governance.status_code in (200, 201), governance.text
    agreed = await plans.in_state("agreed")
    revision = await plans.open_revision(agreed["id"])
    changed = await plans.put_target(
        revision["id"], DISCHARGE, target(DISCHARGE, target_value=DRAFT_TARGET)
    )
    assert changed.status_code == 200, changed.text
    proposed = await plans.create(BRADFORD)
    await plans.fill(proposed["id"])
    changed = await plans.put_target(
        proposed["id"], DISCHARGE, target(DISCHARGE, target_value=PROPOSED_TARGET)
    )
    assert changed.status_code == 200, changed.text
    await plans.propose(proposed["id"])
    store_observations(query, leeds_observations())
    await refresh(client, admin)
    return {"agreed": agreed}


def public_routes(client: httpx.AsyncClient) -> list[str]:
    app = client._transport.app  # type: ignore[attr-defined]  # the ASGI app under test
    return [
        context.path
        for context in iter_route_contexts(app.routes)
        if context.path.startswith("/public/")
        and "GET" in (getattr(context, "methods", None) or ())
    ]


def expand(template: str) -> list[str]:
    """Every path the template takes over PARAMETERS."""
    kind = template.removeprefix("/public/v1/").split("/")[0]
    paths = [template]
    for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
        values = PARAMETERS[kind][name]  # a KeyError: give the new parameter values above
        paths = [p.replace("{" + name + "}", v) for p in paths for v in values]
    return paths


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def periods_of(value: Any) -> set[str]:
    """Every period an answer names, wherever it is."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if "period" in k and isinstance(v, str)}
        return found | {p for v in value.values() for p in periods_of(v)}
    if isinstance(value, list):
        return {p for v in value for p in periods_of(v)}
    return set()


async def test_every_public_route_shows_only_what_is_public(client, seeded, viewer, query) -> None:
    routes = public_routes(client)
    assert {
        "/public/v1/places/{code}",
        "/public/v1/areas/{code}/performance",
    } <= set(routes)
    series = (await client.get(f"/v1/places/{LEEDS}/progress/{DISCHARGE}", headers=viewer)).json()
    open_periods = {p["period"] for p in series["points"] if p["provisional"]}
    assert open_periods == {"2026-10", "2026-11"}
    answers: dict[str, Any] = {}
    for template in routes:
        for path in expand(template):
            response = await client.get(path)  # no key
            assert response.status_code == 200, (path, response.text)
            # Cacheable by anyone, revalidated with the ETag.
            assert response.headers["cache-control"] == "public, max-age=300", path
            again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert again.status_code == 304, path
            body = response.json()
            text = json.dumps(body)
            for leaked in (DRAFT_TARGET, PROPOSED_TARGET, *OPEN_VALUES):
                assert str(leaked) not in text, (path, leaked)
            assert not keys_of(body) & PRIVATE_FIELDS, (path, keys_of(body) & PRIVATE_FIELDS)
            assert not periods_of(body) & open_periods, (path, periods_of(body) & open_periods)
            answers[path] = body
    # Everything shown is what a viewer key reads on the private routes.
    place = answers[f"/public/v1/places/{LEEDS}"]
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=viewer)).json()
    assert place["leader"] == {k: profile["current_leader"][k] for k in LEADER} == LEADER
    plan = (
        await client.get(f"/v1/plans/{profile['current_agreed_plan_id']}", headers=viewer)
    ).json()
    assert plan["status"] == "agreed" and place["plan"]["id"] == plan["id"]
    assert [
        {k: t[k] for k in t if k not in ("metric_name", "unit")} for t in place["plan"]["targets"]
    ] == [
        {
            k: t[k]
            for k in (
                "metric_code",
                "baseline_period",
                "baseline_value",
                "target_period",
                "target_value",
                "trajectory",
            )
        }
        for t in plan["targets"]
    ]
    governance = (await client.get(f"/v1/places/{LEEDS}/governance", headers=viewer)).json()
    assert place["governance"]["members"] == GOVERNANCE["members"]
    assert place["governance"]["model"] == governance["model"] == "joint_committee"
    progress = {
        i["metric_code"]: i
        for i in (await client.get(f"/v1/places/{LEEDS}/progress", headers=viewer)).json()["items"]
    }
    shown = {i["metric_code"]: i for i in place["progress"]}
    assert set(shown) == set(progress)
    # Discharge's latest period is open: its figures and status are withheld, not recomputed.
    assert progress[DISCHARGE]["provisional"] is True
    assert shown[DISCHARGE]["status"] is None and shown[DISCHARGE]["latest_value"] is None
    assert progress[AVOIDABLE]["provisional"] is False
    assert {k: progress[AVOIDABLE][k] for k in shown[AVOIDABLE]} == shown[AVOIDABLE]
    assert shown[AVOIDABLE]["status"] is not None
    values = answers[f"/public/v1/places/{LEEDS}/values/{DISCHARGE}"]["values"]
    assert values == [
        {"period": p["period"], "value": p["value"]}
        for p in series["points"]
        if not p["provisional"]
    ]
    assert len(values) == 9
    # Roll-ups: the viewer's closed periods and values, and nothing of an open one.
    for area in PARAMETERS["areas"]["code"]:
        public = answers[f"/public/v1/areas/{area}/performance"]
        private = (await client.get(f"/v1/areas/{area}/performance", headers=viewer)).json()
        assert [m["metric_code"] for m in public["metrics"]] == [
            m["metric_code"] for m in private["metrics"]
        ]
        for mine, theirs in zip(public["metrics"], private["metrics"], strict=True):
            closed = theirs["period"] is not None and theirs["provisional"] is False
            assert mine["period"] == (theirs["period"] if closed else None)
            assert mine["value"] == (theirs["value"] if closed else None)
            assert [p["value"] for p in mine["places"]] == [
                p["value"] if closed else None for p in theirs["places"]
            ]
    leeds_discharge = next(
        m
        for m in answers[f"/public/v1/areas/{WEST_YORKSHIRE}/performance"]["metrics"]
        if m["metric_code"] == DISCHARGE
    )
    assert leeds_discharge["period"] == "2026-09"


async def test_unknown_codes_are_problems_not_errors(client) -> None:
    # A known place with nothing recorded yet is a record of nothing, not a 404.
    empty = await client.get(f"/public/v1/places/{BRADFORD}")
    assert empty.status_code == 200, empty.text
    assert {k: empty.json()[k] for k in ("leader", "governance", "plan", "progress")} == {
        "leader": None,
        "governance": None,
        "plan": None,
        "progress": [],
    }
    assert_problem(await client.get("/public/v1/places/E99999999"), 404)
    assert_problem(await client.get(f"/public/v1/places/{LEEDS}/values/no-such-metric"), 404)
    # A place has no roll-up of its own: the keyed route's problem, not an error.
    assert_problem(await client.get(f"/public/v1/areas/{LEEDS}/performance"), 422, ("path", "code"))
    assert_problem(await client.get("/public/v1/areas/E99999999/performance"), 404)


@pytest.fixture
def two_a_minute(monkeypatch):
    """Requested before ``client``, whose settings read the environment when made."""
    monkeypatch.setenv("JOINEDUP_PUBLIC_RATE_LIMIT_PER_MINUTE", "2")


async def test_the_rate_limit_is_per_address_and_answers_429(two_a_minute, client) -> None:
    path = f"/public/v1/areas/{WEST_YORKSHIRE}/performance"
    assert [(await client.get(path)).status_code for _ in range(2)] == [200, 200]
    refused = await client.get(path)
    problem = assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "This address" in problem["detail"]
    # Another address has its own bucket (the same app, so the same limiter).
    app = client._transport.app  # type: ignore[attr-defined]  # the ASGI app under test
    elsewhere = httpx.ASGITransport(app=app, client=("192.0.2.7", 4711))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as other:
        assert (await other.get(path)).status_code == 200
    assert (await client.get(path)).status_code == 429
