from services.common.config import CommonSettings


class IngestSettings(CommonSettings):
    service_key: str | None = None  # JOINEDUP_SERVICE_KEY: ingest's own key for its peers
    catalogue_timeout_s: float = 5.0
    catalogue_retries: int = 3
    catalogue_fresh_s: float = 5.0
    catalogue_max_stale_s: float = 3600.0
    max_reported_errors: int = 1000
    outbox_poll_s: float = 0.5
    outbox_timeout_s: float = 5.0
    outbox_max_backoff_s: float = 60.0
    outbox_enabled: bool = True
