import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from services.common.request_body import RequestBody

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ObservationChange(RequestBody):
    place_code: Annotated[str, StringConstraints(min_length=1, max_length=9)]
    metric_code: Code
    periods: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=9)]], Field(min_length=1)
    ]


class ObservationChanges(RequestBody):
    """What ingest tells targets_api after it stored new observation versions."""

    submission_id: uuid.UUID
    changes: Annotated[list[ObservationChange], Field(min_length=1)]


class ChangesRecorded(BaseModel):
    recorded: int = Field(description="(place, metric) pairs queued for a progress refresh")
