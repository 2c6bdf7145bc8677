"""Plans in every state, built through the API, for the plan test modules (which take the
``plans`` fixture from tests/targets_api/conftest.py).

The seeded national metrics are all mandatory, so ``TARGETS`` (a valid target for each of the
five) is what makes a plan submittable. The plan period is two financial years, April 2025 to
March 2027, so that it holds a whole calendar year (2026) for the annual metrics.
"""

from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.problems import assert_problem

PLAN = {"title": "Leeds shared plan 2025-27", "starts_on": "2025-04-01", "ends_on": "2027-03-31"}

AVOIDABLE = "bcf-avoidable-admissions"  # quarterly rate
DISCHARGE = "bcf-discharge-usual-residence"  # monthly proportion, 0-100
FALLS = "bcf-falls-65plus"  # quarterly rate
RESIDENTIAL = "bcf-residential-admissions-65plus"  # annual rate
REABLEMENT = "bcf-reablement-91-days"  # annual proportion, 0-100

TARGETS: dict[str, dict[str, Any]] = {
    AVOIDABLE: {
        "baseline_period": "2024-Q4",
        "baseline_value": 520.0,
        "target_period": "2027-Q1",
        "target_value": 450.0,
        "trajectory": [
            {"period": "2025-Q4", "value": 500.0},
            {"period": "2026-Q2", "value": 480.0},
        ],
        "tolerance": None,
    },
    DISCHARGE: {
        "baseline_period": "2025-03",
        "baseline_value": 88.5,
        "target_period": "2027-03",
        "target_value": 92.0,
        "trajectory": [{"period": "2026-03", "value": 90.0}],
        "tolerance": 1.0,
    },
    FALLS: {
        "baseline_period": "2025-Q1",
        "baseline_value": 610.0,
        "target_period": "2026-Q4",
        "target_value": 560.0,
        "trajectory": [],
        "tolerance": 0.0,
    },
    RESIDENTIAL: {
        "baseline_period": "2024",
        "baseline_value": 560.0,
        "target_period": "2026",
        "target_value": 500.0,
        "trajectory": [{"period": "2025", "value": 530.0}],
        "tolerance": 10.0,
    },
    REABLEMENT: {
        "baseline_period": "2024",
        "baseline_value": 80.0,
        "target_period": "2026",
        "target_value": 85.0,
        "trajectory": [],
        "tolerance": None,
    },
}

STATES = ("draft", "proposed", "agreed", "superseded")


def target(metric_code: str = AVOIDABLE, **changes: Any) -> dict[str, Any]:
    """A valid PUT body for one of the national metrics, with some fields changed."""
    return deepcopy(TARGETS[metric_code]) | changes


def assert_illegal(response: httpx.Response, status: str) -> dict:
    """A 409 that names the plan's current state in its detail and as ``current_status``."""
    problem = assert_problem(response, 409)
    assert problem["current_status"] == status
    assert status in problem["detail"]
    return problem


@dataclass
class Plans:
    """Drives plans through the API: a steward for West Yorkshire (so Leeds and Bradford) makes
    and submits them; Leeds's and the ICB's signatories decide them."""

    client: httpx.AsyncClient
    steward: dict[str, str]
    place_signatory: dict[str, str]
    icb_signatory: dict[str, str]

    async def get(self, plan_id: int) -> dict:
        response = await self.client.get(f"/v1/plans/{plan_id}", headers=self.steward)
        assert response.status_code == 200, response.text
        return response.json()

    async def create(self, place: str = LEEDS, **changes: Any) -> dict:
        response = await self.client.post(
            f"/v1/places/{place}/plans", json=PLAN | changes, headers=self.steward
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def put_target(
        self,
        plan_id: int,
        metric_code: str,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.put(
            f"/v1/plans/{plan_id}/targets/{metric_code}",
            json=target(metric_code) if body is None else body,
            headers=headers or self.steward,
        )

    async def delete_target(
        self, plan_id: int, metric_code: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.delete(
            f"/v1/plans/{plan_id}/targets/{metric_code}", headers=headers or self.steward
        )

    async def fill(self, plan_id: int) -> None:
        """A valid target for every mandatory national metric."""
        for code in TARGETS:
            response = await self.put_target(plan_id, code)
            assert response.status_code == 200, response.text

    async def submit(self, plan_id: int) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/submit", headers=self.steward)

    async def revise(self, plan_id: int) -> httpx.Response:
        return await self.client.post(f"/v1/plans/{plan_id}/revise", headers=self.steward)

    async def decide(
        self,
        plan_id: int,
        organisation: str,
        decision: str = "approve",
        *,
        comment: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A decision for the place or the ICB, by its own signatory unless ``headers``."""
        if headers is None:
            headers = self.place_signatory if organisation == LEEDS else self.icb_signatory
        body = {
            "organisation_code": organisation,
            "decision": decision,
            "signatory": "A. Signatory",
            "comment": comment,
        }
        return await self.client.post(f"/v1/plans/{plan_id}/approvals", json=body, headers=headers)

    async def draft(self, place: str = LEEDS) -> dict:
        plan = await self.create(place)
        await self.fill(plan["id"])
        return await self.get(plan["id"])

    async def propose(self, plan_id: int) -> dict:
        response = await self.submit(plan_id)
        assert response.status_code == 200, response.text
        return response.json()

    async def agree(self, plan_id: int) -> dict:
        for organisation in (LEEDS, WEST_YORKSHIRE):
            response = await self.decide(plan_id, organisation)
            assert response.status_code == 201, response.text
        assert response.json()["status"] == "agreed"
        return response.json()

    async def open_revision(self, plan_id: int) -> dict:
        response = await self.revise(plan_id)
        assert response.status_code == 201, response.text
        return response.json()

    async def in_state(self, status: str) -> dict:
        """A Leeds plan with all five targets in ``status``; a superseded one has been replaced
        by an agreed revision of itself."""
        plan = await self.draft()
        if status == "draft":
            return plan
        await self.propose(plan["id"])
        if status == "proposed":
            return await self.get(plan["id"])
        await self.agree(plan["id"])
        if status == "superseded":
            revision = await self.open_revision(plan["id"])
            await self.propose(revision["id"])
            await self.agree(revision["id"])
        found = await self.get(plan["id"])
        assert found["status"] == status
        return found
