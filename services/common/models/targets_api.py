"""Tables owned by targets_api: place leaders, plans, targets and approvals."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Identity, Integer, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _timestamp(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(
        DateTime(timezone=True), server_default=None if nullable else func.now(),
        nullable=nullable))


def _identity() -> Any:
    return Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))


class PlaceLeader(SQLModel, table=True):
    """One term of the person accountable for a place; the current one has no ``ended_on``."""

    __tablename__ = "place_leader"

    id: int | None = _identity()
    place_code: str
    name: str
    role: str
    organisation: str
    appointed_on: date
    ended_on: date | None = None
    joint_appointment: bool
    created_at: datetime | None = _timestamp()


class Plan(SQLModel, table=True):
    __tablename__ = "plan"

    id: int | None = _identity()
    place_code: str
    title: str
    starts_on: date
    ends_on: date
    revision: int
    revises_plan_id: int | None = Field(default=None, foreign_key="plan.id")
    status: str = "draft"
    approval_round: int = 0
    rejection_reason: str | None = None
    created_at: datetime | None = _timestamp()
    updated_at: datetime | None = _timestamp()
    submitted_at: datetime | None = _timestamp(nullable=True)
    agreed_at: datetime | None = _timestamp(nullable=True)
    superseded_at: datetime | None = _timestamp(nullable=True)


class PlanTarget(SQLModel, table=True):
    __tablename__ = "plan_target"

    plan_id: int = Field(primary_key=True, foreign_key="plan.id")
    metric_code: str = Field(primary_key=True)
    metric_version: int
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float
    trajectory: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    tolerance: float | None = None
    created_at: datetime | None = _timestamp()
    updated_at: datetime | None = _timestamp()


class PlanApproval(SQLModel, table=True):
    __tablename__ = "plan_approval"

    id: int | None = _identity()
    plan_id: int = Field(foreign_key="plan.id")
    approval_round: int
    organisation_code: str
    decision: str
    signatory: str
    comment: str | None = None
    key_id: int = Field(foreign_key="api_key.id")
    decided_at: datetime | None = _timestamp()
