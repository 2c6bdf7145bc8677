"""Whether a target is one this plan can hold, judged against the metric's current definition
(read from metrics_api) and the plan's period. Every problem is reported, each with its field."""

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

from services.common.catalogue import Catalogue, MetricDef
from services.common.errors import Unprocessable, field_error
from services.common.models import Plan
from services.common.periods import Period, PeriodError, Periodicity, index, parse_as
from services.targets_api.plans.schemas import TargetUpdate

Loc = tuple[str | int, ...]
# The metric is named by the URL, so its problems point there, as FastAPI's own errors do.
METRIC_LOC: Loc = ("path", "metric_code")


def summary(errors: Sequence[dict[str, Any]]) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])


def usable_metric(catalogue: Catalogue, *, metric_code: str, place_code: str) -> MetricDef:
    """The metric, if a target for this place may use it: it exists, is active, and is national
    or local to the place or the place's ICB."""
    metric = catalogue.metric(metric_code)
    if metric is None:
        raise _unusable(metric_code, f"there is no metric {metric_code}")
    if metric.status != "active":
        raise _unusable(
            metric_code, f"metric {metric_code} is {metric.status} and takes no new targets"
        )
    place = catalogue.area(place_code)
    icb_code = place.parent_code if place else None
    if metric.scope == "local" and metric.owner_area_code not in (place_code, icb_code):
        raise _unusable(
            metric_code,
            f"metric {metric_code} is local to "
            f"{metric.owner_area_code}, not to place {place_code} or "
            f"its ICB {icb_code}",
        )
    return metric


def _unusable(metric_code: str, problem: str) -> Unprocessable:
    return Unprocessable(
        f"No target can be set for {metric_code}: {problem}.",
        errors=[field_error(METRIC_LOC, problem)],
    )


def check_target(body: TargetUpdate, *, metric: MetricDef, plan: Plan) -> None:
    """422 unless the periods are in the metric's form and in order with the target inside the
    plan, and every value lies in the metric's valid range."""
    errors = [*_period_errors(body, metric, plan), *_value_errors(body, metric)]
    if errors:
        raise Unprocessable(
            f"The target for {metric.code} is not valid: {summary(errors)}", errors=errors
        )


def _periods(body: TargetUpdate) -> Iterator[tuple[Loc, str]]:
    """Every period of the target, in the order they must come in."""
    yield ("baseline_period",), body.baseline_period
    for i, point in enumerate(body.trajectory):
        yield ("trajectory", i, "period"), point.period
    yield ("target_period",), body.target_period


def _values(body: TargetUpdate) -> Iterator[tuple[Loc, float]]:
    yield ("baseline_value",), body.baseline_value
    for i, point in enumerate(body.trajectory):
        yield ("trajectory", i, "value"), point.value
    yield ("target_value",), body.target_value


def _period_errors(body: TargetUpdate, metric: MetricDef, plan: Plan) -> list[dict[str, Any]]:
    errors = []
    parsed: list[tuple[Loc, Period]] = []
    periodicity = Periodicity(metric.periodicity)
    for loc, code in _periods(body):
        try:
            parsed.append((loc, parse_as(code, periodicity)))
        except PeriodError as exc:
            errors.append(field_error(loc, str(exc)))
    # Only periods that parsed can be put in order; the others already have their error.
    for (_, earlier), (loc, period) in pairwise(parsed):
        if index(period) <= index(earlier):
            errors.append(
                field_error(
                    loc,
                    f"{period} must come after {earlier}: baseline, "
                    f"trajectory and target are in strict time order",
                )
            )
    target = next((period for loc, period in parsed if loc == ("target_period",)), None)
    if target and not plan.starts_on <= target.start <= target.end <= plan.ends_on:
        errors.append(
            field_error(
                ("target_period",),
                (
                    f"{target} runs {target.start} to {target.end}, which is not within the plan "
                    f"period {plan.starts_on} to {plan.ends_on}"
                ),
            )
        )
    return errors


def _value_errors(body: TargetUpdate, metric: MetricDef) -> list[dict[str, Any]]:
    errors = []
    for loc, value in _values(body):
        if metric.valid_min is not None and value < metric.valid_min:
            errors.append(
                field_error(
                    loc, f"{value:g} is below {metric.code}'s valid minimum {metric.valid_min:g}"
                )
            )
        elif metric.valid_max is not None and value > metric.valid_max:
            errors.append(
                field_error(
                    loc, f"{value:g} is above {metric.code}'s valid maximum {metric.valid_max:g}"
                )
            )
    return errors
