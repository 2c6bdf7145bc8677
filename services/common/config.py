"""Settings shared by every service, read from ``JOINEDUP_*`` environment variables."""

from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.egress import IPNetwork, parse_networks


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL server to use; unset means the embedded one in data_dir.",
    )
    database_read_url: str | None = Field(
        default=None,
        description="A streaming replica for the read-only endpoints of materialised and "
        "historical data; unset means every read goes to the primary.",
    )
    db_read_connect_timeout_s: int = Field(
        default=2,
        ge=1,
        description="Seconds to wait for the replica before a read falls back to the primary.",
    )
    db_server_side_prepares: bool = Field(
        default=True,
        description="psycopg's server-side prepared statements; false behind a pooler in "
        "transaction mode (PgBouncer), where the next transaction may be on another server "
        "connection.",
    )
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("joinedup")))
    database_name: str = "joinedup"
    db_pool_size: int = 10
    db_pool_timeout_s: float = 5.0
    max_body_bytes: int = 100 * 1024 * 1024
    log_level: str = "INFO"
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Requests a minute allowed per API key, per process; 0: no limit.",
    )
    rate_limit_burst: int = Field(
        default=0,
        ge=0,
        description="Requests a key may make at once before the rate applies; "
        "0: as many as rate_limit_per_minute.",
    )

    service_key: str | None = Field(
        default=None, description="This service's own key (role service) for calling its peers."
    )
    catalogue_timeout_s: float = 5.0
    catalogue_retries: int = 3
    catalogue_fresh_s: float = 5.0
    catalogue_max_stale_s: float = 3600.0

    metrics_api_url: str = "http://127.0.0.1:8001"
    targets_api_url: str = "http://127.0.0.1:8002"
    ingest_url: str = "http://127.0.0.1:8003"

    # Read by targets_api (a subscription's URL is checked when made) and by the worker (each
    # delivery's address is checked again): both must agree, so it is here.
    webhook_allowed_networks: str = Field(
        default="",
        description="Comma-separated CIDRs of private networks webhook receivers may be in "
        '("10.20.0.0/16,fd00::/8"); empty: global addresses only (services/common/egress.py).',
    )

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a bad CIDR stops the service at start, not a delivery later
        return value

    @cached_property
    def webhook_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.webhook_allowed_networks)

    @cached_property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "postgres"
