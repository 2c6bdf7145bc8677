from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl

from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.common.vocabulary import WebhookEvent
from services.targets_api.leaders.schemas import printable

# http and https only, with a host, at most 2083 characters: pydantic's HttpUrl refuses
# anything else with an error naming the field, which is the 422 problem's.
ReceiverUrl = HttpUrl
Secret = Annotated[
    str, Field(min_length=16, max_length=256, pattern=r"^\S+$"), AfterValidator(printable)
]
DeliveryState = Literal["pending", "delivered", "failed"]


def _each_once(events: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(events)) != len(events):
        raise ValueError("names an event more than once")
    return events


class WebhookCreate(RequestBody):
    """A receiver of an area's events."""

    url: ReceiverUrl = Field(description="Where each event is POSTed (http or https)")
    events: Annotated[
        list[WebhookEvent],
        Field(min_length=1, max_length=len(WebhookEvent)),
        AfterValidator(_each_once),
    ] = Field(description="The events to be told of")
    secret: Secret | None = Field(
        default=None,
        description="The key of each body's HMAC-SHA256 signature (16 to 256 characters); "
        "left out, one is generated and returned in this response only",
    )


class WebhookPublic(BaseModel):
    """A subscription as it is read back: never its secret."""

    id: int
    area_code: str
    url: str
    events: list[WebhookEvent]
    active: bool
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """The subscription just made, with its secret: the only answer that shows it."""

    secret: str


WebhooksPublic = ListPublic[WebhookPublic]


class DeliveryPublic(BaseModel):
    """One event for one subscription and how its delivery has gone."""

    id: int
    event_id: str
    event: WebhookEvent
    state: DeliveryState
    created_at: datetime
    attempts: int
    last_attempt_at: datetime | None
    last_status: int | None = Field(description="The receiver's last HTTP status, if it answered")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When it is tried again, if pending")
    delivered_at: datetime | None
    failed_at: datetime | None = Field(description="When it was given up, if it was")


DeliveriesPublic = ListPublic[DeliveryPublic]


class AttemptPublic(BaseModel):
    """One attempt at a delivery, as the worker recorded it."""

    attempt: int = Field(description="1 for the first attempt, then 2, ...")
    at: datetime
    status: int | None = Field(
        description="The receiver's HTTP status when it refused; null when it took the body "
        "(error null too) or never answered"
    )
    error: str | None
    duration_ms: int = Field(description="How long the attempt took, connecting included")


AttemptsPublic = ListPublic[AttemptPublic]
