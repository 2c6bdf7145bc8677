from typing import Literal

from pydantic import BaseModel

from services.targets_api.progress.schemas import Comparison, Status, StatusCounts

TableLevel = Literal["place", "icb"]
SystemLevel = Literal["icb", "region", "nation"]


class LeagueRow(BaseModel):
    area_code: str
    area_name: str | None  # None only for an area the catalogue no longer has
    value: float | None
    ci_lower: float | None  # the 95 % interval, where the kind has one
    ci_upper: float | None
    comparison: Comparison
    rank: int | None
    rank_of: int | None
    quintile: int | None  # 1 is the best fifth
    places_reported: int


class LeagueTable(BaseModel):
    metric_code: str
    level: TableLevel
    period: str | None  # None when the metric has no values at this level
    national_value: float | None
    rows: list[LeagueRow]


class PlacePerformance(BaseModel):
    place_code: str
    place_name: str
    value: float | None  # at the metric's `period`
    status: Status | None  # of the agreed plan's target; None without a target
    comparison: Comparison | None  # None when the place has no value at `period`
    rank: int | None
    rank_of: int | None


class MetricPerformance(BaseModel):
    metric_code: str
    period: str | None  # the latest period every member place reported
    value: float | None  # the area's rolled-up value at `period`
    latest_period_any: str | None  # the latest period any member place reported
    status_counts: StatusCounts
    places: list[PlacePerformance]


class AreaPerformance(BaseModel):
    area_code: str
    area_name: str
    level: SystemLevel
    member_places: int
    # (on_track + achieved) / the targets with one of the four assessed statuses.
    on_track_share: float | None
    refresh_pending: bool  # an agreed target has no progress yet, or changes are queued
    metrics: list[MetricPerformance]


LEAGUE_CSV_FIELDS = ["metric_code", "level", "period", *LeagueRow.model_fields]
PERFORMANCE_CSV_FIELDS = ["area_code", "metric_code", "period", "area_value",
                          *PlacePerformance.model_fields]
