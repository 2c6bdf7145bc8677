"""What every page needs to name things: areas (and their lineage, for the breadcrumbs) and
metric definitions, read from metrics_api as the signed-in key."""

from typing import Any

from services.common.auth import ENGLAND
from services.web.api import Caller, Peer

Crumbs = list[tuple[str, str | None]]


def area_href(area: dict[str, Any]) -> str:
    return f"/places/{area['code']}" if area["level"] == "place" else f"/areas/{area['code']}"


async def area(api: Caller, code: str) -> dict[str, Any]:
    return await api.get(Peer.metrics_api, f"/v1/areas/{code}")


async def lineage(api: Caller, start: dict[str, Any]) -> list[dict[str, Any]]:
    """The area and its ancestors, England first."""
    chain = [start]
    while chain[0].get("parent_code"):
        chain.insert(0, await area(api, chain[0]["parent_code"]))
    return chain


async def crumbs(api: Caller, start: dict[str, Any]) -> Crumbs:
    """Breadcrumbs from England to the area (the area itself not a link)."""
    return crumbs_of(await lineage(api, start))


def crumbs_of(chain: list[dict[str, Any]]) -> Crumbs:
    """Breadcrumbs for a lineage, England first (the last area not a link)."""
    return [(a["name"], area_href(a)) for a in chain[:-1]] + [(chain[-1]["name"], None)]


def organisation_names(areas: list[dict[str, Any]]) -> dict[str, str]:
    """The areas' names by code. The bodies that agree a place's plan and answer its leader's
    nomination are the place itself (its local authority) and its ICB, so a page about a place
    names them from its lineage rather than showing their codes."""
    return {a["code"]: a["name"] for a in areas}


async def body_names(api: Caller, places: list[dict[str, Any]]) -> dict[str, str]:
    """The names of these places and of every ICB by code: the bodies a signatory's work
    lists say a decision or an answer is for."""
    icbs = await api.get_all(Peer.metrics_api, "/v1/areas", level="icb")
    return organisation_names([*places, *icbs])


async def england_crumb(api: Caller) -> Crumbs:
    return [((await area(api, ENGLAND))["name"], f"/areas/{ENGLAND}")]


async def children(api: Caller, parent: dict[str, Any]) -> list[dict[str, Any]]:
    level = {"nation": "region", "region": "icb", "icb": "place"}.get(parent["level"])
    if level is None:
        return []
    return await api.get_all(Peer.metrics_api, "/v1/areas", level=level, parent=parent["code"])


async def metrics_by_code(api: Caller) -> dict[str, dict[str, Any]]:
    return {m["code"]: m for m in await api.get_all(Peer.metrics_api, "/v1/metrics")}
