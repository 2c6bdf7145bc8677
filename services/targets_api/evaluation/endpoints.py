"""The evaluation of the arrangements: a metric's change after an event, per group."""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import Principal
from services.common.catalogue import CatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import csv_representation, etag_of, json_representation, wants_csv
from services.targets_api.evaluation import service
from services.targets_api.evaluation.schemas import (
    EVALUATION_CSV_FIELDS,
    Evaluation,
    Event,
    GroupBy,
)

router = APIRouter(tags=["evaluation"], responses=problem_responses(401, 422, 503))


@router.get(
    "/v1/evaluation",
    response_model=Evaluation,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_evaluation(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    today: TodayDep,
    metric_code: str,
    event: Event,
    by: GroupBy = "none",
    window: Annotated[
        int | None,
        Query(
            ge=1,
            description="Periods after the event to estimate (k = 0..window) and before it to "
            "test; default and most: monthly 12, quarterly 8, annual and financial-year 4",
        ),
    ] = None,
) -> Response:
    """Did the metric change after places' event (their first leader confirmed through a
    nomination, or their current governance adopted), against places that had not (yet) had
    it? A staggered difference-in-differences per group (docs/evaluation.md): the average
    effect over k = 0..window with its 95 % interval, each period's effect, the pre-period
    estimates and their joint test, and the direction-aware reading; groups too small to
    estimate are refused with the reason.

    With `Accept: text/csv`, one row per group and estimate.
    """
    metric = service.check(catalogue, metric_code=metric_code, event=event, by=by)
    answer = await service.evaluate(
        session,
        metric=metric,
        event=event,
        by=by,
        window=service.window_of(metric, window),
        today=today,
    )
    body = answer.model_dump(mode="json")
    as_csv = wants_csv(request)
    representation = (
        csv_representation(
            EVALUATION_CSV_FIELDS,
            _csv_rows(answer),
            filename=f"evaluation-{metric_code}-{event}-{by}.csv",
        )
        if as_csv
        else json_representation(body)
    )
    return representation.response(etag_of({"csv": as_csv, "body": body}))


def _csv_rows(answer: Evaluation) -> Iterator[dict[str, Any]]:
    """Per group: its average (term `average`), each period's effect (`effect`) and each
    pre-period estimate (`pre_period`); a refused group as one row saying why."""
    head = {"metric_code": answer.metric_code, "event": answer.event, "by": answer.by}
    for group in answer.groups:
        row = head | group.model_dump(
            mode="json",
            include={"group", "estimable", "refused", "df", "treated_places", "control_places"},
        )
        row |= {"window": answer.window}
        if not group.estimable:
            yield row
            continue
        row |= {"reading": group.reading, "pretrend_p_value": group.pretrend_p_value}
        terms = [("average", group.average)] if group.average else []
        terms += [("effect", e) for e in group.effects]
        terms += [("pre_period", e) for e in group.pre_periods]
        for term, effect in terms:
            yield row | {"term": term} | effect.model_dump(mode="json")
