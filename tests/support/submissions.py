"""Bodies for ingest's POST /v1/submissions, in either format, for the seeded metrics."""

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
