from services.common.config import CommonSettings


class IngestSettings(CommonSettings):
    max_reported_errors: int = 1000
