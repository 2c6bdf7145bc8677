from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

CSV_FIELDS = ("place_code", "metric_code", "period", "expected", "received", "on_time", "late",
              "status", "first_received_at", "deadline")


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
    late: int = Field(description="First received more than submission_deadline_days after "
                                  "the period ended")
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
