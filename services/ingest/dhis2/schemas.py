"""DHIS2's dataValueSets documents, as DHIS2 names their fields (so camelCase here)."""

from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt

from services.common.request_body import RequestBody

# DHIS2's CSV column order for data values (its header row is skipped, as DHIS2 does with
# firstRowIsHeader): read by position, so a DHIS2 export's own header names are accepted.
CSV_COLUMNS = (
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "lastupdated",
    "comment",
    "followup",
    "deleted",
)
# The columns up to the value are needed; the rest may be left off.
CSV_REQUIRED_COLUMNS = 6

# The category option combos that carry a proportion's or rate's parts; any other (none,
# "default", DHIS2's default combo HllvX50cXC0) carries the value itself. Compared lower-cased.
NUMERATOR, DENOMINATOR = "numerator", "denominator"

# As in a native submission: numbers may come as text, and the row checks judge them.
Number = StrictInt | StrictFloat | str | None


class DataValueIn(RequestBody):
    """One DHIS2 data value. Its place, metric and period may come from the set instead; a
    missing one is the submission's row error, as natively."""

    dataElement: str | None = None
    period: str | None = None
    orgUnit: str | None = None
    categoryOptionCombo: str | None = None
    attributeOptionCombo: str | None = None
    value: Number = None
    comment: str | None = None
    # Fields DHIS2 sends that joinedup keeps itself (who and when) or does not have.
    storedBy: str | None = None
    created: str | None = None
    lastUpdated: str | None = None
    followup: StrictBool | None = None
    deleted: StrictBool | None = None


class DataValueSetIn(RequestBody):
    dataSet: str | None = Field(default=None, description="Not used: each metric is its own")
    completeDate: str | None = None
    period: str | None = Field(default=None, description="The default period of its values")
    orgUnit: str | None = Field(default=None, description="The default orgUnit of its values")
    attributeOptionCombo: str | None = None
    dataValues: list[DataValueIn]


class ImportCount(BaseModel):
    imported: int = Field(description="Observations new to joinedup")
    updated: int = Field(description="Corrections: a new version of a stored observation")
    ignored: int = Field(
        description="Not written: in conflict, equal to the stored value, left out by the "
        "importStrategy, or a deletion"
    )
    deleted: int = Field(description="Always 0: joinedup keeps every version")


class ImportConflict(BaseModel):
    object: str = Field(description="What the conflict is about: the code or value at fault")
    objects: dict[str, str] = Field(description="The data value's property and its value")
    value: str = Field(description="Why the data value was not imported")
    errorCode: str = Field(description="joinedup's row error code (as in a native submission)")
    property: str = Field(description="The DHIS2 property at fault")
    row: int = Field(
        description="The joinedup observation the data values made (1-based, in order)"
    )
    indexes: list[int] = Field(description="The data values at fault (0-based, as DHIS2 counts)")


ImportStatus = Literal["SUCCESS", "WARNING", "ERROR"]


class ImportSummary(BaseModel):
    responseType: Literal["ImportSummary"] = "ImportSummary"
    status: ImportStatus
    description: str
    importOptions: dict[str, object]
    importCount: ImportCount
    conflicts: list[ImportConflict]
    reference: str | None = Field(description="The joinedup submission, when one was stored")


class DataValuePublic(BaseModel):
    dataElement: str
    period: str
    orgUnit: str
    categoryOptionCombo: str | None = None
    value: str
    comment: str | None = None
    lastUpdated: str | None = None


class DataValueSetPublic(BaseModel):
    dataValues: list[DataValuePublic]
