"""Tables owned by targets_api: place leaders and their nominations, plans, targets and
approvals, the resources behind plans, places' governance, escalations, the progress refresh's
queue and what it computes."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel


def _timestamp(*, nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            DateTime(timezone=True),
            server_default=None if nullable else func.now(),
            nullable=nullable,
        ),
    )


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


class AreaValue(SQLModel, table=True):
    """A metric's value for one area and period: a place's own, or a roll-up of its places."""

    __tablename__ = "area_value"

    metric_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    area_code: str = Field(primary_key=True)
    level: str
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    places_reported: int
    places_expected: int | None = None  # member places the metric applies to
    ci_lower: float | None = None
    ci_upper: float | None = None
    comparison: str
    rank: int | None = None
    rank_of: int | None = None
    quintile: int | None = None
    computed_at: datetime | None = _timestamp()


class TargetProgress(SQLModel, table=True):
    """Where one target of an agreed plan stands, as the last progress refresh computed it."""

    __tablename__ = "target_progress"

    plan_id: int = Field(primary_key=True, foreign_key="plan.id")
    metric_code: str = Field(primary_key=True)
    place_code: str
    latest_period: str | None = None
    latest_value: float | None = None
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float
    expected_value: float | None = None
    progress_pct: float | None = None
    status: str
    consecutive_off_track: int
    variation: str | None = None
    assurance: str | None = None
    forecast_value: float | None = None
    trend: str | None = None
    national_value: float | None = None
    comparison: str
    rank: int | None = None
    rank_of: int | None = None
    computed_at: datetime | None = _timestamp()


class ProgressRefreshQueue(SQLModel, table=True):
    """One (place, metric) whose progress is to be recomputed: from ingest's change notices
    (the first and last period that changed) or from a plan agreed (no periods: only which
    targets are in force changed). Appended, never updated: the refresher merges the rows it
    drains, so a notice delivered twice is harmless."""

    __tablename__ = "progress_refresh_queue"
    __table_args__ = (
        CheckConstraint(
            "(period_from IS NULL) = (period_to IS NULL)", name="progress_refresh_queue_range"
        ),
    )

    # A generated key, so that an append never waits on a row a refresh has drained.
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    place_code: str = Field(sa_column=Column(String(9), nullable=False))
    metric_code: str = Field(sa_column=Column(String(64), nullable=False))
    submission_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    notified_at: datetime | None = _timestamp()
    # Period codes, compared with COLLATE "C": within one periodicity that is time order.
    period_from: str | None = Field(default=None, sa_column=Column(String(9)))
    period_to: str | None = Field(default=None, sa_column=Column(String(9)))


class LeaderNomination(SQLModel, table=True):
    """A leader proposed by a steward, waiting for the place's local authority and its ICB to
    confirm; it becomes a term of ``place_leader`` (``leader_id``) when both have, and is
    closed for good when either declines."""

    __tablename__ = "leader_nomination"

    id: int | None = _identity()
    place_code: str
    name: str
    role: str
    organisation: str
    appointed_on: date
    joint_appointment: bool
    status: str = "nominated"
    nominated_by_key_id: int = Field(foreign_key="api_key.id")
    leader_id: int | None = Field(default=None, foreign_key="place_leader.id", unique=True)
    created_at: datetime | None = _timestamp()
    closed_at: datetime | None = _timestamp(nullable=True)


class LeaderNominationDecision(SQLModel, table=True):
    """One body's answer to a nomination; each body answers once."""

    __tablename__ = "leader_nomination_decision"

    id: int | None = _identity()
    nomination_id: int = Field(foreign_key="leader_nomination.id")
    organisation_code: str
    decision: str
    signatory: str
    comment: str | None = None
    key_id: int = Field(foreign_key="api_key.id")
    decided_at: datetime | None = _timestamp()


def _gbp() -> Any:
    return Field(sa_column=Column(Numeric(14, 2), nullable=False))


class PlanContribution(SQLModel, table=True):
    """One partner's contribution to a plan in one financial year, pooled or aligned."""

    __tablename__ = "plan_contribution"

    id: int | None = _identity()
    plan_id: int = Field(foreign_key="plan.id")
    financial_year: str
    organisation: str
    kind: str
    amount_gbp: Decimal = _gbp()


class PlanSpend(SQLModel, table=True):
    """A plan's planned spend on one scheme type in one financial year."""

    __tablename__ = "plan_spend"

    id: int | None = _identity()
    plan_id: int = Field(foreign_key="plan.id")
    financial_year: str
    scheme: str
    amount_gbp: Decimal = _gbp()


class PlaceGovernance(SQLModel, table=True):
    """One version of a place's governance arrangement; the highest version is the current
    one, and every earlier one stays as it was recorded."""

    __tablename__ = "place_governance"

    id: int | None = _identity()
    place_code: str
    version: int
    model: str
    model_description: str | None = None
    adopted_on: date | None = None
    scrutinised_on: date | None = None
    members: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    delegated_functions: list[str] = Field(default_factory=list, sa_type=JSONB)
    key_id: int | None = Field(default=None, foreign_key="api_key.id")
    changed_by: str
    created_at: datetime | None = _timestamp()


class WebhookSubscription(SQLModel, table=True):
    """An area's receiver of events (services/targets_api/webhooks): where to POST, which events,
    and the secret the bodies are signed with. Deleting it deactivates it, so its deliveries stay
    readable; an inactive subscription is sent nothing more."""

    __tablename__ = "webhook_subscription"

    id: int | None = _identity()
    area_code: str
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    # Kept as it is, not hashed: every delivery's signature is computed with it.
    secret: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(
        default=True, sa_column=Column(Boolean, server_default="true", nullable=False)
    )
    created_by: str
    created_at: datetime | None = _timestamp()


class WebhookDelivery(SQLModel, table=True):
    """The transactional outbox of webhooks: one event for one subscription, written in the
    transaction of the change it announces (``publish``) and sent by the worker until the
    receiver takes it (``delivered_at``) or it is given up (``failed_at``)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # A retried publish of the same event never makes a second delivery.
        UniqueConstraint("event_id", "subscription_id", name="webhook_delivery_once"),
        # The deliverer's claim reads only the pending rows, oldest due first.
        Index(
            "webhook_delivery_pending",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
        Index("webhook_delivery_of_subscription", "subscription_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    event: str = Field(sa_column=Column(Text, nullable=False))
    body: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = _timestamp()
    attempts: int = Field(default=0, sa_column=Column(Integer, server_default="0", nullable=False))
    next_attempt_at: datetime | None = _timestamp()
    last_attempt_at: datetime | None = _timestamp(nullable=True)
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = _timestamp(nullable=True)
    failed_at: datetime | None = _timestamp(nullable=True)


class WebhookDeliveryAttempt(SQLModel, table=True):
    """Every attempt of a delivery, kept: ``webhook_delivery`` holds only the latest. Written
    by the worker in the statement that records the attempt on the delivery."""

    __tablename__ = "webhook_delivery_attempt"

    delivery_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("webhook_delivery.id"), primary_key=True, nullable=False
        )
    )
    attempt: int = Field(sa_column=Column(Integer, primary_key=True, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: int | None = Field(
        default=None, description="The receiver's HTTP status, if it answered"
    )
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))


class Escalation(SQLModel, table=True):
    """A place's obstacle put to the level above (services/targets_api/escalations): one row
    per level it reached; escalating leaves this row ``escalated`` and opens a new one above,
    which names this one in ``escalated_from_id``."""

    __tablename__ = "escalation"

    id: int | None = _identity()
    place_code: str
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    metric_code: str | None = None
    reason: str
    title: str
    description: str
    ask: str
    addressed_to: str
    level: str
    state: str = "open"
    escalated_from_id: int | None = Field(default=None, foreign_key="escalation.id")
    created_at: datetime | None = _timestamp()
    created_by: str
    updated_at: datetime | None = _timestamp()
    updated_by: str


class EscalationStep(SQLModel, table=True):
    """One step of an escalation's history: who did what, when, and where it was addressed."""

    __tablename__ = "escalation_step"

    id: int | None = _identity()
    escalation_id: int = Field(foreign_key="escalation.id")
    step: str
    note: str | None = None
    from_area: str | None = None
    to_area: str
    actor: str
    actor_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    at: datetime | None = _timestamp()
