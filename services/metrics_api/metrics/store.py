"""The SQL of the metric catalogue: metrics and their immutable versions."""

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.errors import Conflict
from services.common.models import Metric, MetricVersion
from services.metrics_api.metrics.schemas import MetricScope, MetricStatus
from services.metrics_api.unique import add_new


async def metric(session: AsyncSession, code: str) -> Metric | None:
    return (await session.execute(select(Metric).where(col(Metric.code) == code))).scalar()


async def locked_metric(session: AsyncSession, code: str) -> Metric | None:
    """The metric, its row locked until the transaction ends, so a change sees the version it
    replaces."""
    query = select(Metric).where(col(Metric.code) == code).with_for_update()
    return (await session.execute(query)).scalar()


async def metric_version(session: AsyncSession, code: str, version: int) -> MetricVersion | None:
    return await session.get(MetricVersion, (code, version))


def _current_metrics(
    *,
    scope: MetricScope | None,
    owner: str | None,
    status: MetricStatus | None,
    domain: str | None,
) -> Select[Metric, MetricVersion]:
    query = select(Metric, MetricVersion).join(
        MetricVersion,
        (col(MetricVersion.metric_code) == col(Metric.code))
        & (col(MetricVersion.version) == col(Metric.current_version)),
    )
    if scope is not None:
        query = query.where(col(Metric.scope) == scope)
    if owner is not None:
        query = query.where(col(Metric.owner_area_code) == owner)
    if status is not None:
        query = query.where(col(Metric.status) == status)
    if domain is not None:
        query = query.where(col(MetricVersion.domain) == domain)
    return query


async def metric_count(
    session: AsyncSession,
    *,
    scope: MetricScope | None,
    owner: str | None,
    status: MetricStatus | None,
    domain: str | None,
) -> int:
    """How many metrics match the filters (None: any) at their current versions."""
    matching = _current_metrics(scope=scope, owner=owner, status=status, domain=domain)
    return await session.scalar(select(func.count()).select_from(matching.subquery())) or 0


async def metrics_page(
    session: AsyncSession,
    *,
    scope: MetricScope | None,
    owner: str | None,
    status: MetricStatus | None,
    domain: str | None,
    limit: int,
    offset: int,
) -> list[tuple[Metric, MetricVersion]]:
    """A page of the matching metrics, each with its current version, in code order."""
    matching = _current_metrics(scope=scope, owner=owner, status=status, domain=domain)
    rows = await session.execute(matching.order_by(col(Metric.code)).limit(limit).offset(offset))
    return [(m, v) for m, v in rows]


async def metric_versions(session: AsyncSession, code: str) -> list[MetricVersion]:
    """Every version of the metric, oldest first."""
    query = (
        select(MetricVersion)
        .where(col(MetricVersion.metric_code) == code)
        .order_by(col(MetricVersion.version))
    )
    return list((await session.execute(query)).scalars())


async def insert_metric(session: AsyncSession, row: Metric, *, taken: Conflict) -> Metric:
    """The metric as stored; ``taken`` is raised if another transaction stored its code first."""
    await add_new(session, row, taken=taken)
    await session.refresh(row)
    return row


async def insert_version(session: AsyncSession, row: MetricVersion) -> MetricVersion:
    """The version as stored (the caller holds the metric's row, so the number is free)."""
    return await insert_row(session, row)


async def set_current_version(session: AsyncSession, metric: Metric, version: int) -> None:
    """Point the metric at ``version``, and reload ``metric``."""
    await session.execute(
        update(Metric).where(col(Metric.code) == metric.code).values(current_version=version)
    )
    await session.refresh(metric)


async def retire(session: AsyncSession, metric: Metric) -> None:
    """Mark the metric retired now, and reload ``metric``."""
    await session.execute(
        update(Metric)
        .where(col(Metric.code) == metric.code)
        .values(status=MetricStatus.retired, retired_at=func.now())
    )
    await session.refresh(metric)
