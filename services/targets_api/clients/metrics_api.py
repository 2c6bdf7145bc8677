"""targets_api's client for metrics_api: the shared catalogue client, one implementation for both
services that read the catalogue (services/common/catalogue.py)."""

from services.common.catalogue import AreaRef, Catalogue, MetricDef, MetricsApiClient

__all__ = ["AreaRef", "Catalogue", "MetricDef", "MetricsApiClient"]
