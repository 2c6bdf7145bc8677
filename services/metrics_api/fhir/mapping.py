"""A metric's definition as a FHIR Measure (docs/api.md, "FHIR"): no I/O.

The scoring says what kind of figure the metric is, the improvement notation which way is
better, the populations what a submission's counts are, and the canonical URL with its version
names this exact definition for good (a MeasureReport's `measure`).
"""

from typing import Any

from fhir.resources.R4B.measure import Measure

from services.common import fhir, periods
from services.metrics_api.metrics.schemas import MetricVersionPublic

SCORING_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-type"
# Keyed by the vocabulary's Kind and Direction (services/common/vocabulary.py).
# A proportion is a part of its whole; a rate is events over a population, scaled, which FHIR
# calls a ratio (the numerator need not be part of the denominator); a count or a value is a
# figure of its own, aggregated over the place: a continuous variable.
SCORING: dict[str, str] = {
    "proportion": "proportion",
    "rate": "ratio",
    "count": "continuous-variable",
    "value": "continuous-variable",
}
# Neutral metrics have no better direction, so no improvement notation.
IMPROVEMENT: dict[str, str | None] = {
    "higher_is_better": "increase",
    "lower_is_better": "decrease",
    "neutral": None,
}
_RATIO_KINDS = ("proportion", "rate")


def _coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _text(value: str) -> str | None:
    return fhir.fhir_text(value) if value.strip() else None  # FHIR has no empty strings


def measure(metric: MetricVersionPublic, *, status: str) -> Measure:
    """One version of a metric as a Measure; ``status`` the metric's (active or retired)."""
    populations = [
        {
            "code": _coded(POPULATION_SYSTEM, code),
            "description": description,
            # Measured by the place system, not computed here: the criterion names the field
            # of a submission (or the MeasureReport element) that carries it.
            "criteria": {"language": "text/plain", "expression": field},
        }
        for code, field, description in (
            (
                ("numerator", "numerator", "the events or people counted"),
                ("denominator", "denominator", "the population they are counted in"),
            )
            if str(metric.kind) in _RATIO_KINDS
            else (("measure-population", "value", "the place's figure (measureScore)"),)
        )
    ]
    scale = f"x {metric.multiplier:g}, " if metric.multiplier else ""
    improvement = IMPROVEMENT[str(metric.direction)]
    first = periods.parse(metric.reporting_from)
    body: dict[str, Any] = {
        "id": metric.code,
        "url": fhir.measure_url(metric.code),
        "identifier": [{"system": f"{fhir.CANONICAL_BASE}/Id/metric-code", "value": metric.code}],
        "version": str(metric.version),
        "name": metric.code,
        "title": _text(metric.name),
        "status": "retired" if status == "retired" else "active",
        "date": metric.version_created_at,
        "publisher": _text(metric.source),
        "description": _text(metric.description),
        "topic": [{"text": _text(metric.domain)}] if _text(metric.domain) else None,
        "effectivePeriod": {"start": first.start},
        "scoring": _coded(SCORING_SYSTEM, SCORING[str(metric.kind)]),
        "type": [_coded(TYPE_SYSTEM, "outcome")],
        "improvementNotation": _coded(IMPROVEMENT_SYSTEM, improvement) if improvement else None,
        "group": [
            {
                "description": _text(
                    f"{scale}{metric.unit or 'no unit'}; {metric.periodicity.replace('_', ' ')}"
                    f", {metric.decimals} decimals"
                ),
                "population": populations,
            }
        ],
    }
    return Measure.model_validate({k: v for k, v in body.items() if v is not None})
