"""Gauges of escalations for Prometheus: the live ones (open or acknowledged) by the level they
are addressed to and their reason, and the open ones not acknowledged within E days.

One query per scrape. A sample for every level and reason, zeros included, so an alert sees a
count go as well as come. At an ICB an overdue escalation goes to the region at the next rule
run: one that stays overdue there says the worker's rules are not running; at a region or at
England it waits for people, and the alert says so.
"""

from collections.abc import Iterable

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.periods import england_today
from services.common.telemetry import GaugeFamily, label_text
from services.common.vocabulary import ESCALATION_LEVELS, ESCALATION_REASONS
from services.targets_api.escalations import store
from services.targets_api.escalations.rules import configured


async def escalation_metrics(app: FastAPI, session: AsyncSession) -> Iterable[GaugeFamily]:
    rules = configured()
    found = {
        (row["level"], row["reason"]): row
        for row in await store.gauges(session, days=rules.acknowledge_days, today=england_today())
    }
    live = GaugeFamily(
        "joinedup_escalations_open",
        "Escalations open or acknowledged, by the level they are addressed to and reason.",
    )
    overdue = GaugeFamily(
        "joinedup_escalations_acknowledgement_overdue",
        "Escalations still open (not acknowledged) more than the allowed days after they were "
        "opened at their level, by level and reason.",
    )
    for level in ESCALATION_LEVELS:
        for reason in ESCALATION_REASONS:
            row = found.get((level, reason))
            labels = label_text(level=level, reason=reason)
            live.add(labels, row["live"] if row else 0)
            overdue.add(labels, row["overdue"] if row else 0)
    return [live, overdue]
