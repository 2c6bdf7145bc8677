import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

CSV_FIELDS = (
    "place_code",
    "metric_code",
    "period",
    "value",
    "numerator",
    "denominator",
    "note",
    "version",
    "metric_version",
    "submission_id",
    "recorded_at",
    "superseded_at",
)


class ObservationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    place_code: str
    metric_code: str
    period: str
    value: float
    numerator: float | None
    denominator: float | None
    note: str | None
    version: int
    metric_version: int
    submission_id: uuid.UUID
    recorded_at: datetime
    superseded_at: datetime | None
