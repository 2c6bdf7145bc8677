"""A steward's work on a plan: start a draft for a place, set, replace or remove its targets
and their trajectories while it is draft, propose it for approval, and open a revision of an
agreed one, each sent to targets_api's plan endpoints as the signed-in key (the API checks the
role and scope again; its refusal is what the page then says, beside the field it names)."""

from typing import Any

from services.common.errors import Problem
from services.web.api import Caller, Peer
from services.web.sessions import Identity

EDITORS = frozenset({"steward", "admin"})
PLAN_FIELDS = ("title", "starts_on", "ends_on")
TARGET_FIELDS = ("baseline_period", "baseline_value", "target_period", "target_value", "tolerance")


def may_edit(identity: Identity, lineage: list[str]) -> bool:
    """Whether the key is a steward (or admin) for the place: scoped to it or an area above it."""
    if identity.role == "admin":
        return True
    return identity.role in EDITORS and any(code in identity.scopes for code in lineage)


def field_errors(refused: Problem | None) -> dict[str, str]:
    """The API's errors by the form field they are about (``trajectory.2.value`` is the
    trajectory's third point), for the page to show each beside its field; every error is in
    the summary too."""
    found: dict[str, str] = {}
    for error in (refused.errors or []) if refused else []:
        loc = [str(part) for part in error.get("loc", [])]
        loc = loc[1:] if loc[:1] == ["body"] else loc
        if not loc:
            continue
        if loc[0] == "trajectory" and len(loc) > 1 and loc[1].isdigit():
            found.setdefault(loc[0], f"point {int(loc[1]) + 1}: {error['msg']}")
        else:
            found.setdefault(loc[0], error["msg"])
    return found


def trajectory(text: str) -> list[dict[str, str]]:
    """One point a line, ``period: value`` (or ``period value``), passed to the API as written
    so that it is the API that says which point is wrong."""
    points = []
    for line in text.splitlines():
        if line.strip():
            period, _, value = line.replace(":", " ", 1).strip().partition(" ")
            points.append({"period": period, "value": value.strip()})
    return points


def trajectory_text(points: list[dict[str, Any]]) -> str:
    return "\n".join(f"{p['period']}: {p['value']}" for p in points)


async def create(api: Caller, place_code: str, form: dict[str, str]) -> dict[str, Any]:
    body = {name: form.get(name, "") for name in PLAN_FIELDS}
    return await api.post(Peer.targets_api, f"/v1/places/{place_code}/plans", body)


async def put_target(api: Caller, plan_id: int, form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {name: form.get(name, "") for name in TARGET_FIELDS}
    body["tolerance"] = body["tolerance"] or None
    body["trajectory"] = trajectory(form.get("trajectory", ""))
    metric = form.get("metric_code", "")
    return await api.put(Peer.targets_api, f"/v1/plans/{plan_id}/targets/{metric}", body)


async def remove_target(api: Caller, plan_id: int, metric_code: str) -> None:
    await api.delete(Peer.targets_api, f"/v1/plans/{plan_id}/targets/{metric_code}")


async def submit(api: Caller, plan_id: int) -> dict[str, Any]:
    return await api.post(Peer.targets_api, f"/v1/plans/{plan_id}/submit", {})


async def revise(api: Caller, plan_id: int) -> dict[str, Any]:
    return await api.post(Peer.targets_api, f"/v1/plans/{plan_id}/revise", {})
