"""DHIS2 data values to joinedup's submission rows and back, and the import summary's counts.

Pure functions: no database, no HTTP. A data value's dataElement is the metric code, its orgUnit
the place's ONS code, its period a DHIS2 period code (``periods``). A proportion or rate travels
as data values of one (dataElement, period, orgUnit) distinguished by categoryOptionCombo:
``numerator`` and ``denominator``, and optionally the value itself under any other combo. They
make one joinedup observation, numbered in the order of each group's first data value, so that
the submission's row errors can be named by the data values they came from.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.common.errors import Unprocessable, field_error
from services.common.models import Observation
from services.ingest.dhis2 import periods
from services.ingest.dhis2.schemas import (
    CSV_COLUMNS,
    CSV_REQUIRED_COLUMNS,
    DENOMINATOR,
    NUMERATOR,
    DataValueIn,
    DataValueSetIn,
    ImportConflict,
    ImportCount,
    ImportStatus,
)
from services.ingest.submissions.schemas import CSV_COLUMNS as NATIVE_COLUMNS
from services.ingest.submissions.schemas import RowError, SubmissionPublic
from services.ingest.submissions.store import BLANK

VALUE = "value"
# Where each of a submission row's fields came from in DHIS2's terms.
_PROPERTY = {
    "place_code": "orgUnit",
    "metric_code": "dataElement",
    "period": "period",
    "value": "value",
    "numerator": "value",
    "denominator": "value",
    "note": "comment",
    "row": "dataValue",
}


@dataclass
class Observed:
    """One joinedup observation being made of data values."""

    key: tuple[str, str, str]
    cells: dict[str, str | None]
    indexes: dict[str, int] = field(default_factory=dict)  # slot -> data value index

    def all_indexes(self) -> list[int]:
        return sorted(self.indexes.values())


@dataclass
class Translation:
    rows: list[Observed]
    deletions: list[int]  # data values marked deleted: joinedup never deletes, so ignored
    framing: list[ImportConflict]  # CSV records that cannot be read as data values


def read_csv(text: str) -> tuple[list[DataValueIn], list[ImportConflict], list[int]]:
    """DHIS2's CSV: its first row a header, then the columns in DHIS2's order. Returns the data
    values, the records too short to be one, and each data value's index among all records."""
    values, framing, positions = [], [], []
    records = (r for r in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) if r)
    next(records, None)
    for index, record in enumerate(records):
        if len(record) < CSV_REQUIRED_COLUMNS or len(record) > len(CSV_COLUMNS):
            framing.append(_column_count(index, len(record)))
            continue
        cells = dict(zip(CSV_COLUMNS, record, strict=False))
        values.append(
            DataValueIn(
                dataElement=cells["dataelement"],
                period=cells["period"],
                orgUnit=cells["orgunit"],
                categoryOptionCombo=cells["categoryoptioncombo"] or None,
                value=cells["value"] or None,
                comment=cells.get("comment") or None,
                deleted=cells.get("deleted", "").strip().lower() == "true",
            )
        )
        positions.append(index)
    return values, framing, positions


def _column_count(index: int, found: int) -> ImportConflict:
    return ImportConflict(
        object=str(index),
        objects={"dataValue": str(index)},
        value=f"expected {CSV_REQUIRED_COLUMNS} to {len(CSV_COLUMNS)} columns, found {found}",
        errorCode="column_count",
        property="dataValue",
        row=0,
        indexes=[index],
    )


def translate(document: DataValueSetIn, positions: Sequence[int] | None = None) -> Translation:
    """The observations the data values make, in order. ``positions``: each data value's
    index as the client counts them (a CSV's unreadable records count too)."""
    if not document.dataValues:
        raise Unprocessable(
            "The data value set has no dataValues.",
            errors=[field_error(["dataValues"], "no data values")],
        )
    rows: list[Observed] = []
    open_rows: dict[tuple[str, str, str], Observed] = {}
    deletions = []
    for n, value in enumerate(document.dataValues):
        index = positions[n] if positions is not None else n
        if value.deleted:
            deletions.append(index)
            continue
        metric = _trim(value.dataElement)
        place = _trim(value.orgUnit if value.orgUnit is not None else document.orgUnit)
        period = _trim(value.period if value.period is not None else document.period)
        key = (place or "", metric or "", period or "")
        slot = _slot(value.categoryOptionCombo)
        observed = open_rows.get(key)
        if observed is None or slot in observed.indexes:
            # A second value for the same slot is a second observation: the submission's
            # duplicate check then names both.
            observed = Observed(
                key,
                {
                    "place_code": place,
                    "metric_code": metric,
                    "period": None if period is None else periods.to_native(period),
                    "value": None,
                    "numerator": None,
                    "denominator": None,
                    "note": None,
                },
            )
            rows.append(observed)
            open_rows[key] = observed
        observed.indexes[slot] = index
        observed.cells[slot] = None if value.value is None else str(value.value)
        if value.comment is not None:
            observed.cells["note"] = value.comment
    return Translation(rows, deletions, [])


def _trim(text: str | None) -> str | None:
    return None if text is None else text.strip(BLANK)


def _slot(category_option_combo: str | None) -> str:
    combo = (category_option_combo or "").strip().lower()
    return combo if combo in (NUMERATOR, DENOMINATOR) else VALUE


def native_csv(rows: Iterable[Observed]) -> bytes:
    """The observations as a native submission's CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(NATIVE_COLUMNS)
    writer.writerows([row.cells[column] for column in NATIVE_COLUMNS] for row in rows)
    return buffer.getvalue().encode()


def conflicts(errors: Iterable[RowError], rows: Sequence[Observed]) -> list[ImportConflict]:
    """The submission's row errors, each named by the data values its observation came from."""
    found = []
    for error in errors:
        if not 1 <= error.row <= len(rows):
            found.append(_unplaced(error))
            continue
        observed = rows[error.row - 1]
        prop = _PROPERTY.get(error.field, error.field)
        cell = observed.cells.get(error.field) if error.field in observed.cells else None
        at_fault = observed.indexes.get(error.field)
        found.append(
            ImportConflict(
                object=cell or "",
                objects={prop: cell or ""},
                value=error.msg,
                errorCode=error.code,
                property=prop,
                row=error.row,
                indexes=[at_fault] if at_fault is not None else observed.all_indexes(),
            )
        )
    return found


def _unplaced(error: RowError) -> ImportConflict:
    """A row error whose data values are not known (a replay's, see service)."""
    prop = _PROPERTY.get(error.field, error.field)
    return ImportConflict(
        object="",
        objects={},
        value=error.msg,
        errorCode=error.code,
        property=prop,
        row=error.row,
        indexes=[],
    )


def import_count(submission: SubmissionPublic | None, *, not_sent: int) -> ImportCount:
    """DHIS2's counts, in observations: new ones imported, corrections updated, and ignored
    the rejected, the unchanged and ``not_sent`` (left out before the submission)."""
    if submission is None:
        return ImportCount(imported=0, updated=0, ignored=not_sent, deleted=0)
    corrections = submission.superseded
    return ImportCount(
        imported=submission.accepted - corrections - submission.unchanged,
        updated=corrections,
        ignored=submission.rejected + submission.unchanged + not_sent,
        deleted=0,
    )


def status(count: ImportCount, conflicts: Sequence[ImportConflict]) -> ImportStatus:
    if not conflicts:
        return "SUCCESS"
    return "WARNING" if count.imported + count.updated else "ERROR"


def data_values(observation: Observation) -> list[dict[str, str | None]]:
    """A stored observation as DHIS2 data values: its value, and a proportion's or rate's
    numerator and denominator under their category option combos (what ``translate`` reads)."""
    common = {
        "dataElement": observation.metric_code,
        "period": periods.to_dhis2(observation.period),
        "orgUnit": observation.place_code,
        "comment": observation.note,
        "lastUpdated": observation.recorded_at.isoformat() if observation.recorded_at else None,
    }
    parts: list[tuple[str | None, float]] = [(None, observation.value)]
    if observation.numerator is not None and observation.denominator is not None:
        parts += [(NUMERATOR, observation.numerator), (DENOMINATOR, observation.denominator)]
    return [
        {**common, "categoryOptionCombo": combo, "value": _number(number)}
        for combo, number in parts
    ]


def _number(number: float) -> str:
    """The shortest text that reads back as the same float (whole numbers without ".0")."""
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
