"""An evaluation's rules: which metric, event, grouping and window can be asked for, the panel
and each place's event from the database, the groups, and what to refuse or warn about; the
estimation itself is in estimation.py and runs in a worker thread."""

from collections.abc import Sequence
from datetime import date
from typing import Any

import anyio
import numpy as np
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from threadpoolctl import threadpool_limits

from services.common import periods
from services.common.catalogue import Catalogue, MetricDef
from services.common.errors import Unprocessable, field_error
from services.targets_api.evaluation import estimation, store
from services.targets_api.evaluation.schemas import (
    EffectEstimate,
    Evaluation,
    Event,
    GroupBy,
    GroupEvaluation,
    Reading,
)

# The longest window per periodicity: two years of months, two of quarters, four years.
MAX_WINDOW = {"monthly": 12, "quarterly": 8, "annual": 4, "financial_year": 4}


def check(catalogue: Catalogue, *, metric_code: str, event: Event, by: GroupBy) -> MetricDef:
    """The metric, or the problem with the request."""
    metric = catalogue.metric(metric_code)
    if metric is None:
        raise Unprocessable(
            f"No metric {metric_code!r}.",
            errors=[field_error(["query", "metric_code"], "no such metric")],
        )
    if by == "joint_appointment" and event != "leader_confirmed":
        raise Unprocessable(
            "by=joint_appointment describes a leader's appointment: it goes with "
            "event=leader_confirmed only.",
            errors=[field_error(["query", "by"], "needs event=leader_confirmed")],
        )
    return metric


def window_of(metric: MetricDef, window: int | None) -> int:
    """The window asked for, or the periodicity's longest; 422 beyond that."""
    longest = MAX_WINDOW[metric.periodicity]
    if window is None:
        return longest
    if window > longest:
        raise Unprocessable(
            f"window {window} is longer than the {longest} {metric.periodicity} periods an "
            f"evaluation of {metric.code} allows.",
            errors=[field_error(["query", "window"], f"at most {longest}")],
        )
    return window


async def evaluate(
    session: AsyncSession,
    *,
    metric: MetricDef,
    event: Event,
    by: GroupBy,
    window: int,
    today: date,
) -> Evaluation:
    rows = await store.panel(
        session,
        metric_code=metric.code,
        periodicity=metric.periodicity,
        deadline_days=metric.submission_deadline_days,
        today=today,
    )
    places = {r.place_code: r for r in await store.events(session)}
    periodicity = periods.Periodicity(metric.periodicity)
    warnings: list[str] = []
    head: dict[str, Any] = {
        "metric_code": metric.code,
        "metric_version": metric.version,
        "direction": metric.direction,
        "periodicity": metric.periodicity,
        "event": event,
        "by": by,
        "window": window,
        "warnings": warnings,
    }
    if not rows:
        warnings.append(f"{metric.code} has no current observations in a closed period.")
        return Evaluation(
            **head, first_period=None, last_period=None, periods=0, places=0, groups=[]
        )
    codes = sorted({r.place_code for r in rows})
    number = {code: i for i, code in enumerate(codes)}
    position = np.array([r.position for r in rows], dtype=np.int64)
    first, last = int(position.min()), int(position.max())
    cohort = np.array(
        [_cohort(places.get(code), event, periodicity) for code in codes], dtype=np.int64
    )
    panel = estimation.Panel(
        place=np.array([number[r.place_code] for r in rows], dtype=np.int64),
        period=position - first,
        y=np.array([r.value for r in rows], dtype=np.float64),
        cohort=np.where(cohort == estimation.NEVER, cohort, cohort - first),
    )
    versions = sorted({r.metric_version for r in rows})
    if len(versions) > 1:
        warnings.append(
            f"The observations used were made under versions {', '.join(map(str, versions))} "
            f"of {metric.code}: its definition changed inside the data, so a change after the "
            f"event may be the change of definition."
        )
    before = int((panel.cohort <= 0).sum())
    if before:
        warnings.append(
            f"{before} places had the event in or before the first period with data; they "
            f"have no period before it and are left out."
        )
    labels = [_label(places.get(code), by) for code in codes]
    # The groups with a place whose event falls inside the data.
    groups = sorted({g for g, c in zip(labels, cohort, strict=True) if g is not None and c <= last})
    results = await anyio.to_thread.run_sync(_estimate_all, panel, labels, groups, window)
    return Evaluation(
        **head,
        first_period=periods.from_index(periodicity, first).code,
        last_period=periods.from_index(periodicity, last).code,
        periods=last - first + 1,
        places=len(codes),
        groups=[
            _group(name, result, metric.direction)
            for name, result in zip(groups, results, strict=True)
        ],
    )


def _estimate_all(
    panel: estimation.Panel, labels: Sequence[str | None], groups: Sequence[str], window: int
) -> list[estimation.Estimate | estimation.Refusal]:
    """Each group's estimate, with BLAS on one thread (the cores are shared with requests)."""
    label = np.array(labels, dtype=object)
    with threadpool_limits(limits=1):
        return [estimation.estimate(panel, label == group, window) for group in groups]


def _cohort(place: Row[Any] | None, event: Event, periodicity: periods.Periodicity) -> int:
    """The index of the period containing the place's event; NEVER without one."""
    day = (
        None
        if place is None
        else place.leader_on
        if event == "leader_confirmed"
        else place.adopted_on
    )
    if day is None:
        return estimation.NEVER
    return periods.index(periods.containing(periodicity, day))


def _label(place: Row[Any] | None, by: GroupBy) -> str | None:
    """The place's group; None puts its treated periods out of every group."""
    if place is None:
        return None
    if by == "none":
        return "all"
    if by == "governance_model":
        return place.model
    if place.joint_appointment is None:
        return None
    return "joint" if place.joint_appointment else "not_joint"


def _group(
    name: str, result: estimation.Estimate | estimation.Refusal, direction: str
) -> GroupEvaluation:
    if isinstance(result, estimation.Refusal):
        return GroupEvaluation(
            group=name,
            estimable=False,
            refused=result.reason,
            treated_places=None,
            control_places=None,
            observations=None,
            treated_observations=None,
            df=None,
            average=None,
            reading=None,
            effects=[],
            pre_periods=[],
            pretrend_p_value=None,
            warnings=[],
        )
    warnings = []
    if min(result.treated_places, result.control_places) < estimation.WARN_PLACES:
        warnings.append(
            f"Only {result.treated_places} treated and {result.control_places} control places: "
            f"the interval is wide and rests on few places."
        )
    if not result.leads:
        warnings.append("No pre-periods to test parallel trends with.")
    elif result.pretrend_p_value is not None and result.pretrend_p_value < 0.05:
        warnings.append(
            f"The pre-period estimates differ from zero (joint p = "
            f"{result.pretrend_p_value:.3f}): the places were already diverging before the "
            f"event, so the effect is not a clean comparison."
        )
    return GroupEvaluation(
        group=name,
        estimable=True,
        refused=None,
        treated_places=result.treated_places,
        control_places=result.control_places,
        observations=result.observations,
        treated_observations=result.treated_observations,
        df=result.df,
        average=_effect(result.average),
        reading=reading(result.average, direction),
        effects=[_effect(e) for e in result.effects],
        pre_periods=[_effect(e) for e in result.leads],
        pretrend_p_value=result.pretrend_p_value,
        warnings=warnings,
    )


def _effect(c: estimation.Coefficient) -> EffectEstimate:
    return EffectEstimate(
        k=c.k,
        estimate=c.estimate,
        se=c.se,
        ci_lower=c.ci_lower,
        ci_upper=c.ci_upper,
        observations=c.observations,
        places=c.places,
    )


def reading(average: estimation.Coefficient, direction: str) -> Reading:
    """Improved or worsened only when the interval excludes 0."""
    if average.ci_lower <= 0 <= average.ci_upper:
        return "no detectable change"
    up = average.ci_lower > 0
    if direction == "neutral":
        return "increased" if up else "decreased"
    return "improved" if up == (direction == "higher_is_better") else "worsened"
