"""Bodies for ingest's POST /v1/submissions, in either format, and for its FHIR routes
(MeasureReports and their Bundles), for the seeded metrics."""

from services.common import periods
from tests.support.areas import LEEDS

DISCHARGE = "bcf-discharge-usual-residence"  # proportion x100, monthly
FALLS = "bcf-falls-65plus"  # rate x100000, quarterly
CSV_HEADER = "place_code,metric_code,period,value,numerator,denominator,note\n"


def observation(metric: str = DISCHARGE, period: str = "2025-07", **fields) -> dict:
    """One observation; Leeds's 912 of 1003 when the metric is DISCHARGE and nothing is given."""
    if metric == DISCHARGE and not fields:
        fields = {"numerator": 912, "denominator": 1003}
    return {"metric_code": metric, "period": period, **fields}


def json_submission(*observations: dict, place: str = LEEDS, mode: str = "atomic") -> dict:
    return {"place_code": place, "mode": mode, "observations": list(observations)}


def csv_body(*rows: str) -> str:
    return CSV_HEADER + "".join(row + "\n" for row in rows)


def measure_report(
    place: str = LEEDS,
    metric: str = DISCHARGE,
    period: str = "2025-07",
    *,
    value=None,
    numerator=None,
    denominator=None,
) -> dict:
    """A summary FHIR MeasureReport as a place system would send it to ingest's FHIR routes (a
    dict, so a test may break it); Leeds's July discharges, 912 of 1003, when nothing is given."""
    if metric == DISCHARGE and value is None and numerator is None and denominator is None:
        numerator, denominator = 912, 1003
    span = periods.parse(period)
    populations = [
        {"code": {"coding": [{"code": name}]}, "count": count}
        for name, count in (("numerator", numerator), ("denominator", denominator))
        if count is not None
    ]
    group: dict = {"population": populations} if populations else {}
    if value is not None:
        group["measureScore"] = {"value": value}
    return {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        # Any base ending in /Measure/<code> names the metric.
        "measure": f"https://place-system.example/fhir/Measure/{metric}",
        "subject": {"identifier": {"value": place}},
        "period": {"start": span.start.isoformat(), "end": span.end.isoformat()},
        "group": [group] if group else [],
    }


def fhir_bundle(*reports: dict, kind: str = "transaction", identifier: str | None = None) -> dict:
    """A batch or transaction Bundle of MeasureReports, as IHE mADX's Send Aggregate Report."""
    body: dict = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "MeasureReport"}} for r in reports
        ],
    }
    if identifier is not None:
        body["identifier"] = {"system": "urn:example:place-system", "value": identifier}
    return body
