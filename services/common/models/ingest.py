"""Tables owned by ingest: submissions, versioned observations and the outbox."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel


class Submission(SQLModel, table=True):
    __tablename__ = "submission"

    id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(
            UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
        ),
    )
    key_id: int = Field(foreign_key="api_key.id")
    format: str
    mode: str
    status: str
    place_codes: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    accepted: int
    rejected: int
    superseded: int
    unchanged: int
    error_count: int
    errors: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    received_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    idempotency_key: str | None = None
    request_sha256: str | None = None


class Observation(SQLModel, table=True):
    """One version of one value; the row with ``superseded_at`` NULL is the current one."""

    __tablename__ = "observation"

    place_code: str = Field(primary_key=True)
    metric_code: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    value: float
    numerator: float | None = None
    denominator: float | None = None
    note: str | None = None
    metric_version: int
    submission_id: uuid.UUID
    recorded_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    superseded_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Outbox(SQLModel, table=True):
    """A notice for a peer, written in the transaction of the change it announces and sent
    afterwards by the deliverer (services/ingest/outbox.py) until the peer takes it."""

    __tablename__ = "outbox"
    # The deliverer's claim reads only the pending rows, oldest due first.
    __table_args__ = (
        Index("outbox_pending", "next_attempt_at", postgresql_where=text("delivered_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    topic: str = Field(sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, server_default="0", nullable=False))
    next_attempt_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
