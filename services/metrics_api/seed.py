"""England's areas and the starter national metrics, loaded idempotently from package data.

The files in ``services/data`` are copies of the project's reference data (ONS and DHSC sources,
Open Government Licence v3.0; see services/data/SOURCES.md). Rows that already exist are left as
they are, so re-running never overwrites a definition that has since been versioned.

``national_metrics.csv`` adds columns to the reference copy: ``reporting_from``, the first
period each starter metric expects data for (API.md amendments), and ``aggregation`` and
``valid_min`` where a metric's differ from its kind's defaults. All of them report from the
financial year 2023-24 (April 2023, 2023-Q2 and the calendar year 2023), when the Better Care
Fund's 2023-25 framework set its five outcome metrics. The eight ``bcf-spend-*`` metrics
(services/common/vocabulary.py SPEND_METRICS) are each scheme type's spend to date in the
financial year in GBP, summed up to ICBs, regions and England, and not mandatory: a plan's
planned spend is set against them (services/targets_api/resources), not targets. The demo
(services/demo/generate.py) sends five years back from its last ended period (2021-11, 2021-Q4
and 2021 for a run in December 2026), so with its default of five years it has sent every
period completeness expects until a run in the spring of 2028. The migration
20261201_reporting_from gives metrics seeded before it the same values.
"""

import csv
import io
import json
from importlib import resources
from typing import cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.periods import Periodicity
from services.metrics_api.metrics.schemas import (
    Aggregation,
    Direction,
    Kind,
    MetricCreate,
    MetricScope,
)
from services.metrics_api.metrics.service import resolve_definition

LEVEL_ORDER = {"nation": 0, "region": 1, "icb": 2, "place": 3}

_INSERT_AREAS = text("""
    WITH added AS (
        INSERT INTO area (code, name, level, parent_code, population, population_year)
        SELECT code, name, level, parent_code, population, population_year
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            code text, name text, level text, parent_code text, population int,
            population_year int)
        ON CONFLICT (code) DO NOTHING
        RETURNING *
    )
    INSERT INTO audit_log (service, actor, action, entity_type, entity_id, after)
    SELECT 'cli', 'seed', 'area.create', 'area', code, to_jsonb(added) FROM added
""")

_INSERT_METRICS = text("""
    WITH source AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
            code text, name text, description text, domain text, mandatory boolean, kind text,
            multiplier float8, unit text, direction text, periodicity text, aggregation text,
            valid_min float8, valid_max float8, decimals int, submission_deadline_days int,
            source text, reporting_from text)
    ), added AS (
        INSERT INTO metric (code, scope, owner_area_code)
        SELECT code, 'national', 'E92000001' FROM source
        ON CONFLICT (code) DO NOTHING
        RETURNING code
    ), versions AS (
        INSERT INTO metric_version (metric_code, version, name, description, domain, mandatory,
            kind, multiplier, unit, direction, periodicity, aggregation, valid_min, valid_max,
            decimals, submission_deadline_days, source, reporting_from)
        SELECT s.code, 1, s.name, s.description, s.domain, s.mandatory, s.kind, s.multiplier,
            s.unit, s.direction, s.periodicity, s.aggregation, s.valid_min, s.valid_max,
            s.decimals, s.submission_deadline_days, s.source, s.reporting_from
        FROM source s JOIN added USING (code)
        RETURNING *
    )
    INSERT INTO audit_log (service, actor, action, entity_type, entity_id, after)
    SELECT 'cli', 'seed', 'metric.create', 'metric', metric_code, to_jsonb(versions) FROM versions
""")


def _read_csv(name: str) -> list[dict[str, str]]:
    content = resources.files("services.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(content)))


def area_rows() -> list[dict[str, object]]:
    """Every area with its population; higher levels carry the sum of their places."""
    areas = {row["code"]: row for row in _read_csv("areas.csv")}
    population = {row["code"]: int(row["population"]) for row in _read_csv("population.csv")}
    year = {row["code"]: int(row["year"]) for row in _read_csv("population.csv")}
    totals: dict[str, int] = {}
    for code, people in population.items():
        # A place split across ICBs counts wholly in the ICB it is assigned to (see NOTES.md).
        node: str | None = code
        while node:
            totals[node] = totals.get(node, 0) + people
            node = areas[node]["parent_code"] or None
    census_year = max(year.values())
    return [
        {
            "code": code,
            "name": row["name"],
            "level": row["level"],
            "parent_code": row["parent_code"] or None,
            "population": totals.get(code),
            "population_year": year.get(code, census_year if code in totals else None),
        }
        for code, row in sorted(areas.items(), key=lambda kv: LEVEL_ORDER[kv[1]["level"]])
    ]


def national_metric_rows() -> list[dict[str, object]]:
    rows = []
    for row in _read_csv("national_metrics.csv"):
        body = MetricCreate(
            code=row["code"],
            scope=MetricScope.national,
            name=row["name"],
            description=row["name"],
            domain=row["domain"],
            mandatory=row["mandatory"].strip().lower() == "true",
            kind=Kind(row["kind"]),
            multiplier=float(row["multiplier"]) if row["multiplier"] else None,
            unit=row["unit"],
            direction=Direction(row["direction"]),
            periodicity=Periodicity(row["periodicity"]),
            source=row["source"],
            reporting_from=row["reporting_from"],
            aggregation=Aggregation(row["aggregation"]) if row["aggregation"] else None,
            valid_min=float(row["valid_min"]) if row["valid_min"] else None,
        )
        definition = resolve_definition(body, scope=MetricScope.national)
        rows.append({"code": body.code, **definition.model_dump(mode="json")})
    return rows


async def seed(session: AsyncSession) -> dict[str, int]:
    """Add missing reference rows; returns how many areas and metrics were added."""
    # Both statements are INSERTs, so each result is a CursorResult with a rowcount.
    added_areas = cast(
        CursorResult, await session.execute(_INSERT_AREAS, {"rows": json.dumps(area_rows())})
    )
    added_metrics = cast(
        CursorResult,
        await session.execute(_INSERT_METRICS, {"rows": json.dumps(national_metric_rows())}),
    )
    return {"areas": added_areas.rowcount, "metrics": added_metrics.rowcount}
