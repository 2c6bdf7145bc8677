from typing import Literal

from pydantic import BaseModel, Field

from services.common.figures import Derived
from services.common.responses import ListPublic
from services.common.vocabulary import Status
from services.targets_api.progress.schemas import Comparison, StatusCounts
from services.targets_api.progress.trend import Trend

TableLevel = Literal["place", "icb"]
SystemLevel = Literal["icb", "region", "nation"]


class LeagueRow(BaseModel):
    area_code: str
    area_name: str | None  # None only for an area the catalogue no longer has
    value: float | None
    ci_lower: float | None  # the 95 % interval, where the kind has one
    ci_upper: float | None
    comparison: Comparison
    rank: int | None = Field(
        description="1 is best; null for an incomplete roll-up, which is shown but not ranked"
    )
    rank_of: int | None
    quintile: int | None  # 1 is the best fifth
    places_reported: int
    places_expected: int = Field(description="The member places the metric applies to")
    coverage: Derived = Field(description="places_reported / places_expected")
    complete: bool = Field(description="Every place the metric applies to reported")
    trend: Trend | None = Field(
        description="OHID Fingertips' recent-trend marker over the five "
        "periods up to this one (proportions and rates)"
    )
    # The sums behind the value, for the Fingertips-shaped CSV's Count and Denominator only:
    # kept out of the JSON and the native CSV, whose fields are the contract's.
    numerator: float | None = Field(default=None, exclude=True)
    denominator: float | None = Field(default=None, exclude=True)


class LeagueTable(ListPublic[LeagueRow]):
    metric_code: str
    level: TableLevel
    period: str | None  # None when the metric has no values at this level
    provisional: bool | None = Field(
        description="The period is still open (its deadline has not passed); null without a period"
    )
    national_value: float | None
    national_coverage: Derived | None


class PlacePerformance(BaseModel):
    place_code: str
    place_name: str
    value: float | None  # at the metric's `period`; None when the place did not report it
    status: Status | None  # of the agreed plan's target; None without a target
    comparison: Comparison | None  # None when the place has no value at `period`
    rank: int | None
    rank_of: int | None
    variation: str | None = Field(
        default=None,
        description="The target's SPC variation (Making Data Count), as the place's progress "
        "has it; None without a target or before its first refresh",
    )
    assurance: str | None = Field(
        default=None, description="The target's SPC assurance, as the place's progress has it"
    )


class MetricPerformance(BaseModel):
    metric_code: str
    period: str | None = Field(
        description="The latest closed period whose coverage reaches "
        "min_coverage, else the latest closed period with "
        "any data (below_min_coverage), else the latest open "
        "one (provisional)"
    )
    value: float | None  # the area's value at `period`, rolled up from the places that reported
    places_expected: int
    places_reported: int
    coverage: Derived | None  # null without a period
    missing_places: list[str]
    below_min_coverage: bool
    provisional: bool | None
    latest_period: str | None = Field(description="The latest period with any data, open or closed")
    latest_period_any: str | None  # the same as latest_period (its earlier name)
    status_counts: StatusCounts
    places: list[PlacePerformance]


class AreaPerformance(BaseModel):
    area_code: str
    area_name: str
    level: SystemLevel
    member_places: int
    min_coverage: float
    # (on_track + achieved) / the targets with one of the four assessed statuses.
    on_track_share: Derived | None
    refresh_pending: bool  # an agreed target has no progress yet, or changes are queued
    metrics: list[MetricPerformance]


LEAGUE_CSV_FIELDS = [
    "metric_code",
    "level",
    "period",
    "provisional",
    *(name for name, f in LeagueRow.model_fields.items() if not f.exclude),
]
PERFORMANCE_CSV_FIELDS = [
    "area_code",
    "metric_code",
    "period",
    "provisional",
    "area_value",
    "places_expected",
    "places_reported",
    "coverage",
    "below_min_coverage",
    *PlacePerformance.model_fields,
]
