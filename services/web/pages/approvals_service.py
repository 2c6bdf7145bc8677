"""A signatory's work list: the proposed plans that wait for a decision of an organisation the
key speaks for (a place's plan needs its local authority, the place itself, and its ICB).

One call per area the key speaks for (England for an admin key) to targets_api's
GET /v1/areas/{code}/plans?status=proposed, then each plan with its approvals."""

from dataclasses import dataclass
from typing import Any

from services.common.auth import ENGLAND
from services.web.api import Caller, Peer, bounded
from services.web.pages import catalogue
from services.web.pages.plans_service import may_decide_for
from services.web.sessions import Identity
from services.web.tables import Row, Table, columns, moment


@dataclass
class Waiting:
    crumbs: catalogue.Crumbs
    speaks_for: list[str]
    tables: list[Table]


def places_to_ask(identity: Identity, places: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An admin key decides for anyone; a signatory for the places and ICBs it is scoped to."""
    if identity.role == "admin":
        return places
    scopes = set(identity.scopes)
    return [p for p in places if p["code"] in scopes or p["parent_code"] in scopes]


async def waiting(api: Caller, identity: Identity) -> Waiting:
    places = await api.get_all(Peer.metrics_api, "/v1/areas", level="place")
    crumbs = await catalogue.england_crumb(api)
    # The areas the key speaks for (an admin: all of England); the API lists their places' plans.
    areas = [ENGLAND] if identity.role == "admin" else identity.scopes
    proposed = await bounded(
        api.get_all(Peer.targets_api, f"/v1/areas/{code}/plans", status="proposed")
        for code in areas
    )
    plans = await bounded(
        api.get(Peer.targets_api, f"/v1/plans/{plan_id}")
        for plan_id in sorted({s["id"] for found in proposed for s in found}, reverse=True)
    )
    names = await catalogue.body_names(api, places)
    parents = {p["code"]: p["parent_code"] for p in places}
    rows = []
    for plan in plans:
        required = [plan["place_code"], parents[plan["place_code"]]]
        for organisation in may_decide_for(identity, plan, required):
            rows.append(
                Row(
                    values={
                        "plan_id": plan["id"],
                        "place_code": plan["place_code"],
                        "place_name": names.get(plan["place_code"]),
                        "title": plan["title"],
                        "revision": plan["revision"],
                        "submitted_at": plan["submitted_at"],
                        "organisation_code": organisation,
                    },
                    shown={
                        "organisation_code": names.get(organisation, organisation),
                        "submitted_at": moment(plan["submitted_at"]),
                    },
                    links={
                        "title": f"/plans/{plan['id']}",
                        "place_name": f"/places/{plan['place_code']}",
                    },
                )
            )
    return Waiting(
        crumbs=[*crumbs, ("Plans waiting for a decision", None)],
        speaks_for=[s for s in identity.scopes if s in names or s in parents.values()],
        tables=[
            Table(
                "waiting",
                "Proposed plans waiting for your organisation's decision",
                columns(
                    ("place_name", "Place"),
                    ("title", "Plan"),
                    ("revision", "Revision", True),
                    ("submitted_at", "Submitted"),
                    ("organisation_code", "Decide for"),
                ),
                rows,
                empty="No plan is waiting for a decision of yours.",
                key="plan_id",
            )
        ],
    )
