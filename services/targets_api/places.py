"""What targets_api's domains share about places: leaders, plans and profiles belong to them."""

from services.common.catalogue import AreaRef, Catalogue
from services.common.errors import NotFound, Unprocessable, field_error


def place_of(catalogue: Catalogue, code: str) -> AreaRef:
    """The place with this code: 404 if no area has it, 422 if it is an ICB, region or England."""
    area = catalogue.area(code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    if area.level != "place":
        raise Unprocessable(
            f"{code} ({area.name}) is a {area.level}, not a place; leaders, plans and profiles "
            f"belong to places.", errors=[field_error(["path", "code"], "must be a place")])
    return area
