"""Gauges of places' arrangements for Prometheus: per ICB, how many places have no leader
confirmed by both bodies, no adopted governance model, or no member in a minimum category.

Read at each scrape in one query (153 places). A sample for every ICB (and every category),
zeros included, so that a sum over ICBs is England's count and an alert sees a place's
shortfall go as well as come.
"""

from collections import Counter
from collections.abc import Iterable

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.periods import england_today
from services.common.telemetry import GaugeFamily, label_text
from services.common.vocabulary import MINIMUM_MEMBERSHIP
from services.targets_api.governance import store
from services.targets_api.governance.assessment import is_adopted, missing_categories


async def arrangement_metrics(app: FastAPI, session: AsyncSession) -> Iterable[GaugeFamily]:
    today = england_today()
    without_leader: Counter[tuple[str, str]] = Counter()
    without_model: Counter[tuple[str, str]] = Counter()
    missing: Counter[tuple[str, str, str]] = Counter()
    systems: set[tuple[str, str]] = set()
    for row in await store.arrangements(session, today=today):
        system = (row["icb"] or "", row["region"] or "")
        systems.add(system)
        without_leader[system] += not row["confirmed_leader"]
        without_model[system] += not is_adopted(row["adopted_on"], today=today)
        for category in missing_categories(row["members"] or []):
            missing[(*system, category)] += 1
    leader = GaugeFamily(
        "joinedup_places_without_confirmed_leader",
        "Places whose leader in post today was not confirmed by both the local authority and "
        "the ICB (or that have none), per ICB.",
    )
    model = GaugeFamily(
        "joinedup_places_without_adopted_governance",
        "Places with no governance model adopted by today, per ICB.",
    )
    category_gauge = GaugeFamily(
        "joinedup_places_missing_governance_member",
        "Places whose partnership has no member in a minimum membership category, per ICB "
        "and category.",
    )
    for icb, region in sorted(systems):
        labels = label_text(icb=icb, region=region)
        leader.add(labels, without_leader[(icb, region)])
        model.add(labels, without_model[(icb, region)])
        for category in MINIMUM_MEMBERSHIP:
            category_gauge.add(
                label_text(icb=icb, region=region, category=category),
                missing[(icb, region, category)],
            )
    return [leader, model, category_gauge]
