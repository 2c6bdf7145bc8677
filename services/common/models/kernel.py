"""Tables owned by the shared kernel: API keys and the audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))
    public_id: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    name: str
    role: str
    scopes: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Recorded at most once a minute per key, so a busy key does not write on every request.
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class AuditLog(SQLModel, table=True):
    """Append-only: a database trigger rejects UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    occurred_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), server_default=func.now(), nullable=False),
    )
    service: str
    actor_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    request_id: str | None = None
