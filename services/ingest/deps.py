"""Dependencies the ingest endpoints share: its settings and the catalogue from metrics_api."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.catalogue import CatalogueDep
from services.ingest.config import IngestSettings


async def _settings(request: Request) -> IngestSettings:
    # async, so FastAPI calls it on the event loop rather than handing it to a thread.
    return request.app.state.settings


IngestSettingsDep = Annotated[IngestSettings, Depends(_settings)]

__all__ = ["CatalogueDep", "IngestSettingsDep"]
