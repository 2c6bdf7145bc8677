from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.targets_api.spc.schemas import SpcPointPublic

Status = Literal["achieved", "on_track", "at_risk", "off_track", "no_data", "not_assessed"]
Comparison = Literal["better", "similar", "worse", "not_compared"]


class ProgressItem(BaseModel):
    """One target of the place's agreed plan, as the last refresh computed it."""

    metric_code: str
    latest_period: str | None
    latest_value: float | None
    baseline_period: str
    baseline_value: float
    target_value: float
    target_period: str
    expected_value: float | None
    progress_pct: float | None
    status: Status
    consecutive_off_track: int = Field(
        description="How many of the latest reported periods in a row were off track")
    variation: str | None
    assurance: str | None
    forecast_value: float | None
    national_value: float | None
    comparison: Comparison
    rank: int | None
    rank_of: int | None
    computed_at: datetime


class StatusCounts(BaseModel):
    on_track: int = 0
    at_risk: int = 0
    off_track: int = 0
    achieved: int = 0
    no_data: int = 0
    not_assessed: int = 0


class PlaceProgress(BaseModel):
    place_code: str
    plan_id: int | None
    as_of: datetime | None  # when the oldest item was computed
    refresh_pending: bool  # changes are queued that these figures do not include yet
    summary: StatusCounts
    items: list[ProgressItem]


class SeriesTarget(BaseModel):
    plan_id: int
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float


class SeriesPoint(SpcPointPublic):
    period: str


class ProgressSeries(BaseModel):
    place_code: str
    metric_code: str
    improvement_direction: Literal["increase", "decrease", "neutral"]
    points: list[SeriesPoint]
    variation: str | None
    assurance: str | None
    target: SeriesTarget | None


class RefreshResult(BaseModel):
    pairs: int
    area_values: int
    targets: int
    seconds: float


ITEM_CSV_FIELDS = list(ProgressItem.model_fields)
POINT_CSV_FIELDS = ["period", *(f for f in SpcPointPublic.model_fields)]
