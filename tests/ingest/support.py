"""What the ingest test modules share besides tests/support: raw bodies in either format, and
changes to the catalogue made through metrics_api's own API (so its defaults and rules apply)."""

import csv
import io
import json
from collections.abc import AsyncIterable
from contextlib import aclosing
from datetime import date

import httpx

from services.common import periods
from services.ingest.dhis2 import periods as dhis2_periods
from services.metrics_api.main import create_app as create_metrics_api
from tests.support.areas import LEEDS
from tests.support.clients import asgi_client, bearer

CSV_FIELDS = ("metric_code", "period", "value", "numerator", "denominator", "note")

Body = bytes | str | AsyncIterable[bytes]


async def post_body(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: Body,
    content_type: str | None = "text/csv",
    **params,
) -> httpx.Response:
    """POST a body exactly as given (bytes, text or a stream of chunks)."""
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    return await client.post("/v1/submissions", content=content, headers=headers, params=params)


def csv_line(obs: dict, place: str = LEEDS) -> str:
    """One CSV record for an observation as ``observation()`` builds it (quoted as needed)."""
    buffer = io.StringIO()
    # With CRLF as the terminator the writer quotes a field holding either character; with
    # "\n" alone it leaves a lone CR unquoted, which ends the record for a CSV reader.
    csv.writer(buffer, lineterminator="\r\n").writerow(
        [place, *("" if obs.get(f) is None else obs[f] for f in CSV_FIELDS)]
    )
    return buffer.getvalue()


def json_text(body: dict) -> str:
    """The body as JSON, NaN and Infinity written as JavaScript would (httpx refuses them)."""
    return json.dumps(body, allow_nan=True)


# Before every period the tests submit: by default a metric expects data only from the day it
# is created (API.md amendments), and the tests write to 2025's periods.
REPORTING_FROM = date(2020, 1, 1)


def local_metric(
    code: str, *, owner: str = LEEDS, kind: str = "count", periodicity: str = "monthly", **fields
) -> dict:
    """A body for POST /v1/metrics: a local metric with the defaults its kind gives it,
    reporting from 2020 unless told otherwise."""
    fields.setdefault("reporting_from", periods.containing(periodicity, REPORTING_FROM).code)
    return {
        "code": code,
        "scope": "local",
        "owner_area_code": owner,
        "name": code,
        "domain": "Testing",
        "kind": kind,
        "direction": "lower_is_better",
        "periodicity": periodicity,
        **fields,
    }


class MetricsAdmin:
    """Changes the catalogue as an admin through metrics_api, in-process on the test database.

    Make changes before ingest first reads the catalogue: its copy is fresh for a few seconds.
    """

    def __init__(self, database_url: str, admin_key: str) -> None:
        self.database_url = database_url
        self.headers = bearer(admin_key)

    async def post(self, *requests: tuple[str, dict | None]) -> list[httpx.Response]:
        app = create_metrics_api(database_url=self.database_url)
        async with aclosing(asgi_client(app)) as clients:
            api = await anext(clients)
            responses = [
                await api.post(path, json=body, headers=self.headers) for path, body in requests
            ]
        for response in responses:
            assert response.status_code in (200, 201), response.text
        return responses

    async def create(self, *metrics: dict) -> None:
        await self.post(*(("/v1/metrics", metric) for metric in metrics))

    async def retire(self, *codes: str) -> None:
        await self.post(*((f"/v1/metrics/{code}/retire", None) for code in codes))


def dhis2_of(metric, period, value, numerator, denominator) -> list[dict]:
    """One observation as DHIS2 data values (text, as DHIS2 sends them): the value under the
    default category option combo, the numerator and denominator under their own."""
    dhis2_period = dhis2_periods.to_dhis2(period)
    values = []
    if value:
        values.append({"dataElement": metric, "period": dhis2_period, "value": value})
    for combo, part in (("numerator", numerator), ("denominator", denominator)):
        if part:
            values.append(
                {
                    "dataElement": metric,
                    "period": dhis2_period,
                    "categoryOptionCombo": combo,
                    "value": part,
                }
            )
    return values
