"""A league table, or a system's area values, in the shape of OHID Fingertips' indicator CSV,
so that analysts' scripts written for Fingertips' downloads read it: Fingertips' column names
and order, its words for the comparison with England and the recent trend. Pure: the answer
and the catalogue in, rows out.

Fingertips' columns that joinedup has no data for (sex and age breakdowns, categories, 99.8 %
limits, percentile and goal comparisons) are there, filled as Fingertips fills them for an
undivided indicator (Sex "Persons", the rest blank or "Not compared"); docs/api.md lists them.
"""

from collections.abc import Iterator
from typing import Any

from services.common import periods
from services.common.auth import ENGLAND
from services.common.catalogue import Catalogue, MetricDef
from services.targets_api.assessments.schemas import AreaPerformance, LeagueTable

COLUMNS = (
    "Indicator ID",
    "Indicator Name",
    "Parent Code",
    "Parent Name",
    "Area Code",
    "Area Name",
    "Area Type",
    "Sex",
    "Age",
    "Category Type",
    "Category",
    "Time period",
    "Value",
    "Lower CI 95.0 limit",
    "Upper CI 95.0 limit",
    "Lower CI 99.8 limit",
    "Upper CI 99.8 limit",
    "Count",
    "Denominator",
    "Value note",
    "Recent Trend",
    "Compared to England value or percentiles",
    "Compared to percentiles",
    "Time period Sortable",
    "New data",
    "Compared to goal",
    "Time period range",
)
_AREA_TYPE = {
    "place": "Place (upper tier local authority)",
    "icb": "ICB",
    "region": "NHS region",
    "nation": "England",
}
_COMPARED = {
    "better": "Better 95%",
    "similar": "Similar",
    "worse": "Worse 95%",
    "not_compared": "Not compared",
}
_RANGE = {"monthly": "1m", "quarterly": "1q", "annual": "1y", "financial_year": "1y"}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def time_period(code: str) -> tuple[str, int]:
    """Fingertips' text for a period ("Jul 2025", "2025 Q2", "2025", "2025/26") and its
    sortable number (yyyymm00 of the first month)."""
    period = periods.parse(code)
    start = period.start
    sortable = start.year * 10000 + start.month * 100
    match period.periodicity:
        case periods.Periodicity.monthly:
            return f"{_MONTHS[start.month - 1]} {start.year}", sortable
        case periods.Periodicity.quarterly:
            return f"{start.year} Q{(start.month - 1) // 3 + 1}", sortable
        case periods.Periodicity.financial_year:
            return f"{start.year}/{(start.year + 1) % 100:02d}", sortable
    return str(start.year), sortable


def recent_trend(trend: str | None, metric: MetricDef) -> str:
    """Fingertips' recent-trend words: with better or worse where the metric has a direction."""
    if trend is None or trend == "cannot_be_calculated":
        return "Cannot be calculated"
    if trend == "no_significant_change":
        return "No significant change"
    if metric.direction == "neutral":
        return trend.capitalize()
    better = (trend == "increasing") == (metric.direction == "higher_is_better")
    return f"{trend.capitalize()} and getting {'better' if better else 'worse'}"


def _common(metric: MetricDef, period: str, provisional: bool | None) -> dict[str, Any]:
    """The columns every row of one indicator at one period shares."""
    text, sortable = time_period(period)
    return {
        "Indicator ID": metric.code,
        "Indicator Name": metric.name,
        "Sex": "Persons",
        "Time period": text,
        "Value note": "Provisional" if provisional else None,
        "Compared to percentiles": "Not compared",
        "Time period Sortable": sortable,
        "Compared to goal": "Not compared",
        "Time period range": _RANGE[metric.periodicity],
    }


def _parent(catalogue: Catalogue, code: str) -> dict[str, str | None]:
    area = catalogue.area(code)
    parent = catalogue.area(area.parent_code) if area and area.parent_code else None
    return {
        "Parent Code": parent.code if parent else None,
        "Parent Name": parent.name if parent else None,
    }


def rows(table: LeagueTable, catalogue: Catalogue) -> Iterator[dict[str, Any]]:
    """England's row, then the table's areas in its order, as Fingertips' columns."""
    metric = catalogue.metric(table.metric_code)
    if metric is None or table.period is None:
        return
    common = _common(metric, table.period, table.provisional)
    yield common | {
        "Area Code": ENGLAND,
        "Area Name": "England",
        "Area Type": _AREA_TYPE["nation"],
        "Value": table.national_value,
        "Compared to England value or percentiles": "Not compared",
    }
    for row in table.data:
        yield (
            common
            | _parent(catalogue, row.area_code)
            | {
                "Area Code": row.area_code,
                "Area Name": row.area_name,
                "Area Type": _AREA_TYPE[table.level],
                "Value": row.value,
                "Lower CI 95.0 limit": row.ci_lower,
                "Upper CI 95.0 limit": row.ci_upper,
                "Count": row.numerator,
                "Denominator": row.denominator,
                "Recent Trend": recent_trend(row.trend, metric),
                "Compared to England value or percentiles": _COMPARED[row.comparison],
            }
        )


def performance_rows(
    performance: AreaPerformance, catalogue: Catalogue
) -> Iterator[dict[str, Any]]:
    """For each metric at its chosen period: the system's own row, then its member places'.
    A system's answer carries no intervals, counts or trends, so those columns are blank."""
    for item in performance.metrics:
        metric = catalogue.metric(item.metric_code)
        if metric is None or item.period is None:
            continue
        common = _common(metric, item.period, item.provisional)
        yield (
            common
            | _parent(catalogue, performance.area_code)
            | {
                "Area Code": performance.area_code,
                "Area Name": performance.area_name,
                "Area Type": _AREA_TYPE[performance.level],
                "Value": item.value,
                "Compared to England value or percentiles": "Not compared",
            }
        )
        for place in item.places:
            compared = _COMPARED[place.comparison] if place.comparison else "Not compared"
            yield (
                common
                | _parent(catalogue, place.place_code)
                | {
                    "Area Code": place.place_code,
                    "Area Name": place.place_name,
                    "Area Type": _AREA_TYPE["place"],
                    "Value": place.value,
                    "Compared to England value or percentiles": compared,
                }
            )
