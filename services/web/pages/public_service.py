"""What the public pages show: targets_api's /public/v1/ answers, read with no key, so a page
can show nothing the public API does not publish."""

import asyncio
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from services.common.auth import ENGLAND
from services.web import charts
from services.web.api import Caller, Peer, bounded


@dataclass(frozen=True)
class PublicChart:
    metric_code: str
    title: str
    svg: Markup


@dataclass(frozen=True)
class PublicPlacePage:
    record: dict[str, Any]
    charts: list[PublicChart]
    # Each target's latest closed value, from its published series: progress withholds its
    # latest figures while the latest period is open, but the closed one before it is public.
    latest: dict[str, dict[str, Any]]
    # The place's ICB's and England's roll-ups of the metrics the place has targets for.
    roll_ups: list[dict[str, Any]]


async def place_page(anyone: Caller, code: str) -> PublicPlacePage:
    record = await anyone.get(Peer.targets_api, f"/public/v1/places/{code}")
    targets = record["plan"]["targets"] if record["plan"] else []
    series = await bounded(
        anyone.get(Peer.targets_api, f"/public/v1/places/{code}/values/{t['metric_code']}")
        for t in targets
    )
    areas = [a for a in (record["icb_code"], ENGLAND) if a]
    performances = await bounded(
        anyone.get(Peer.targets_api, f"/public/v1/areas/{a}/performance") for a in areas
    )
    shown = {t["metric_code"] for t in targets}
    roll_ups = [
        {
            "area_code": p["area_code"],
            "area_name": p["area_name"],
            "metric_code": m["metric_code"],
            "metric_name": m["metric_name"],
            "period": m["period"],
            "value": m["value"],
            "coverage": m["coverage"],
        }
        for p in performances
        for m in p["metrics"]
        if m["metric_code"] in shown
    ]
    return PublicPlacePage(
        record=record,
        charts=[await _chart(s) for s in series],
        latest={s["metric_code"]: s["values"][-1] for s in series if s["values"]},
        roll_ups=roll_ups,
    )


async def _chart(series: dict[str, Any]) -> PublicChart:
    # The SVG is charts' own, safe inline (see services/web/charts.py), so it is marked safe
    # for Jinja's autoescape; rendering is CPU work in vl-convert, so off the event loop.
    svg = await asyncio.to_thread(
        charts.trend_chart, series["values"], title=series["metric_name"], unit=series["unit"]
    )
    return PublicChart(series["metric_code"], series["metric_name"], Markup(svg))


async def area_page(anyone: Caller, code: str) -> dict[str, Any]:
    return await anyone.get(Peer.targets_api, f"/public/v1/areas/{code}/performance")


def member_places(performance: dict[str, Any]) -> list[dict[str, Any]]:
    """Every member place any measure has a row for, by name: a region's or England's page
    links to each place's record rather than tabling them all under every measure."""
    found = {p["place_code"]: p for m in performance["metrics"] for p in m["places"]}
    return sorted(found.values(), key=lambda p: p["place_name"])
