"""A plan: its targets and trajectories, every decision on it, and which decisions the signed-in
key may still take (the API's own rules mirrored to decide which buttons to show; the API
decides again when the form is sent, and its refusal is what the page then says)."""

from dataclasses import dataclass
from typing import Any

from services.web.api import Caller, Peer
from services.web.pages import catalogue
from services.web.pages.plan_drafts_service import may_edit
from services.web.pages.resources_service import ResourcesView, resources_view
from services.web.sessions import Identity
from services.web.tables import Row, Table, columns, moment, number

DECIDERS = frozenset({"signatory", "admin"})


@dataclass
class PlanPage:
    plan: dict[str, Any]
    place: dict[str, Any]
    crumbs: catalogue.Crumbs
    required: list[str]  # the organisations whose approval agrees it: the place, its ICB
    decided: dict[str, dict[str, Any]]  # organisation -> its decision in the current round
    may_decide_for: list[str]
    may_edit: bool  # a steward (or admin) for the place: the draft's forms, the revise button
    metrics: list[dict[str, Any]]  # the metrics not retired, for a new target's choice
    targeted: dict[str, str]  # metric code -> name, of the plan's targets
    tables: list[Table]
    resources: ResourcesView  # shown by _plan_resources.html, its tables' CSV beside these
    organisations: dict[str, str]  # code -> name of the place's lineage, the signing bodies


def current_round(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["organisation_code"]: a
        for a in plan["approvals"]
        if a["approval_round"] == plan["approval_round"]
    }


def may_decide_for(identity: Identity, plan: dict[str, Any], required: list[str]) -> list[str]:
    """The organisations this key may still decide for on this plan: a proposed plan, a
    signatory (or admin) key scoped to the organisation itself, not yet decided this round, and
    not a key that already decided for the other party (two bodies, two keys)."""
    if plan["status"] != "proposed" or identity.role not in DECIDERS:
        return []
    decided = current_round(plan)
    if any(a["key_id"] == identity.key_id for a in decided.values()):
        return []
    return [
        org
        for org in required
        if org not in decided and (identity.role == "admin" or org in identity.scopes)
    ]


def _targets(plan: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Table:
    rows = []
    for target in plan["targets"]:
        decimals = metrics.get(target["metric_code"], {}).get("decimals")
        trajectory = "; ".join(
            f"{p['period']}: {number(p['value'], decimals)}" for p in target["trajectory"]
        )
        rows.append(
            Row(
                values={
                    "metric_code": target["metric_code"],
                    "metric_name": metrics.get(target["metric_code"], {}).get(
                        "name", target["metric_code"]
                    ),
                    "baseline_period": target["baseline_period"],
                    "baseline_value": target["baseline_value"],
                    "target_period": target["target_period"],
                    "target_value": target["target_value"],
                    "trajectory": "; ".join(
                        f"{p['period']}: {p['value']}" for p in target["trajectory"]
                    )
                    or None,
                    "tolerance": target["tolerance"],
                },
                shown={
                    "baseline_value": number(target["baseline_value"], decimals),
                    "target_value": number(target["target_value"], decimals),
                    "trajectory": trajectory,
                    "tolerance": number(target["tolerance"], decimals),
                },
                links={"metric_name": f"/metrics/{target['metric_code']}"},
            )
        )
    return Table(
        "targets",
        "Targets and their trajectories",
        columns(
            ("metric_name", "Measure"),
            ("baseline_period", "Baseline period"),
            ("baseline_value", "Baseline", True),
            ("target_period", "Target period"),
            ("target_value", "Target", True),
            ("trajectory", "Trajectory"),
            ("tolerance", "Tolerance", True),
        ),
        rows,
        empty="The plan has no targets yet.",
        key="metric_code",
    )


def decisions(
    approvals: list[dict[str, Any]], names: dict[str, str], *, name: str = "decisions"
) -> Table:
    """Every decision on a plan, in every round: on the plan's page and its place's, each
    organisation by its name in ``names`` (its code in the CSV)."""
    keys = ("approval_round", "organisation_code", "decision", "signatory", "comment", "decided_at")
    return Table(
        name,
        "Every decision on the plan, oldest first",
        columns(
            ("approval_round", "Round", True),
            ("organisation_code", "Organisation"),
            ("decision", "Decision"),
            ("signatory", "Signed by"),
            ("comment", "Comment"),
            ("decided_at", "When"),
        ),
        [
            Row(
                values={key: a[key] for key in keys},
                shown={
                    "organisation_code": names.get(a["organisation_code"], a["organisation_code"]),
                    "decided_at": moment(a["decided_at"]),
                },
            )
            for a in approvals
        ],
        empty="No decision yet.",
    )


async def plan_page(api: Caller, plan_id: int, identity: Identity) -> PlanPage:
    plan = await api.get(Peer.targets_api, f"/v1/plans/{plan_id}")
    place = await catalogue.area(api, plan["place_code"])
    required = [plan["place_code"], *([place["parent_code"]] if place["parent_code"] else [])]
    metrics = await catalogue.metrics_by_code(api)
    chain = await catalogue.lineage(api, place)
    crumbs = catalogue.crumbs_of(chain)
    names = catalogue.organisation_names(chain)
    return PlanPage(
        plan=plan,
        place=place,
        crumbs=[*crumbs[:-1], (place["name"], f"/places/{place['code']}"), (plan["title"], None)],
        required=required,
        decided=current_round(plan),
        may_decide_for=may_decide_for(identity, plan, required),
        may_edit=may_edit(identity, [a["code"] for a in chain]),
        metrics=sorted(
            (m for m in metrics.values() if m["status"] != "retired"),
            key=lambda m: m["name"],
        ),
        targeted={
            t["metric_code"]: metrics.get(t["metric_code"], {}).get("name", t["metric_code"])
            for t in plan["targets"]
        },
        tables=[_targets(plan, metrics), decisions(plan["approvals"], names)],
        resources=await resources_view(plan["resources"]),
        organisations=names,
    )


async def decide(api: Caller, plan_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Send a decision to targets_api, which checks the key's role and scope itself."""
    body = {
        "organisation_code": form.get("organisation_code", ""),
        "decision": form.get("decision", ""),
        "signatory": form.get("signatory", ""),
        "comment": form.get("comment") or None,
    }
    return await api.post(Peer.targets_api, f"/v1/plans/{plan_id}/approvals", body)
