from pydantic import Field

from services.common.config import CommonSettings


class IngestSettings(CommonSettings):
    max_reported_errors: int = 1000
    admission_wait_s: float | None = Field(
        default=None,
        ge=0,
        description="Longest a submission waits, in arrival order, for one of the pool's "
        "connections before a 503 with Retry-After (services/ingest/submissions/admission.py); "
        "unset: db_pool_timeout_s.",
    )

    @property
    def admission_wait(self) -> float:
        return self.db_pool_timeout_s if self.admission_wait_s is None else self.admission_wait_s
