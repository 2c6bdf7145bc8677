from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.common.figures import Derived
from services.common.responses import ListPublic
from services.common.vocabulary import Status
from services.targets_api.progress.trend import Trend
from services.targets_api.spc.schemas import PointType, SpcPointPublic

Comparison = Literal["better", "similar", "worse", "not_compared"]


class ProgressItem(BaseModel):
    """One target of the place's agreed plan, as the last refresh computed it."""

    metric_code: str
    metric_name: str
    unit: str
    decimals: int = Field(description="How many decimals the metric's values are shown with.")
    latest_period: str | None
    provisional: bool | None = Field(
        description="latest_period is still open (its submission "
        "deadline has not passed); null without one"
    )
    latest_value: float | None
    baseline_period: str
    baseline_value: float
    target_value: float
    target_period: str
    expected_value: float | None
    progress_pct: float | None
    status: Status
    consecutive_off_track: int = Field(
        description="How many of the latest reported periods in a row were off track"
    )
    variation: str | None
    assurance: str | None
    forecast_value: float | None
    trend: Trend | None = Field(
        description="OHID Fingertips' recent-trend marker over the five most recent periods "
        "(proportions and rates; null for other kinds)"
    )
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
    provisional: bool = Field(
        description="The period is still open: its submission deadline has not passed"
    )
    # Null only when the series cannot be charted at all (see ProgressSeries.warnings): the
    # parent's required fields are widened, which pydantic allows and mypy calls an override.
    mean: Derived | None  # type: ignore[assignment]  # widened on purpose: see above
    point_type: PointType | None  # type: ignore[assignment]  # widened on purpose: see above


class ProgressSeries(BaseModel):
    place_code: str
    metric_code: str
    improvement_direction: Literal["increase", "decrease", "neutral"]
    points: list[SeriesPoint]
    variation: str | None
    assurance: str | None
    target: SeriesTarget | None
    warnings: list[str] = Field(
        default=[],
        description="Cautions about the chart, such as why it could not be drawn "
        "(the points then have values and no SPC fields).",
    )


class RefreshResult(BaseModel):
    pairs: int
    area_values: int
    targets: int
    set_aside: int = Field(
        description="(metric, period) pairs and targets whose computation "
        "failed on their data: see GET /v1/progress/set-aside"
    )
    seconds: float


class SetAsidePublic(BaseModel):
    """An item the refresh could not compute from its data; its previous figures stay, and it is
    tried again when its data (or, for a target, its plan) changes."""

    kind: Literal["area_value", "target"]
    metric_code: str
    period: str | None = Field(description="The period of an area value; null for a target.")
    plan_id: int | None = Field(description="The plan of a target; null for an area value.")
    place_code: str | None = Field(description="The place of a target; null for an area value.")
    reason: str
    failures: int = Field(description="Refreshes in a row that failed on it.")
    first_failed_at: datetime
    last_failed_at: datetime


class SetAsidesPublic(ListPublic[SetAsidePublic]):
    pass


ITEM_CSV_FIELDS = list(ProgressItem.model_fields)
POINT_CSV_FIELDS = ["period", "provisional", *(f for f in SpcPointPublic.model_fields)]
