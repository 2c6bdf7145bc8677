"""Tables owned by metrics_api: the area hierarchy and the versioned metric catalogue."""

from datetime import datetime

from sqlalchemy import Column, DateTime, func
from sqlmodel import Field, SQLModel


def _created_at() -> datetime | None:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


class Area(SQLModel, table=True):
    __tablename__ = "area"

    code: str = Field(primary_key=True, max_length=9)
    name: str
    level: str
    parent_code: str | None = Field(default=None, foreign_key="area.code", index=True)
    population: int | None = None
    population_year: int | None = None
    created_at: datetime | None = _created_at()


class Metric(SQLModel, table=True):
    """A metric's identity and lifecycle; its definition lives in its versions."""

    __tablename__ = "metric"

    code: str = Field(primary_key=True, max_length=64)
    scope: str
    owner_area_code: str = Field(foreign_key="area.code", index=True)
    status: str = "active"
    current_version: int = 1
    created_at: datetime | None = _created_at()
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class MetricVersion(SQLModel, table=True):
    """One immutable definition of a metric; targets and observations cite (code, version)."""

    __tablename__ = "metric_version"

    metric_code: str = Field(primary_key=True, foreign_key="metric.code")
    version: int = Field(primary_key=True)
    name: str
    description: str
    domain: str
    mandatory: bool
    kind: str
    multiplier: float | None = None
    unit: str
    direction: str
    periodicity: str
    aggregation: str
    valid_min: float | None = None
    valid_max: float | None = None
    decimals: int
    submission_deadline_days: int
    source: str
    reporting_from: str  # the first period for which data is expected
    created_at: datetime | None = _created_at()
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
