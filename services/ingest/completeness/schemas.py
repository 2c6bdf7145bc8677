from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

CSV_FIELDS = (
    "place_code",
    "metric_code",
    "period",
    "expected",
    "received",
    "on_time",
    "late",
    "status",
    "first_received_at",
    "deadline",
)


class CompletenessStatus(StrEnum):
    on_time = "on_time"
    late = "late"
    missing = "missing"  # the deadline has passed with nothing received
    pending = "pending"  # nothing yet, but the deadline has not passed


class CompletenessRow(BaseModel):
    place_code: str
    metric_code: str
    period: str
    expected: int = Field(description="1: the metric applies to the place for this period")
    received: int
    on_time: int
    late: int = Field(
        description="First received more than submission_deadline_days after the period ended"
    )
    status: CompletenessStatus
    first_received_at: datetime | None
    deadline: date = Field(description="Last day on which a first submission is on time")


class CompletenessSummary(BaseModel):
    expected: int
    received: int
    on_time: int
    late: int
    missing: int
    pending: int


class CompletenessPublic(BaseModel):
    period: str
    area: str
    summary: CompletenessSummary
    data: list[CompletenessRow]
    count: int


RANGE_CSV_FIELDS = (
    "place_code",
    "metric_code",
    "periodicity",
    "first_period",
    "last_period",
    "expected",
    "received",
    "on_time",
    "late",
    "missing",
    "pending",
    "missing_periods",
    "pending_periods",
)


class CompletenessRangeRow(BaseModel):
    """One place and metric over a range: the counts of its periods due in the window."""

    place_code: str
    metric_code: str
    periodicity: str
    first_period: str = Field(description="The first period of the metric due in the window")
    last_period: str = Field(description="The last period of the metric due in the window")
    expected: int = Field(
        description="Periods due: of the metric's periodicity, wholly within "
        "the window, and not before its reporting_from"
    )
    received: int = Field(description="on_time + late")
    on_time: int
    late: int
    missing: int = Field(description="Nothing received, and the deadline has passed")
    pending: int = Field(description="Nothing received yet, and the deadline has not passed")
    missing_periods: list[str]
    pending_periods: list[str]


class CompletenessPlaceTotals(CompletenessSummary):
    """A place's counts over every metric due to it in the window."""

    place_code: str


class CompletenessRangePublic(BaseModel):
    first: str = Field(serialization_alias="from")
    last: str = Field(serialization_alias="to")
    area: str
    window_start: date = Field(description="The first day of `from`")
    window_end: date = Field(description="The last day of `to`")
    summary: CompletenessSummary
    places: list[CompletenessPlaceTotals] = Field(
        description="Every place in view in the area, with its totals (zero when nothing is due)"
    )
    data: list[CompletenessRangeRow]
    count: int
