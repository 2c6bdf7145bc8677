import uuid
from typing import Annotated, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from services.common import periods
from services.common.request_body import RequestBody

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
PeriodCode = Annotated[str, StringConstraints(min_length=1, max_length=9)]


class ObservationChange(RequestBody):
    """One place and metric whose observations changed, between two periods of the metric's
    periodicity (`from` and `to`, inclusive). An ingest from before ranges sent every period
    instead (`periods`); its notices may still be waiting in its outbox, so that form is taken
    too, as the range from its first period to its last."""

    place_code: Annotated[str, StringConstraints(min_length=1, max_length=9)]
    metric_code: Code
    period_from: PeriodCode | None = Field(
        default=None, alias="from", description="The first period that changed."
    )
    period_to: PeriodCode | None = Field(
        default=None, alias="to", description="The last period that changed."
    )
    periods: Annotated[list[PeriodCode], Field(min_length=1)] | None = Field(
        default=None, description="Every period that changed: the form before ranges."
    )

    @model_validator(mode="after")
    def _one_range(self) -> Self:
        if self.periods is not None:
            if self.period_from is not None or self.period_to is not None:
                raise ValueError("give either from and to, or periods, not both")
            named = [_period(code) for code in self.periods]
            if len({period.periodicity for period in named}) > 1:
                raise ValueError("periods must all be of one periodicity")
            first = min(named, key=lambda period: period.start)
            last = max(named, key=lambda period: period.start)
        elif self.period_from is None or self.period_to is None:
            raise ValueError("give from and to (the first and last period that changed)")
        else:
            first, last = _period(self.period_from), _period(self.period_to)
            if first.periodicity != last.periodicity:
                raise ValueError("from and to must be periods of one periodicity")
            if last.start < first.start:
                raise ValueError(f"to ({last.code}) comes before from ({first.code})")
        self.period_from, self.period_to, self.periods = first.code, last.code, None
        return self


def _period(code: str) -> periods.Period:
    try:
        return periods.parse(code)
    except periods.PeriodError as exc:
        raise ValueError(str(exc)) from exc


class ObservationChanges(RequestBody):
    """What ingest tells targets_api after it stored new observation versions."""

    submission_id: uuid.UUID
    changes: Annotated[list[ObservationChange], Field(min_length=1)]


class ChangesRecorded(BaseModel):
    recorded: int = Field(description="(place, metric) pairs queued for a progress refresh")
