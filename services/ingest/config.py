from services.common.config import CommonSettings


class IngestSettings(CommonSettings):
    max_reported_errors: int = 1000
    outbox_poll_s: float = 0.5
    outbox_timeout_s: float = 5.0
    outbox_max_backoff_s: float = 60.0
    outbox_enabled: bool = True
