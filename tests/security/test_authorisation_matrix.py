"""Every write route of every service, in four columns: no key (401), a key of the wrong role
(403), a key of the right role out of scope (403, where the route acts on an area) and a key in
scope (2xx). Routes are discovered from the apps, so a new write route without a row here fails
``test_every_write_route_has_a_row``. A refused write leaves nothing in the audit log.

The fuller per-service matrices (every kind of key and scope) are
tests/metrics_api/test_authorisation.py and tests/targets_api/test_plan_authorisation.py."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fhir.resources.R4B.operationoutcome import OperationOutcome

from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import create_app as create_targets_api
from tests.metrics_api.support import audit_count, local_metric, new_area
from tests.support.areas import BRADFORD, CORNWALL, ENGLAND, LEEDS, WEST_YORKSHIRE
from tests.support.bodies import governance, leader, resources
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.support.submissions import (
    DISCHARGE,
    fhir_bundle,
    json_submission,
    measure_report,
    observation,
)
from tests.targets_api.plan_support import FALLS, PLAN, Plans, target

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXISTING_LOCAL = "leeds-existing"
APPS = {
    "metrics_api": create_metrics_api,
    "targets_api": create_targets_api,
    "ingest": create_ingest,
}


@dataclass
class Env:
    """What a row's ``prepare`` may use: the service's client, and plans driven through it."""

    client: httpx.AsyncClient
    admin: dict[str, str]
    plans: Plans | None


@dataclass(frozen=True)
class Call:
    path_params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


async def nothing(env: Env) -> Call:
    return Call()


def body(value: Any, **path_params: Any) -> Callable[[Env], Awaitable[Call]]:
    async def prepare(env: Env) -> Call:
        return Call(path_params, value)

    return prepare


async def existing_local_metric(env: Env) -> Call:
    response = await env.client.post(
        "/v1/metrics", json=local_metric(EXISTING_LOCAL), headers=env.admin
    )
    assert response.status_code == 201, response.text
    return Call({"code": EXISTING_LOCAL}, local_metric(EXISTING_LOCAL, name="Renamed"))


async def retiring_local_metric(env: Env) -> Call:
    return Call((await existing_local_metric(env)).path_params)


def plan_in(state: str, **more: Any) -> Callable[[Env], Awaitable[Call]]:
    """A Leeds plan in ``state``; ``json`` and path parameters besides the plan's id."""
    json = more.pop("json", None)

    async def prepare(env: Env) -> Call:
        assert env.plans is not None
        plan = await env.plans.in_state(state)
        return Call({"plan_id": plan["id"], **more}, json)

    return prepare


async def leader_nomination(env: Env) -> Call:
    """An open nomination for Leeds, and Leeds's confirmation of it."""
    response = await env.client.post(
        f"/v1/places/{LEEDS}/leader-nominations", json=leader(), headers=env.admin
    )
    assert response.status_code == 201, response.text
    return Call(
        {"nomination_id": response.json()["id"]},
        {"organisation_code": LEEDS, "decision": "confirm", "signatory": "A. Signatory"},
    )


WEBHOOK = {"url": "https://receiver.example/hooks", "events": ["escalation.opened"]}


async def webhook_of_leeds(env: Env) -> Call:
    response = await env.client.post(f"/v1/areas/{LEEDS}/webhooks", json=WEBHOOK, headers=env.admin)
    assert response.status_code == 201, response.text
    return Call({"webhook_id": response.json()["id"]})


ESCALATION = {
    "title": "No step-down beds",
    "description": "Twenty beds went.",
    "ask": "Broker beds.",
}


async def open_escalation(env: Env) -> Call:
    """Leeds's escalation, open at West Yorkshire ICB, for the ICB to answer."""
    response = await env.client.post(
        f"/v1/places/{LEEDS}/escalations", json=ESCALATION, headers=env.admin
    )
    assert response.status_code == 201, response.text
    return Call({"escalation_id": response.json()["id"]}, {"note": "Seen"})


def escalation_answer(success: int) -> "Row":
    # The addressee answers: the ICB's signatory; Leeds's own signatory is out of its scope.
    return Row(
        open_escalation,
        ("signatory", WEST_YORKSHIRE),
        ("submitter", WEST_YORKSHIRE),
        ("signatory", LEEDS),
        success,
    )


@dataclass(frozen=True)
class Row:
    prepare: Callable[[Env], Awaitable[Call]]
    right: tuple[str, ...]  # a key that may make the write
    wrong_role: tuple[str, ...] | None  # right scope, wrong role; None: any valid key may
    out_of_scope: tuple[str, ...] | None  # right role, wrong area; None: not an area's write
    success: int


STEWARD_OF_LEEDS = ("steward", LEEDS)
STEWARD_ELSEWHERE = ("steward", CORNWALL)

MATRIX: dict[tuple[str, str, str], Row] = {
    ("metrics_api", "POST", "/v1/areas"): Row(
        body(new_area()), ("admin",), ("steward", ENGLAND), None, 201
    ),
    ("metrics_api", "POST", "/v1/metrics"): Row(
        body(local_metric("leeds-new")),
        STEWARD_OF_LEEDS,
        ("submitter", LEEDS),
        ("steward", BRADFORD),
        201,
    ),
    ("metrics_api", "PUT", "/v1/metrics/{code}"): Row(
        existing_local_metric,
        ("steward", WEST_YORKSHIRE),
        ("signatory", LEEDS),
        ("steward", BRADFORD),
        200,
    ),
    ("metrics_api", "POST", "/v1/metrics/{code}/retire"): Row(
        retiring_local_metric, STEWARD_OF_LEEDS, ("viewer",), ("steward", BRADFORD), 200
    ),
    ("targets_api", "PUT", "/v1/places/{code}/leader"): Row(
        body(leader(), code=LEEDS), STEWARD_OF_LEEDS, ("signatory", LEEDS), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "POST", "/v1/places/{code}/leader-nominations"): Row(
        body(leader(), code=LEEDS), STEWARD_OF_LEEDS, ("signatory", LEEDS), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "POST", "/v1/leader-nominations/{nomination_id}/decisions"): Row(
        leader_nomination, ("signatory", LEEDS), STEWARD_OF_LEEDS, ("signatory", CORNWALL), 201
    ),
    ("targets_api", "PUT", "/v1/places/{code}/governance"): Row(
        body(governance(), code=LEEDS),
        STEWARD_OF_LEEDS,
        ("signatory", LEEDS),
        STEWARD_ELSEWHERE,
        201,
    ),
    ("targets_api", "POST", "/v1/areas/{code}/webhooks"): Row(
        body(WEBHOOK, code=LEEDS), ("signatory", LEEDS), ("viewer",), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "DELETE", "/v1/webhooks/{webhook_id}"): Row(
        webhook_of_leeds, STEWARD_OF_LEEDS, ("assessor",), ("signatory", CORNWALL), 204
    ),
    ("targets_api", "POST", "/v1/places/{code}/escalations"): Row(
        body(ESCALATION, code=LEEDS), ("signatory", LEEDS), ("viewer",), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "POST", "/v1/escalations/{escalation_id}/acknowledge"): escalation_answer(200),
    ("targets_api", "POST", "/v1/escalations/{escalation_id}/resolve"): escalation_answer(200),
    ("targets_api", "POST", "/v1/escalations/{escalation_id}/escalate"): escalation_answer(201),
    ("targets_api", "POST", "/v1/places/{code}/plans"): Row(
        body(PLAN, code=LEEDS), STEWARD_OF_LEEDS, ("submitter", LEEDS), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "PUT", "/v1/plans/{plan_id}/targets/{metric_code}"): Row(
        plan_in("draft", metric_code=FALLS, json=target(FALLS)),
        STEWARD_OF_LEEDS,
        ("assessor",),
        STEWARD_ELSEWHERE,
        200,
    ),
    ("targets_api", "DELETE", "/v1/plans/{plan_id}/targets/{metric_code}"): Row(
        plan_in("draft", metric_code=FALLS), STEWARD_OF_LEEDS, ("viewer",), STEWARD_ELSEWHERE, 204
    ),
    ("targets_api", "PUT", "/v1/plans/{plan_id}/resources"): Row(
        plan_in("draft", json=resources()),
        STEWARD_OF_LEEDS,
        ("signatory", LEEDS),
        STEWARD_ELSEWHERE,
        200,
    ),
    ("targets_api", "POST", "/v1/plans/{plan_id}/submit"): Row(
        plan_in("draft"), STEWARD_OF_LEEDS, ("signatory", LEEDS), STEWARD_ELSEWHERE, 200
    ),
    ("targets_api", "POST", "/v1/plans/{plan_id}/approvals"): Row(
        plan_in(
            "proposed",
            json={"organisation_code": LEEDS, "decision": "approve", "signatory": "A. Signatory"},
        ),
        ("signatory", LEEDS),
        STEWARD_OF_LEEDS,
        ("signatory", CORNWALL),
        201,
    ),
    ("targets_api", "POST", "/v1/plans/{plan_id}/revise"): Row(
        plan_in("agreed"), STEWARD_OF_LEEDS, ("signatory", LEEDS), STEWARD_ELSEWHERE, 201
    ),
    ("targets_api", "POST", "/v1/progress/refresh"): Row(
        nothing, ("admin",), ("steward", ENGLAND), None, 200
    ),
    ("targets_api", "POST", "/internal/v1/observation-changes"): Row(
        body(
            {
                "submission_id": str(uuid.uuid4()),
                "changes": [{"place_code": LEEDS, "metric_code": FALLS, "periods": ["2025-Q1"]}],
            }
        ),
        ("service",),
        ("steward", ENGLAND),
        None,
        202,
    ),
    # A calculator over the caller's own numbers: any valid key, no area.
    ("targets_api", "POST", "/v1/spc"): Row(
        body({"values": [5, 7, 6, 8, 7, 9, 8, 10], "improvement_direction": "increase"}),
        ("viewer",),
        None,
        None,
        200,
    ),
    ("ingest", "POST", "/v1/submissions"): Row(
        body(json_submission(observation())),
        ("submitter", LEEDS),
        STEWARD_OF_LEEDS,
        ("submitter", CORNWALL),
        201,
    ),
    # DHIS2's import, translated into a submission: the submission's own checks.
    ("ingest", "POST", "/v1/dhis2/dataValueSets"): Row(
        body(
            {
                "orgUnit": LEEDS,
                "dataValues": [
                    {
                        "dataElement": DISCHARGE,
                        "period": "202507",
                        "value": "3",
                        "categoryOptionCombo": part,
                    }
                    for part in ("numerator", "denominator")
                ],
            }
        ),
        ("submitter", LEEDS),
        STEWARD_OF_LEEDS,
        ("submitter", CORNWALL),
        200,
    ),
    # The FHIR routes: the same submission service, so the same keys; refusals are
    # OperationOutcomes rather than problems.
    ("ingest", "POST", "/fhir/MeasureReport"): Row(
        body(measure_report()), ("submitter", LEEDS), STEWARD_OF_LEEDS, ("submitter", CORNWALL), 201
    ),
    ("ingest", "POST", "/fhir"): Row(
        body(fhir_bundle(measure_report())),
        ("submitter", LEEDS),
        ("viewer",),
        ("submitter", CORNWALL),
        200,
    ),
}


def write_routes(service: str) -> set[tuple[str, str, str]]:
    app = APPS[service](database_url="postgresql://joinedup@localhost/unused")
    return {
        (service, method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in (getattr(context, "methods", None) or ())
        if method in WRITE_METHODS
    }


def test_every_write_route_has_a_row():
    discovered = set().union(*(write_routes(service) for service in APPS))
    assert len(discovered) >= 15, "route discovery found too few routes; has FastAPI changed?"
    assert discovered - set(MATRIX) == set(), "write routes missing from the matrix"
    assert set(MATRIX) - discovered == set(), "matrix rows for routes that no longer exist"


async def send(
    client: httpx.AsyncClient, route: tuple[str, str, str], call: Call, headers: dict[str, str]
) -> httpx.Response:
    _, method, template = route
    return await client.request(
        method, template.format(**call.path_params), json=call.json, headers=headers
    )


def refused(response: httpx.Response, status: int, query, audited: int) -> None:
    if response.request.url.path.startswith("/fhir"):
        assert response.status_code == status, response.text
        OperationOutcome.model_validate(response.json())
    else:
        assert_problem(response, status)
    assert audit_count(query) == audited, "a refused write was audited, so it changed something"


@pytest.mark.parametrize("route", MATRIX, ids=lambda r: f"{r[0]} {r[1]} {r[2]}")
async def test_write_route_authorisation(open_service, make_key, query, route):
    row = MATRIX[route]
    async with open_service(route[0]) as client:
        admin = bearer(await make_key("admin"))
        plans = None
        if route[0] == "targets_api":
            plans = Plans(
                client,
                bearer(await make_key("steward", WEST_YORKSHIRE)),
                bearer(await make_key("signatory", LEEDS)),
                bearer(await make_key("signatory", WEST_YORKSHIRE)),
            )
        call = await row.prepare(Env(client, admin, plans))
        audited = audit_count(query)

        for headers in ({}, bearer("jdu_000000000000_made-up-secret")):
            response = await send(client, route, call, headers)
            refused(response, 401, query, audited)
            assert response.headers["www-authenticate"] == "Bearer"
        if row.wrong_role is not None:
            refused(
                await send(client, route, call, bearer(await make_key(*row.wrong_role))),
                403,
                query,
                audited,
            )
        if row.out_of_scope is not None:
            refused(
                await send(client, route, call, bearer(await make_key(*row.out_of_scope))),
                403,
                query,
                audited,
            )

        response = await send(client, route, call, bearer(await make_key(*row.right)))
        assert response.status_code == row.success, response.text
