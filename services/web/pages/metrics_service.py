"""A measure: its definition and versions, the league table of places or ICBs with each one's
95 % interval charted against England, the quintiles, and England's trend."""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from services.common.periods import parse, shift
from services.web import charts
from services.web.api import Caller, Peer, bounded
from services.web.pages import catalogue
from services.web.tables import Row, Table, columns, number, percent, words

LEVELS = ("place", "icb")
TREND_PERIODS = 8  # England's value over the latest periods of the league table


@dataclass
class MetricPage:
    metric: dict[str, Any]
    level: str
    league: dict[str, Any]
    crumbs: catalogue.Crumbs
    tables: list[Table]
    trend: list[dict[str, Any]] = field(default_factory=list)
    league_svg: Markup | None = None
    trend_svg: Markup | None = None


def _definition(metric: dict[str, Any], versions: list[dict[str, Any]]) -> Table:
    keys = (
        "version",
        "name",
        "kind",
        "unit",
        "multiplier",
        "direction",
        "periodicity",
        "aggregation",
        "decimals",
        "reporting_from",
        "version_created_at",
    )
    return Table(
        "versions",
        "Every version of the definition, newest first",
        columns(
            ("version", "Version", True),
            ("name", "Name"),
            ("kind", "Kind"),
            ("unit", "Unit"),
            ("direction", "Direction"),
            ("periodicity", "Periodicity"),
            ("aggregation", "Aggregation"),
            ("decimals", "Decimals", True),
            ("reporting_from", "Reported from"),
            ("version_created_at", "Created"),
        ),
        [
            Row(
                values={key: v.get(key) for key in keys},
                shown={"direction": words(v.get("direction"))},
            )
            for v in sorted(versions, key=lambda v: -v["version"])
        ],
    )


def _league(league: dict[str, Any], metric: dict[str, Any]) -> Table:
    decimals = metric["decimals"]
    keys = (
        "rank",
        "rank_of",
        "area_code",
        "area_name",
        "value",
        "ci_lower",
        "ci_upper",
        "comparison",
        "quintile",
        "trend",
        "places_reported",
        "places_expected",
        "coverage",
        "complete",
    )
    href = "/places/{}" if league["level"] == "place" else "/areas/{}"
    return Table(
        "league-table",
        f"League table, {league['period']}" + (" (provisional)" if league["provisional"] else ""),
        columns(
            ("rank", "Rank", True),
            ("area_name", "Area"),
            ("value", "Value", True),
            ("ci_lower", "95 % lower", True),
            ("ci_upper", "95 % upper", True),
            ("comparison", "Compared with England"),
            ("quintile", "Quintile", True),
            ("trend", "Recent trend"),
            ("coverage", "Coverage", True),
        ),
        [
            Row(
                values={key: row.get(key) for key in keys},
                shown={
                    **{k: number(row.get(k), decimals) for k in ("value", "ci_lower", "ci_upper")},
                    "comparison": words(row.get("comparison")),
                    "trend": words(row.get("trend")),
                    "coverage": percent(row.get("coverage")),
                },
                links={"area_name": href.format(row["area_code"])},
                css={"comparison": f"comparison-{row.get('comparison')}"},
            )
            for row in league["data"]
        ],
        empty="No area has a value for this measure yet.",
        key="area_code",
        csv_columns=columns(*((key, key) for key in keys)),
    )


def _quintiles(league: dict[str, Any]) -> Table:
    counts = Counter(row["quintile"] for row in league["data"] if row["quintile"] is not None)
    return Table(
        "quintiles",
        "Areas in each quintile (1 is the best fifth)",
        columns(("quintile", "Quintile", True), ("areas", "Areas", True)),
        [Row(values={"quintile": q, "areas": counts[q]}) for q in range(1, 6)],
    )


def _trend(points: list[dict[str, Any]], metric: dict[str, Any]) -> Table:
    return Table(
        "england-trend",
        "England's value in the latest periods",
        columns(("period", "Period"), ("value", "England", True), ("coverage", "Coverage", True)),
        [
            Row(
                values=point,
                shown={
                    "value": number(point["value"], metric["decimals"]),
                    "coverage": percent(point["coverage"]),
                },
            )
            for point in points
        ],
    )


async def _england_trend(api: Caller, code: str, league: dict[str, Any]) -> list[dict[str, Any]]:
    """England's value at each of the latest periods, from the league tables of those periods
    (each carries the national value and its coverage)."""
    if league["period"] is None:
        return []
    latest = parse(league["period"])
    periods = [shift(latest, -back).code for back in range(TREND_PERIODS - 1, 0, -1)]
    earlier = await bounded(
        api.get(Peer.targets_api, f"/v1/metrics/{code}/league-table", level="icb", period=p)
        for p in periods
    )
    return [
        {"period": t["period"], "value": t["national_value"], "coverage": t["national_coverage"]}
        for t in [*earlier, league]
        if t["national_value"] is not None
    ]


async def metric_page(api: Caller, code: str, level: str, *, with_charts: bool) -> MetricPage:
    metric = await api.get(Peer.metrics_api, f"/v1/metrics/{code}")
    versions = await api.get_all(Peer.metrics_api, f"/v1/metrics/{code}/versions")
    league = await api.get(
        Peer.targets_api, f"/v1/metrics/{code}/league-table", level=level, limit=1000
    )
    trend = await _england_trend(api, code, league)
    page = MetricPage(
        metric=metric,
        level=level,
        league=league,
        crumbs=[*await catalogue.england_crumb(api), (metric["name"], None)],
        tables=[
            _league(league, metric),
            _quintiles(league),
            _trend(trend, metric),
            _definition(metric, versions),
        ],
        trend=trend,
    )
    if with_charts:
        title = f"{metric['name']}, {league['period']}"
        # vl-convert's rendering is CPU work: off the event loop (see places_service._chart).
        page.league_svg = Markup(await asyncio.to_thread(charts.league_chart, league, title=title))
        page.trend_svg = Markup(
            await asyncio.to_thread(
                charts.trend_chart, trend, title=f"England: {metric['name']}", unit=metric["unit"]
            )
        )
    return page
