"""The overview of England, a region or an ICB: each measure rolled up at its latest closed
period with coverage and the places' statuses (targets_api's performance), and a matrix of the
member places by measure with their Making Data Count icons, from the same one answer."""

from dataclasses import dataclass
from typing import Any

from services.web.api import Caller, Peer
from services.web.pages import catalogue, icons
from services.web.tables import Row, Table, columns, number, percent, words

STATUSES = ("on_track", "achieved", "at_risk", "off_track", "no_data", "not_assessed")


@dataclass
class Overview:
    area: dict[str, Any]
    crumbs: catalogue.Crumbs
    children: list[dict[str, Any]]
    performance: dict[str, Any]
    tables: list[Table]


def _measures(performance: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Table:
    rows = []
    for item in performance["metrics"]:
        metric = metrics.get(item["metric_code"], {})
        decimals = metric.get("decimals")
        counts = item["status_counts"]
        flags = [
            *(["provisional"] if item["provisional"] else []),
            *(["below minimum coverage"] if item["below_min_coverage"] else []),
        ]
        rows.append(
            Row(
                values={
                    "metric_code": item["metric_code"],
                    "metric_name": metric.get("name", item["metric_code"]),
                    "period": item["period"],
                    "value": item["value"],
                    "unit": metric.get("unit"),
                    "places_reported": item["places_reported"],
                    "places_expected": item["places_expected"],
                    "coverage": item["coverage"],
                    "flags": "; ".join(flags) or None,
                    **{status: counts[status] for status in STATUSES},
                },
                shown={
                    "value": number(item["value"], decimals),
                    "coverage": percent(item["coverage"]),
                    "flags": "; ".join(flags),
                },
                links={"metric_name": f"/metrics/{item['metric_code']}"},
            )
        )
    return Table(
        "measures",
        "Each measure rolled up at its latest closed period",
        columns(
            ("metric_name", "Measure"),
            ("period", "Period"),
            ("value", "Value", True),
            ("unit", "Unit"),
            ("places_reported", "Places reported", True),
            ("places_expected", "Places expected", True),
            ("coverage", "Coverage", True),
            ("flags", "Note"),
            *((status, words(status).capitalize(), True) for status in STATUSES),
        ),
        rows,
        empty="No measure applies to this area's places.",
        key="metric_code",
    )


def _matrix(performance: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Table:
    """Member places by measure: each cell the place's value at the roll-up's period and its
    status, variation and assurance, all from the one performance answer (a local measure's
    other places are left blank)."""
    codes = [item["metric_code"] for item in performance["metrics"]]
    places: dict[str, Row] = {}
    for item in performance["metrics"]:
        code = item["metric_code"]
        metric = metrics.get(code, {})
        for place in item["places"]:
            row = places.setdefault(
                place["place_code"],
                Row(
                    values={"place_code": place["place_code"], "place_name": place["place_name"]},
                    links={"place_name": f"/places/{place['place_code']}"},
                ),
            )
            row.values[code] = place["value"]
            row.values[f"{code}:status"] = place["status"]
            row.values[f"{code}:variation"] = place["variation"]
            row.values[f"{code}:assurance"] = place["assurance"]
            row.shown[code] = icons.cell(
                number(place["value"], metric.get("decimals")),
                place["status"],
                place["variation"],
                place["assurance"],
                metric.get("direction", "neutral"),
            )
            row.css[code] = f"status-{place['status'] or 'none'}"
    parts = ("", ":status", ":variation", ":assurance")
    return Table(
        "matrix",
        "Member places by measure: value, status, variation and assurance",
        columns(
            ("place_name", "Place"),
            *((code, metrics.get(code, {}).get("name", code)) for code in codes),
        ),
        sorted(places.values(), key=lambda row: row.values["place_name"]),
        empty="No member place has a measure.",
        key="place_code",
        csv_columns=columns(
            ("place_code", "Place code"),
            ("place_name", "Place"),
            *((code + part, code + part) for code in codes for part in parts),
        ),
    )


async def overview(api: Caller, area: dict[str, Any]) -> Overview:
    performance = await api.get(Peer.targets_api, f"/v1/areas/{area['code']}/performance")
    metrics = await catalogue.metrics_by_code(api)
    return Overview(
        area=area,
        crumbs=await catalogue.crumbs(api, area),
        children=await catalogue.children(api, area),
        performance=performance,
        tables=[_measures(performance, metrics), _matrix(performance, metrics)],
    )
