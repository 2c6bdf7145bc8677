"""The place or metric a request names, found in the catalogue, or the problem that says why not."""

from services.common.catalogue import AreaRef, Catalogue, MetricDef
from services.common.errors import NotFound, Unprocessable, field_error


def area_of(catalogue: Catalogue, code: str) -> AreaRef:
    """The area (a place, an ICB, a region or England) with this code: 404 if there is none."""
    area = catalogue.area(code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    return area


def place_of(catalogue: Catalogue, code: str) -> AreaRef:
    """The place with this code: 404 if no area has it, 422 if it is an ICB, region or England."""
    area = area_of(catalogue, code)
    if area.level != "place":
        raise Unprocessable(
            f"{code} ({area.name}) is a {area.level}, not a place; leaders, plans and profiles "
            f"belong to places.",
            errors=[field_error(["path", "code"], "must be a place")],
        )
    return area


def metric_of(catalogue: Catalogue, code: str) -> MetricDef:
    """The metric with this code: 404 if there is none."""
    metric = catalogue.metric(code)
    if metric is None:
        raise NotFound(f"No metric {code!r}.")
    return metric
