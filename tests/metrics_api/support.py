"""Request bodies and seeded facts shared by the metrics_api tests (the areas are in
tests/support/areas.py)."""

from typing import Any

from services.common.vocabulary import SPEND_METRICS
from tests.support.areas import LEEDS, WEST_YORKSHIRE

ENGLAND_POPULATION = 57_690_323
SEEDED_METRIC = "bcf-falls-65plus"
SEEDED_METRIC_CODES = [
    "bcf-avoidable-admissions",
    "bcf-discharge-usual-residence",
    SEEDED_METRIC,
    "bcf-reablement-91-days",
    "bcf-residential-admissions-65plus",
    *sorted(SPEND_METRICS.values()),  # spend by scheme, quarterly
]  # in code order
NEW_PLACE = "E06000999"  # not in the seed data

# Fields a metric response has that a definition sent by PUT does not.
RESPONSE_ONLY_FIELDS = {"version", "version_created_at", "status", "created_at", "retired_at"}


def local_metric(code: str = "leeds-falls-at-home", owner: str = LEEDS, **changes: Any) -> dict:
    return {
        "code": code,
        "scope": "local",
        "owner_area_code": owner,
        "name": "People who fell at home",
        "description": "Falls reported by home carers",
        "domain": "Falls",
        "kind": "count",
        "unit": "people",
        "direction": "lower_is_better",
        "periodicity": "monthly",
        **changes,
    }


def national_metric(code: str = "national-seen-in-time", **changes: Any) -> dict:
    return {
        "code": code,
        "scope": "national",
        "name": "Seen within the standard",
        "domain": "Access",
        "kind": "proportion",
        "multiplier": 100,
        "unit": "%",
        "direction": "higher_is_better",
        "periodicity": "quarterly",
        **changes,
    }


def new_area(
    code: str = NEW_PLACE, parent: str = WEST_YORKSHIRE, level: str = "place", **changes: Any
) -> dict:
    return {
        "code": code,
        "name": "Newtown",
        "level": level,
        "parent_code": parent,
        "population": 1000,
        **changes,
    }


def definition_of(metric: dict, **changes: Any) -> dict:
    """A PUT body that repeats the definition a metric response shows, with some changes."""
    return {k: v for k, v in metric.items() if k not in RESPONSE_ONLY_FIELDS} | changes


def key_id(query, key: str) -> int:
    """The stored id of a key (its public id is the part between the underscores)."""
    return query("SELECT id FROM api_key WHERE public_id = %s", key.split("_")[1])[0][0]


def audit_count(query) -> int:
    return query("SELECT count(*) FROM audit_log")[0][0]
