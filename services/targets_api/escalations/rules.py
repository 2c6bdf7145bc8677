"""The escalation rules' thresholds and the one piece of date arithmetic they need: which period
of each national metric is overdue today. The rules themselves are set-based SQL (store.py),
evaluated after each progress refresh (service.evaluate_rules)."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common import periods
from services.common.catalogue import Catalogue


class EscalationRules(BaseSettings):
    """N, D and E of issue 19, from ``JOINEDUP_ESCALATION_*``."""

    model_config = SettingsConfigDict(env_prefix="JOINEDUP_ESCALATION_", extra="ignore")

    off_track_periods: int = Field(
        default=3, ge=1, description="Consecutive off-track periods that open an escalation"
    )
    data_missing_days: int = Field(
        default=30,
        ge=0,
        description="Days after a national metric's submission deadline that a place's missing "
        "value opens an escalation",
    )
    acknowledge_days: int = Field(
        default=28,
        ge=1,
        description="Days an ICB has to acknowledge an escalation before it goes to the region",
    )


@cache
def configured() -> EscalationRules:
    """The rules as this process's environment sets them, read once (as every setting)."""
    return EscalationRules()


@dataclass(frozen=True)
class DuePeriods:
    """Per national mandatory metric, the latest period whose value is overdue by more than D
    days today, and the first day it counted as overdue (columns, for ``unnest``)."""

    metric_codes: list[str]
    periods: list[str]
    overdue_since: list[date]


def due_periods(catalogue: Catalogue, *, today: date, grace_days: int) -> DuePeriods:
    """A period P is overdue once ``today > P.end + deadline_days + grace_days``: the latest
    such P is the one containing ``today - deadline - grace - 1``, or the one before it when
    that one has not ended by then. A metric's periods before its ``reporting_from`` are never
    due. One step per metric (a dozen), not per place."""
    codes, due, since = [], [], []
    for metric in sorted(catalogue.metrics.values(), key=lambda m: m.code):
        if metric.scope != "national" or not metric.mandatory or metric.status != "active":
            continue
        last_day = today - timedelta(days=metric.submission_deadline_days + grace_days + 1)
        period = periods.containing(periods.Periodicity(metric.periodicity), last_day)
        if period.end > last_day:
            period = periods.shift(period, -1)
        if metric.reporting_from is not None:
            first = periods.parse(metric.reporting_from)
            if periods.index(period) < periods.index(first):
                continue
        codes.append(metric.code)
        due.append(period.code)
        since.append(period.end + timedelta(days=metric.submission_deadline_days + grace_days + 1))
    return DuePeriods(codes, due, since)


def acknowledge_by(created_on: date, rules: EscalationRules) -> date:
    """The last day an ICB may acknowledge an escalation opened on ``created_on``."""
    return created_on + timedelta(days=rules.acknowledge_days)
