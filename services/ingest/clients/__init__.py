"""Typed HTTP clients for the peers ingest reads from."""

from services.ingest.clients.metrics_api import AreaRef, Catalogue, MetricDef, MetricsApiClient

__all__ = ["AreaRef", "Catalogue", "MetricDef", "MetricsApiClient"]
