import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, StrictFloat, StrictInt

from services.common.request_body import RequestBody
from services.common.vocabulary import SubmissionMode

CSV_COLUMNS = ("place_code", "metric_code", "period", "value", "numerator", "denominator", "note")

# Numbers may arrive as JSON numbers or as strings; the row checks decide, so that a bad value
# is reported against its row instead of failing the whole request.
Number = StrictInt | StrictFloat | str | None


class SubmissionStatus(StrEnum):
    accepted = "accepted"
    partially_accepted = "partially_accepted"


class ObservationIn(RequestBody):
    metric_code: str
    period: str
    value: Number = None
    numerator: Number = None
    denominator: Number = None
    # Its length is a row check (note|too_long), as in CSV, so one long note rejects one row.
    note: str | None = Field(default=None, description="At most 1000 characters")


class SubmissionIn(RequestBody):
    place_code: str
    mode: SubmissionMode = SubmissionMode.atomic
    observations: list[ObservationIn]


class RowError(BaseModel):
    row: int = Field(
        description="1-based position of the observation in the submission "
        "(CSV: the data row, header excluded)"
    )
    field: str
    code: str
    msg: str


class SubmissionPublic(BaseModel):
    id: uuid.UUID
    status: SubmissionStatus
    accepted: int = Field(description="Rows stored (new values, corrections and unchanged)")
    rejected: int
    superseded: int = Field(description="Earlier versions superseded by corrections")
    unchanged: int = Field(
        description="Accepted rows equal to the current version, so no new version was made"
    )
    errors: list[RowError]
    error_count: int = Field(
        description="All row errors; `errors` lists at most the first JOINEDUP_MAX_REPORTED_ERRORS"
    )
    mode: SubmissionMode
    format: str
    place_codes: list[str]
    received_at: datetime
    dry_run: bool = False
