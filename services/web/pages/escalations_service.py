"""Escalations as the place, ICB and region pages show them, with the answers the signed-in key
may give: the API's rules mirrored to decide which forms to show (a steward or signatory whose
scope covers the area it is addressed to; a state that allows the answer; England cannot
escalate); the API decides again when a form is sent."""

from dataclasses import dataclass
from typing import Any

from services.web.api import Caller, Peer
from services.web.sessions import Identity

ANSWERERS = frozenset({"admin", "steward", "signatory"})
_ALLOWED: dict[str, tuple[str, ...]] = {
    "open": ("acknowledge", "escalate", "resolve"),
    "acknowledged": ("escalate", "resolve"),
}
ANSWERS = frozenset(a for answers in _ALLOWED.values() for a in answers)


@dataclass
class Escalation:
    escalation: dict[str, Any]
    answers: tuple[str, ...]  # what the signed-in key may do with it


def answers_for(
    identity: Identity, escalation: dict[str, Any], chain: list[str]
) -> tuple[str, ...]:
    """``chain``: the place's lineage, England first, which holds every area an escalation of
    it can be addressed to; the addressee's own lineage is the chain up to it."""
    if identity.role not in ANSWERERS or escalation["addressed_to"] not in chain:
        return ()
    above = chain[: chain.index(escalation["addressed_to"]) + 1]
    if identity.role != "admin" and not set(identity.scopes) & set(above):
        return ()
    answers = _ALLOWED.get(escalation["state"], ())
    return tuple(a for a in answers if a != "escalate" or escalation["level"] != "nation")


async def escalations(
    api: Caller, identity: Identity, *, path: str, chain: list[str]
) -> list[Escalation]:
    """The open and acknowledged escalations at ``path`` (a place's or an area's list, newest
    first); resolved and escalated ones are history, in the API and its CSV."""
    rows = [
        row
        for state in ("open", "acknowledged")
        for row in await api.get_all(Peer.targets_api, path, state=state)
    ]
    rows.sort(key=lambda row: row["id"], reverse=True)
    return [Escalation(row, answers_for(identity, row, chain)) for row in rows]


async def answer(
    api: Caller, escalation_id: int, action: str, form: dict[str, str]
) -> dict[str, Any]:
    """Send the answer to targets_api, which checks the key's role and scope itself."""
    return await api.post(
        Peer.targets_api,
        f"/v1/escalations/{escalation_id}/{action}",
        {"note": form.get("note") or None},
    )
