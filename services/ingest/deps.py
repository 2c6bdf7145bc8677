"""Dependencies the ingest endpoints share: its settings and the catalogue from metrics_api."""

from typing import Annotated

from fastapi import Depends, Request

from services.ingest.clients.metrics_api import Catalogue
from services.ingest.config import IngestSettings


def _settings(request: Request) -> IngestSettings:
    return request.app.state.settings


async def _catalogue(request: Request) -> Catalogue:
    """The catalogue as metrics_api last confirmed it; 503 if it cannot be had at all."""
    return await request.app.state.metrics_api.catalogue()


IngestSettingsDep = Annotated[IngestSettings, Depends(_settings)]
CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]
