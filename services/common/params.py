"""The types and rules every request's parameters share: integers bounded by their columns,
booleans and timestamps in their own form only, and a query parameter given at most once."""

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import field_annotation_is_sequence
from pydantic import BeforeValidator

from services.common.errors import Unprocessable, field_error

# PostgreSQL's integer and bigint. A number beyond its column is invalid input (422), never a
# query that fails (500).
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

# An id or version number stored in an integer column.
RowId = Annotated[int, Ge(1), Le(INT4_MAX)]


def _true_or_false(value: Any) -> Any:
    # Lax parsing reads 0, 1, yes, off, on... as booleans; the schema says boolean, whose
    # query form is true or false.
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


# A boolean query parameter; a JSON body's booleans are pydantic's StrictBool.
QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]

_ISO_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_8601(value: Any) -> Any:
    # Lax parsing reads a bare number (0.5, 1700000000) as seconds since 1970: a client that
    # sent one meant something else, so only the written form is taken.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE_START.match(value):
        raise ValueError("must be written in ISO 8601, as YYYY-MM-DD (with a time for a date-time)")
    return value


# A date-time, in a query or a body, written as ISO 8601 text.
Timestamp = Annotated[datetime, BeforeValidator(_iso_8601)]
# A date, in a query or a body, written as ISO 8601 text.
IsoDate = Annotated[date, BeforeValidator(_iso_8601)]


def _query_fields(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_fields(sub)


def _single_valued_query_names(route: object) -> set[str]:
    """The route's query parameters that take one value (not a list), by their wire names.
    Walked per request: a route has a handful of parameters, fewer than a cache would save."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return set()
    return {
        field.alias
        for field in _query_fields(dependant)
        if not field_annotation_is_sequence(field.field_info.annotation)
    }


async def refuse_repeated_query(request: Request) -> None:
    """A single-valued query parameter given twice is refused: keeping one of the values
    silently would answer a question the client may not have asked."""
    given = request.query_params
    single = _single_valued_query_names(request.scope.get("route"))
    repeated = sorted(name for name in set(given.keys()) & single if len(given.getlist(name)) > 1)
    if repeated:
        raise Unprocessable(
            f"Give each of these query parameters once: {', '.join(repeated)}.",
            errors=[
                field_error(
                    ["query", name],
                    f"given {len(given.getlist(name))} times; it takes one value",
                    type="repeated",
                )
                for name in repeated
            ],
        )
