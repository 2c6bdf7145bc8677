"""Every CSV the services write is safe to open in a spreadsheet (OWASP, "CSV Injection"): a
text cell that begins with `=`, `+`, `-`, `@`, tab or carriage return comes back prefixed with a
single quote and quoted, and numbers stay numbers. The CSV routes are discovered from the apps
(every operation whose 200 answer offers text/csv), so a new one without a row here fails
``test_every_csv_route_is_covered``; hostile text is stored in every field that reaches a CSV."""

import csv
import io

import pytest

from services.common.responses import FORMULA_TRIGGERS, csv_cell
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import create_app as create_targets_api
from tests.metrics_api.support import local_metric, new_area
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.bodies import leader
from tests.support.clients import bearer
from tests.support.submissions import json_submission, observation
from tests.targets_api.plan_support import DISCHARGE, Plans

APPS = {
    "metrics_api": create_metrics_api,
    "targets_api": create_targets_api,
    "ingest": create_ingest,
}

CMD = "=cmd|' /C calc'!A0"
SUM = "+SUM(1+1)"
AT = "@SUM(A1)"
LINK = '=HYPERLINK("http://evil","x")'
MINUS = "-2+3"
TAB = "\t=1+1"
CR = "\r=1+1"
HOSTILE = (CMD, SUM, AT, LINK, MINUS, TAB, CR)

HOSTILE_METRIC = "leeds-hostile-value"
HOSTILE_PLACE = new_area()["code"]  # a new West Yorkshire place, with a hostile name
NEGATIVE = -3.5  # a value, which must stay a number

# Every CSV route, with the query that makes it carry the hostile data, and the hostile texts
# that must come back (neutralised) in it.
ROUTES: dict[tuple[str, str], tuple[str, dict[str, str], tuple[str, ...]]] = {
    ("ingest", "/v1/observations"): ("/v1/observations", {"history": "true"}, HOSTILE),
    # The current versions' notes as DHIS2 comments.
    ("ingest", "/v1/dhis2/dataValueSets"): ("/v1/dhis2/dataValueSets", {"orgUnit": LEEDS}, HOSTILE),
    ("ingest", "/v1/completeness"): (
        "/v1/completeness",
        {"period": "2025-07", "area": WEST_YORKSHIRE},
        (),
    ),
    ("targets_api", "/v1/places/{code}/leaders"): (
        f"/v1/places/{LEEDS}/leaders",
        {},
        (CMD, SUM, AT),
    ),
    ("targets_api", "/v1/places/{code}/plans"): (f"/v1/places/{LEEDS}/plans", {}, (LINK,)),
    # No free text of its own yet, but the metric it reports has a hostile name and unit.
    ("targets_api", "/v1/places/{code}/progress"): (f"/v1/places/{LEEDS}/progress", {}, ()),
    ("targets_api", "/v1/places/{code}/progress/{metric_code}"): (
        f"/v1/places/{LEEDS}/progress/{HOSTILE_METRIC}",
        {},
        (),
    ),
    ("targets_api", "/v1/metrics/{code}/league-table"): (
        f"/v1/metrics/{DISCHARGE}/league-table",
        {"level": "place", "period": "2025-07"},
        (CMD,),
    ),
    # The hostile place's name, on its row of its ICB's governance roll-up.
    ("targets_api", "/v1/areas/{code}/governance"): (
        f"/v1/areas/{WEST_YORKSHIRE}/governance",
        {},
        (CMD,),
    ),
    ("targets_api", "/v1/areas/{code}/performance"): (
        f"/v1/areas/{WEST_YORKSHIRE}/performance",
        {},
        (CMD,),
    ),
    # The public record's roll-up (no key needed; the key sent is ignored): the same place name.
    ("targets_api", "/public/v1/areas/{code}/performance"): (
        f"/public/v1/areas/{WEST_YORKSHIRE}/performance",
        {},
        (CMD,),
    ),
    ("targets_api", "/v1/areas/{code}/plans"): (f"/v1/areas/{WEST_YORKSHIRE}/plans", {}, (LINK,)),
    # Leeds's hostile escalation, in the place's list and in its ICB's.
    ("targets_api", "/v1/places/{code}/escalations"): (
        f"/v1/places/{LEEDS}/escalations",
        {},
        (SUM,),
    ),
    ("targets_api", "/v1/areas/{code}/escalations"): (
        f"/v1/areas/{WEST_YORKSHIRE}/escalations",
        {},
        (SUM,),
    ),
    # Figures only (the hostile plan's spend rows); {plan_id} is the plan stored below.
    ("targets_api", "/v1/plans/{plan_id}/resources"): ("/v1/plans/{plan_id}/resources", {}, ()),
    # Too few places to estimate: the refused group's row, which names the hostile metric.
    ("targets_api", "/v1/evaluation"): (
        "/v1/evaluation",
        {"metric_code": DISCHARGE, "event": "governance_adopted"},
        (),
    ),
}


def csv_routes(service: str) -> set[tuple[str, str]]:
    schema = APPS[service](database_url="postgresql://joinedup@localhost/unused").openapi()
    return {
        (service, path)
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        if "text/csv" in operation.get("responses", {}).get("200", {}).get("content", {})
    }


def test_every_csv_route_is_covered():
    discovered = set().union(*(csv_routes(service) for service in APPS))
    assert len(discovered) >= 6, "route discovery found too few CSV routes"
    assert discovered == set(ROUTES)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (CMD, "\"'=cmd|' /C calc'!A0\""),
        (SUM, '"\'+SUM(1+1)"'),
        (AT, '"\'@SUM(A1)"'),
        (LINK, '"\'=HYPERLINK(""http://evil"",""x"")"'),
        (MINUS, '"\'-2+3"'),
        (TAB, '"\'\t=1+1"'),
        (CR, '"\'\r=1+1"'),
        (-3.5, "-3.5"),
        (-2, "-2"),
        (0.25, "0.25"),
        (None, ""),
        (True, "true"),
        ("", ""),
        ("Leeds", "Leeds"),
        ("a, b", '"a, b"'),
        ('say "hi"', '"say ""hi"""'),
        ("a\nb", '"a\nb"'),
        ("2025-Q2", "2025-Q2"),
        ("x=1", "x=1"),
    ],
)
def test_a_cell_is_neutralised_only_when_it_is_text_a_spreadsheet_would_run(value, written):
    assert csv_cell(value) == written


def unsafe_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run: a formula trigger first, and not a number."""
    found = []
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            if cell.startswith(FORMULA_TRIGGERS):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


async def store_hostile_data(open_service, make_key) -> int:
    """Hostile text in every field that reaches a CSV: a metric's name and unit, an area's name,
    observation notes, a leader's name, role and organisation, a plan's title, an escalation's
    title. Answers the
    plan's id."""
    async with open_service("metrics_api") as client:
        admin = bearer(await make_key("admin"))
        for path, body in (
            ("/v1/areas", new_area(name=CMD)),
            (
                "/v1/metrics",
                local_metric(
                    HOSTILE_METRIC, name=MINUS, unit=SUM, kind="value", description=AT, domain=LINK
                ),
            ),
        ):
            response = await client.post(path, json=body, headers=admin)
            assert response.status_code == 201, response.text
    async with open_service("ingest") as client:
        submitter = bearer(await make_key("submitter", WEST_YORKSHIRE))
        months = [f"2025-{m:02}" for m in range(1, 13)]
        notes = dict(zip(months, HOSTILE, strict=False))
        leeds = [
            observation(HOSTILE_METRIC, month, value=NEGATIVE - i, note=notes.get(month))
            for i, month in enumerate(months)
        ]
        for body in (
            json_submission(*leeds),
            json_submission(
                observation(note=CMD, numerator=912, denominator=1003), place=HOSTILE_PLACE
            ),
            json_submission(observation()),
        ):
            response = await client.post("/v1/submissions", json=body, headers=submitter)
            assert response.status_code == 201, response.text
    async with open_service("targets_api") as client:
        steward = bearer(await make_key("steward", WEST_YORKSHIRE))
        plans = Plans(
            client,
            steward,
            bearer(await make_key("signatory", LEEDS)),
            bearer(await make_key("signatory", WEST_YORKSHIRE)),
        )
        response = await client.put(
            f"/v1/places/{LEEDS}/leader",
            headers=steward,
            json=leader(name=CMD, role=SUM, organisation=AT),
        )
        assert response.status_code == 201, response.text
        response = await client.post(
            f"/v1/places/{LEEDS}/escalations",
            headers=steward,
            json={"title": SUM, "description": CMD, "ask": AT},
        )
        assert response.status_code == 201, response.text
        plan = await plans.create(title=LINK)
        await plans.fill(plan["id"])
        response = await plans.put_target(
            plan["id"],
            HOSTILE_METRIC,
            {
                "baseline_period": "2025-03",
                "baseline_value": -1.0,
                "target_period": "2027-03",
                "target_value": -20.0,
                "trajectory": [],
                "tolerance": None,
            },
        )
        assert response.status_code == 200, response.text
        await plans.propose(plan["id"])
        await plans.agree(plan["id"])
        refreshed = await client.post(
            "/v1/progress/refresh", headers=bearer(await make_key("admin"))
        )
        assert refreshed.status_code == 200, refreshed.text
    return int(plan["id"])


async def test_no_csv_carries_a_formula(open_service, make_key):
    plan_id = await store_hostile_data(open_service, make_key)
    admin = bearer(await make_key("admin")) | {"Accept": "text/csv"}
    exports: dict[tuple[str, str], str] = {}
    for service in ("ingest", "targets_api"):
        async with open_service(service) as client:
            for route, (path, params, _) in ROUTES.items():
                if route[0] == service:
                    response = await client.get(
                        path.format(plan_id=plan_id), params=params, headers=admin
                    )
                    assert response.status_code == 200, response.text
                    assert response.headers["content-type"].startswith("text/csv")
                    exports[route] = response.text

    for route, text in exports.items():
        assert unsafe_cells(text) == [], route
        cells = {cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row}
        for hostile in ROUTES[route][2]:
            assert "'" + hostile in cells, (route, hostile)
    # Numbers are written as numbers, unquoted: the negative values and the target.
    observations = exports[("ingest", "/v1/observations")]
    assert f",{NEGATIVE}," in observations and f",{NEGATIVE - 11}," in observations
    assert f",{NEGATIVE}," in exports[("ingest", "/v1/dhis2/dataValueSets")]
    series = exports[("targets_api", "/v1/places/{code}/progress/{metric_code}")]
    assert f",{NEGATIVE}," in series
    assert ",-20.0," in exports[("targets_api", "/v1/places/{code}/progress")]
