"""FHIR MeasureReports and native observation rows, both ways (docs/api.md, "FHIR"): no I/O.

Inbound, a summary MeasureReport (IHE mADX's aggregate report) becomes one native row in
CSV_COLUMNS order, which the submission service then checks and stores as it does any JSON
submission's rows; what a report cannot say as a row (not a MeasureReport, dates that are no
period, two numerators) is a framing error of its row, named by a FHIRPath. Outbound, a stored
observation becomes a MeasureReport. Every resource goes through the fhir.resources R4B models.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport
from pydantic import ValidationError

from services.common import fhir, periods
from services.common.errors import Unprocessable
from services.common.models import Observation
from services.common.vocabulary import SubmissionMode
from services.ingest.submissions.schemas import RowError
from services.ingest.submissions.service import Translated

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
_POPULATIONS = ("numerator", "denominator")
# Where each native field is in a MeasureReport, as FHIRPath: a row check's error on a field
# names this element. note has no place in a MeasureReport, so it is never sent.
NATIVE_PATHS = {
    "place_code": "MeasureReport.subject.identifier.value",
    "metric_code": "MeasureReport.measure",
    "period": "MeasureReport.period",
    "value": "MeasureReport.group[0].measureScore.value",
    "numerator": "MeasureReport.group[0].population.where(code.coding.code='numerator').count",
    "denominator": (
        "MeasureReport.group[0].population.where(code.coding.code='denominator').count"
    ),
    "note": "MeasureReport",
    "row": "MeasureReport",
}
# Observations' ids in FHIR: stable for one version of one value, 36 characters (an id has 64).
_ID_NAMESPACE = uuid.UUID("0f3c9a52-5b0e-4d7e-9a35-1c0d6f2b7e41")


@dataclass
class Document:
    """A posted body, read once: the idempotency key it carries (Bundle.identifier) is needed
    before the submission service reads its rows."""

    resource_type: str  # "MeasureReport" or "Bundle"
    raw: Any  # the parsed JSON; None when it is not JSON


class _Number(Decimal):
    """A JSON number with the text it was sent as: a row error quotes a value as it was
    written (1e+300, not Decimal's 1E+300), as a native JSON submission's does."""

    text: str

    def __new__(cls, text: str) -> "_Number":
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text


def read_document(body: bytes, resource_type: str) -> Document:
    try:
        raw = json.loads(body, parse_float=_Number, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raw = None  # refused with the reason when the rows are read (translate)
    return Document(resource_type, raw)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def bundle_idempotency_key(document: Document) -> str | None:
    """Bundle.identifier as an idempotency key (``system|value``, or the value alone)."""
    if not isinstance(document.raw, dict) or not isinstance(document.raw.get("identifier"), dict):
        return None
    identifier = document.raw["identifier"]
    value, system = identifier.get("value"), identifier.get("system")
    if not isinstance(value, str):
        return None
    return f"{system}|{value}" if isinstance(system, str) else value


def translate(document: Document) -> Translated:
    """The document's native rows: a MeasureReport is one atomic row; a transaction Bundle's
    reports are atomic, a batch's partial (mADX's Send Aggregate Report)."""
    raw = document.raw
    if raw is None:
        raise _refused("The body is not a JSON document.", document.resource_type)
    if document.resource_type == "MeasureReport":
        fields, error = report_row(1, raw, path="MeasureReport")
        if error is not None:
            # One report: its one row refused is the request refused, as one atomic row is.
            raise Unprocessable(error.msg, errors=[_issue(error, in_bundle=False)])
        return Translated(SubmissionMode.atomic, [(1, fields)], [])
    entries = _bundle_entries(raw)
    mode = SubmissionMode.atomic if raw["type"] == "transaction" else SubmissionMode.partial
    rows: list[tuple[int, list[object]]] = []
    framing: list[RowError] = []
    for row_no, entry in enumerate(entries, start=1):
        request = entry.get("request") if isinstance(entry, dict) else None
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(request, dict) and not _creates_report(request):
            framing.append(
                RowError(
                    row=row_no,
                    field="entry.request",
                    code="unsupported_request",
                    msg="each entry must be a POST of a MeasureReport (request.url MeasureReport)",
                )
            )
            continue
        fields, error = report_row(row_no, resource, path="MeasureReport")
        if error is None:
            rows.append((row_no, fields))
        else:
            framing.append(error)
    return Translated(mode, rows, framing)


def _refused(detail: str, resource_type: str) -> Unprocessable:
    return Unprocessable(detail, errors=[{"expression": resource_type, "msg": detail}])


def _bundle_entries(raw: Any) -> list[Any]:
    """A batch or transaction Bundle's entries; the Bundle itself (without its entries'
    resources, which are judged one by one as rows) validated by the R4B model."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise _refused("POST /fhir takes a Bundle (resourceType Bundle).", "Bundle")
    if raw.get("type") not in ("batch", "transaction"):
        raise Unprocessable(
            "The Bundle's type must be batch or transaction.",
            errors=[{"expression": "Bundle.type", "msg": "batch or transaction"}],
        )
    entries = raw.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Unprocessable(
            "The Bundle has no entries.",
            errors=[{"expression": "Bundle.entry", "msg": "at least one entry is needed"}],
        )
    shell = {
        **raw,
        "entry": [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
            for e in entries
        ],
    }
    try:
        Bundle.model_validate(shell)
    except (ValidationError, ValueError, TypeError) as exc:
        issues = _validation_issues(exc, "Bundle")
        raise Unprocessable(
            f"The Bundle is not valid FHIR: {issues[0]['msg']}", errors=issues
        ) from None
    return entries


def _creates_report(request: dict[str, Any]) -> bool:
    url = str(request.get("url", "")).strip("/")
    return request.get("method") == "POST" and url == "MeasureReport"


def report_row(row_no: int, raw: Any, *, path: str) -> tuple[list[object], RowError | None]:
    """One summary MeasureReport as native fields, or the framing error that stops it."""

    def refuse(where: str, code: str, msg: str) -> tuple[list[object], RowError]:
        return [], RowError(row=row_no, field=where, code=code, msg=msg)

    if not isinstance(raw, dict) or raw.get("resourceType") != "MeasureReport":
        return refuse("MeasureReport", "not_a_measure_report", "the resource is no MeasureReport")
    try:
        report = MeasureReport.model_validate(raw)
    except (ValidationError, ValueError, TypeError) as exc:
        first = _validation_issues(exc, "MeasureReport")[0]
        return refuse(first["expression"], "invalid_resource", first["msg"])
    if report.status != "complete":
        return refuse("MeasureReport.status", "not_complete", "only a complete report is data")
    if report.type != "summary":
        return refuse("MeasureReport.type", "not_summary", "only summary reports are taken")
    metric_code = fhir.measure_code(report.measure or "")
    if metric_code is None:
        return refuse(
            "MeasureReport.measure",
            "not_a_measure",
            "measure must be a Measure's canonical URL, ending in /Measure/<metric code>",
        )
    period = _period(report.period.start, report.period.end)
    if period is None:
        return refuse(
            "MeasureReport.period",
            "not_a_period",
            "period start and end must span a month, a calendar quarter, a calendar year "
            "or a financial year (April to March), first day to last",
        )
    groups = report.group or []
    if len(groups) > 1:
        return refuse("MeasureReport.group", "one_group", "a report carries one group")
    counts: dict[str, int] = {}
    score = None
    if groups:
        group = groups[0]
        for i, population in enumerate(group.population or []):
            codes = {c.code for c in (population.code.coding or [])} if population.code else set()
            for name in set(_POPULATIONS) & codes:
                if name in counts:
                    return refuse(
                        f"MeasureReport.group[0].population[{i}]",
                        "repeated_population",
                        f"the group has more than one {name} population",
                    )
                if population.count is not None:
                    counts[name] = population.count
        if group.measureScore is not None and group.measureScore.value is not None:
            # The number as sent (the model keeps its value, not its text).
            score = raw["group"][0]["measureScore"]["value"]
    place = (
        report.subject.identifier.value if report.subject and report.subject.identifier else None
    )
    fields: list[object] = [
        place,
        metric_code,
        period.code,
        None if score is None else str(score),
        counts.get("numerator"),
        counts.get("denominator"),
        None,
    ]
    return fields, None


def _period(start: Any, end: Any) -> periods.Period | None:
    """FHIR's dates (a day, or a dateTime whose day counts) as a period, if they span one."""
    days = [value.date() if isinstance(value, datetime) else value for value in (start, end)]
    if not all(isinstance(day, date) for day in days):
        return None  # absent, or given to the month or year only
    return periods.spanning(days[0], days[1])


def _validation_issues(exc: Exception, resource: str) -> list[dict[str, str]]:
    """pydantic's errors as issues, each at a FHIRPath in the resource."""
    if not isinstance(exc, ValidationError):
        return [{"expression": resource, "msg": str(exc) or type(exc).__name__}]
    return [
        {"expression": fhirpath(resource, error["loc"]), "msg": error["msg"]}
        for error in exc.errors()
    ] or [{"expression": resource, "msg": "invalid"}]


def fhirpath(resource: str, loc: Sequence[Any]) -> str:
    """('group', 0, 'population', 1, 'count') as MeasureReport.group[0].population[1].count"""
    path = resource
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def expression(error: RowError, *, in_bundle: bool) -> str:
    """The FHIRPath of the element a row error is about, in the report or in the Bundle."""
    path = NATIVE_PATHS.get(error.field, error.field)
    if not in_bundle:
        return path
    entry = f"Bundle.entry[{error.row - 1}]"
    if path.startswith("MeasureReport"):
        return entry + ".resource" + path.removeprefix("MeasureReport")
    return entry + path.removeprefix("entry")


def _issue(error: RowError, *, in_bundle: bool) -> dict[str, Any]:
    return {**error.model_dump(), "expression": expression(error, in_bundle=in_bundle)}


def issues(errors: Sequence[RowError], *, in_bundle: bool) -> list[dict[str, Any]]:
    """Row errors as OperationOutcome issues (services/common/fhir.operation_outcome)."""
    return [_issue(error, in_bundle=in_bundle) for error in errors]


def observation_report(row: Observation) -> MeasureReport:
    """One stored version of one value as a summary MeasureReport."""
    period = periods.parse(row.period)
    populations = [
        {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": name}]}, "count": int(count)}
        for name, count in (("numerator", row.numerator), ("denominator", row.denominator))
        # FHIR counts are integers; a fractional count is still in measureScore's value.
        if count is not None and float(count).is_integer()
    ]
    group: dict[str, Any] = {"measureScore": {"value": Decimal(repr(float(row.value)))}}
    if populations:
        group["population"] = populations
    return MeasureReport.model_validate(
        {
            "id": str(
                uuid.uuid5(
                    _ID_NAMESPACE, f"{row.place_code}|{row.metric_code}|{row.period}|{row.version}"
                )
            ),
            "meta": {"versionId": str(row.version), "lastUpdated": row.recorded_at},
            "status": "complete",
            "type": "summary",
            "measure": f"{fhir.measure_url(row.metric_code)}|{row.metric_version}",
            "subject": {"identifier": {"system": fhir.ONS_AREA_SYSTEM, "value": row.place_code}},
            "date": row.recorded_at,
            "period": {"start": period.start, "end": period.end},
            "group": [group],
        }
    )
