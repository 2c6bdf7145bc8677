"""Dependencies the ingest endpoints share: its settings and the catalogue from metrics_api."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.catalogue import CatalogueDep
from services.ingest.config import IngestSettings


def _settings(request: Request) -> IngestSettings:
    return request.app.state.settings


IngestSettingsDep = Annotated[IngestSettings, Depends(_settings)]

__all__ = ["CatalogueDep", "IngestSettingsDep"]
