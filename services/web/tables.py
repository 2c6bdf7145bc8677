"""The tables the pages show, each also downloadable as CSV: one definition serves both, so the
CSV holds exactly the rows the page shows, with the APIs' values at full precision (the page
rounds them to the metric's decimals)."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import Response
from markupsafe import Markup

from services.common.responses import csv_cell

MISSING = "—"


def number(value: float | None, decimals: int | None = None) -> str:
    """A figure as the pages show it: thousands separated, the metric's decimals (or as few as
    it needs when it has none), a dash when there is none."""
    if value is None:
        return MISSING
    if decimals is None:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:,.{decimals}f}"


def percent(share: float | None) -> str:
    return MISSING if share is None else f"{share * 100:.0f} %"


def moment(timestamp: str | None) -> str:
    """An API timestamp (ISO 8601, UTC) to the minute, as people read it."""
    return MISSING if timestamp is None else timestamp[:16].replace("T", " ") + " UTC"


def words(code: str | None) -> str:
    """A vocabulary word for people: ``on_track`` reads ``on track``."""
    return MISSING if code is None else code.replace("_", " ")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass
class Row:
    """``values`` go to the CSV as they are; ``shown`` replaces a value's text on the page
    (rounded figures, icons), ``links`` makes a cell a link, ``css`` classes a cell."""

    values: dict[str, Any]
    shown: dict[str, str | Markup] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    css: dict[str, str] = field(default_factory=dict)

    def text(self, key: str) -> str | Markup:
        if key in self.shown:
            return self.shown[key]
        value = self.values.get(key)
        return MISSING if value is None else str(value)


@dataclass
class Table:
    name: str  # the CSV's file name and the table's HTML id
    caption: str
    columns: Sequence[Column]
    rows: list[Row]
    empty: str = "Nothing to show."
    # The CSV's columns when they are not the page's (a matrix cell is several values).
    csv_columns: Sequence[Column] | None = None
    # The value naming each row (a metric or area code), put on its HTML row as data-row.
    key: str | None = None

    def csv(self, filename: str) -> Response:
        fields = self.csv_columns or self.columns
        lines = [",".join(csv_cell(c.key) for c in fields)]
        lines += [",".join(csv_cell(r.values.get(c.key)) for c in fields) for r in self.rows]
        return Response(
            "\n".join(lines) + "\n",
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )


def columns(*spec: tuple[str, str] | tuple[str, str, bool]) -> list[Column]:
    return [Column(*item) for item in spec]


def by_name(tables: Iterable[Table]) -> Mapping[str, Table]:
    return {table.name: table for table in tables}
