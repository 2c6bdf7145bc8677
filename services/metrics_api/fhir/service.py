"""Metrics as FHIR Measures: read and searched through the metrics service (one definition of
what a metric and its versions are), shaped by mapping.py."""

from fhir.resources.R4B.measure import Measure
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import fhir
from services.common.errors import NotFound, Unprocessable, field_error
from services.metrics_api.fhir import mapping
from services.metrics_api.metrics import service as metrics
from services.metrics_api.metrics.schemas import MetricStatus


async def get_measure(session: AsyncSession, *, code: str, version: int | None) -> Measure:
    metric = await metrics.get_metric(session, code=code, version=version)
    return mapping.measure(metric, status=metric.status)


def _named_code(url: str | None, name: str | None) -> str | None:
    """The one metric url and name name together; "" when they name two different ones."""
    codes = {c for c in (url and (fhir.measure_code(url) or ""), name) if c is not None}
    if len(codes) > 1:
        return ""
    return codes.pop() if codes else None


async def search_measures(
    session: AsyncSession,
    *,
    url: str | None,
    name: str | None,
    version: int | None,
    status: MetricStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Measure], int]:
    code = _named_code(url, name)
    if code is None:
        if version is not None:
            raise Unprocessable(
                "version selects a version of the Measure named by url or name; give one.",
                errors=[field_error(["query", "version"], "needs url or name")],
            )
        rows, count = await metrics.list_metrics(
            session, scope=None, owner=None, status=status, domain=None, limit=limit, offset=offset
        )
        return [mapping.measure(m, status=m.status) for m in rows], count
    try:
        metric = await metrics.get_metric(session, code=code, version=version)
    except NotFound:
        return [], 0  # a search that matches nothing is an empty Bundle, not a 404
    matches = [] if status is not None and metric.status != status else [metric]
    return [mapping.measure(m, status=m.status) for m in matches[offset : offset + limit]], len(
        matches
    )
