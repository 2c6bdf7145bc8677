"""A place's arrangements, as its page shows them: the leader and who confirmed them, the
nominations waiting for the two bodies (with the answers the signed-in key may still give:
the API's rules mirrored to decide which forms to show; the API decides again when a form is
sent), and its governance model with its members and what is missing. And the governance
roll-up of an ICB, a region or England, for their pages."""

from dataclasses import dataclass
from typing import Any

from services.common.errors import NotFound
from services.web.api import Caller, Peer, bounded
from services.web.pages import catalogue
from services.web.pages.approvals_service import places_to_ask
from services.web.pages.plans_service import DECIDERS
from services.web.sessions import Identity
from services.web.tables import Row, Table, columns, moment, words


@dataclass
class Nomination:
    nomination: dict[str, Any]
    may_answer_for: list[str]


@dataclass
class PlaceArrangements:
    leader: dict[str, Any] | None  # in post today
    next_leader: dict[str, Any] | None  # a handover recorded in advance
    nominations: list[Nomination]  # those still waiting for an answer
    governance: dict[str, Any] | None  # None: nothing recorded


def may_answer_for(identity: Identity, nomination: dict[str, Any]) -> list[str]:
    """The bodies this key may still answer for: an open nomination, a signatory (or admin)
    key scoped to the body itself, not yet answered, and not the key that answered for the
    other body (two bodies, two keys)."""
    if nomination["status"] != "nominated" or identity.role not in DECIDERS:
        return []
    if any(d["key_id"] == identity.key_id for d in nomination["decisions"]):
        return []
    return [
        org for org in nomination["awaiting"] if identity.role == "admin" or org in identity.scopes
    ]


async def place_arrangements(
    api: Caller, profile: dict[str, Any], identity: Identity
) -> PlaceArrangements:
    code = profile["code"]
    waiting = await api.get_all(
        Peer.targets_api, f"/v1/places/{code}/leader-nominations", status="nominated"
    )
    try:
        governance = await api.get(Peer.targets_api, f"/v1/places/{code}/governance")
    except NotFound:
        governance = None
    return PlaceArrangements(
        leader=profile["current_leader"],
        next_leader=profile["next_leader"],
        nominations=[Nomination(n, may_answer_for(identity, n)) for n in waiting],
        governance=governance,
    )


async def answer(api: Caller, nomination_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Send a body's answer to targets_api, which checks the key's role and scope itself."""
    body = {
        "organisation_code": form.get("organisation_code", ""),
        "decision": form.get("decision", ""),
        "signatory": form.get("signatory", ""),
        "comment": form.get("comment") or None,
    }
    return await api.post(
        Peer.targets_api, f"/v1/leader-nominations/{nomination_id}/decisions", body
    )


async def nominations_waiting(api: Caller, identity: Identity) -> Table:
    """The open leader nominations of the places the key's scopes name or contain, one row per
    body the key may still answer for: a signatory's work list, beside the plans."""
    places = await api.get_all(Peer.metrics_api, "/v1/areas", level="place")
    found = await bounded(
        api.get_all(
            Peer.targets_api, f"/v1/places/{p['code']}/leader-nominations", status="nominated"
        )
        for p in places_to_ask(identity, places)
    )
    names = await catalogue.body_names(api, places)
    rows = [
        Row(
            values={
                "nomination_id": n["id"],
                "place_code": n["place_code"],
                "place_name": names.get(n["place_code"]),
                "name": n["name"],
                "appointed_on": n["appointed_on"],
                "created_at": n["created_at"],
                "organisation_code": organisation,
            },
            shown={
                "created_at": moment(n["created_at"]),
                "organisation_code": names.get(organisation, organisation),
            },
            links={"name": f"/nominations/{n['id']}", "place_name": f"/places/{n['place_code']}"},
        )
        for nominations in found
        for n in nominations
        for organisation in may_answer_for(identity, n)
    ]
    return Table(
        "nominations",
        "Leader nominations waiting for your organisation's answer",
        columns(
            ("place_name", "Place"),
            ("name", "Nominee"),
            ("appointed_on", "From"),
            ("created_at", "Nominated"),
            ("organisation_code", "Answer for"),
        ),
        rows,
        empty="No leader nomination is waiting for an answer of yours.",
        key="nomination_id",
    )


async def nomination(api: Caller, nomination_id: int) -> dict[str, Any]:
    return await api.get(Peer.targets_api, f"/v1/leader-nominations/{nomination_id}")


def governance_table(rollup: dict[str, Any]) -> Table:
    """The member places that fall short, and why."""
    keys = ("place_code", "place_name", "model", "adopted_on", "missing_categories", "shortfalls")
    return Table(
        "governance",
        "Places whose governance falls short",
        columns(
            ("place_name", "Place"),
            ("model", "Model"),
            ("adopted_on", "Adopted"),
            ("missing_categories", "Missing members"),
            ("shortfalls", "Falls short"),
        ),
        [
            Row(
                values={
                    **{key: row[key] for key in keys},
                    "missing_categories": ";".join(row["missing_categories"]) or None,
                    "shortfalls": ";".join(row["shortfalls"]),
                },
                shown={
                    "model": words(row["model"]),
                    "missing_categories": ", ".join(map(words, row["missing_categories"])),
                    "shortfalls": ", ".join(map(words, row["shortfalls"])),
                },
                links={"place_name": f"/places/{row['place_code']}"},
            )
            for row in rollup["data"]
            if row["falls_short"]
        ],
        empty="Every place has its governance in place.",
        key="place_code",
    )


async def area_governance(api: Caller, code: str) -> tuple[dict[str, Any], Table]:
    rollup = await api.get(Peer.targets_api, f"/v1/areas/{code}/governance")
    return rollup, governance_table(rollup)
