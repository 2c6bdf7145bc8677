"""The web app in a real browser against real processes: metrics_api, targets_api, ingest, the
worker and web as uvicorn processes on one database of their own, loaded once per session with
the demo's data for three places of Cheshire and Merseyside (the same loader `joinedup demo`
runs), and Debian's Chromium driven by Playwright.

Screenshots of every page go to $JOINEDUP_SCREENSHOTS, or a temporary folder the session prints.
"""

import asyncio
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from services import cli
from services.common.auth import Role, create_key
from services.demo import load
from tests.support.clients import bearer
from tests.support.database import (
    create_database,
    database_url_for,
    drop_database,
    run_in_transaction,
)
from tests.support.services import ServiceProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ICB = "E54000008"  # NHS Cheshire and Merseyside
REGION = "E40000010"  # North West
HALTON, CHESHIRE_EAST, SEFTON = PLACES = ("E06000006", "E06000049", "E08000014")
NATIONAL_METRIC = "bcf-falls-65plus"
TIMEOUT = httpx.Timeout(30.0)
# Five processes start at once, beside the other xdist worker's: on a loaded two-core machine a
# start can take far longer than the usual minute.
READY_TIMEOUT_S = 180.0
SERIOUS = frozenset({"serious", "critical"})


@dataclass
class Keys:
    admin: str
    steward: str
    assessor: str
    viewer: str
    halton_signatory: str
    icb_signatory: str
    leeds_submitter: str
    icb_submitter: str

    def all(self) -> list[str]:
        return list(vars(self).values())

    def secrets(self) -> list[str]:
        """The secret part of each key (``jdu_<public id>_<secret>``; a secret may hold "_")."""
        return [key.split("_", 2)[2] for key in self.all()]


@dataclass
class WebSuite:
    web: ServiceProcess
    apis: dict[str, ServiceProcess]
    keys: Keys
    proposed: dict[str, int]  # place -> a proposed plan waiting for both its signatories
    screenshots: Path

    def api(self, service: str, path: str, key: str | None = None, **params: Any) -> Any:
        response = httpx.get(
            f"{self.apis[service].url}{path}",
            params=params,
            headers=bearer(key or self.keys.admin),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def web_log(self) -> str:
        return Path(self.web.log_path).read_text(errors="replace")


def _keys(url: str) -> Keys:
    wanted = {
        "admin": (Role.admin, ()),
        "steward": (Role.steward, (ICB,)),
        "assessor": (Role.assessor, ()),
        "viewer": (Role.viewer, ()),
        "halton_signatory": (Role.signatory, (HALTON,)),
        "icb_signatory": (Role.signatory, (ICB,)),
        "leeds_submitter": (Role.submitter, ("E08000035",)),
        "icb_submitter": (Role.submitter, (ICB,)),
    }

    async def make(session) -> dict[str, str]:
        made = {}
        for name, (role, scopes) in wanted.items():
            made[name] = (await create_key(session, name=f"web {name}", role=role, scopes=scopes))[
                1
            ]
        return made

    return Keys(**asyncio.run(run_in_transaction(url, make)))  # type: ignore[arg-type]


def _propose_revision(targets_url: str, place: str, steward: str) -> int:
    """A new revision of the place's agreed plan, submitted: proposed, waiting for the place
    and its ICB."""
    with httpx.Client(base_url=targets_url, headers=bearer(steward), timeout=TIMEOUT) as client:
        [agreed] = client.get(f"/v1/places/{place}/plans", params={"status": "agreed"}).json()[
            "data"
        ]
        revision = client.post(f"/v1/plans/{agreed['id']}/revise")
        assert revision.status_code == 201, revision.text
        submitted = client.post(f"/v1/plans/{revision.json()['id']}/submit")
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "proposed"
        return submitted.json()["id"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of the shared suite on one xdist worker (``--dist loadgroup``), so the suite
    is built once (about a minute of five processes and the demo), not once per worker."""
    for item in items:
        if "web_suite" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("web"))


# One for the session: the tests that change its state (approving a plan, a steward's drafts)
# change what no other test reads; each reads what it checks from the APIs as it is then.
@pytest.fixture(scope="session")
def web_suite(pg_server_url: str, template_database: str) -> Iterator[WebSuite]:
    name = f"joinedup_web_{uuid.uuid4().hex[:12]}"
    create_database(pg_server_url, name, template=template_database)
    url = database_url_for(pg_server_url, name)
    keys = _keys(url)
    service_key = asyncio.run(
        run_in_transaction(
            url, lambda session: create_key(session, name="services", role=Role.service)
        )
    )[1]
    slow = {"ready_timeout_s": READY_TIMEOUT_S}
    metrics_api = ServiceProcess.for_service("metrics_api", url, **slow)
    targets_api = ServiceProcess.for_service(
        "targets_api",
        url,
        env={"JOINEDUP_SERVICE_KEY": service_key, "JOINEDUP_METRICS_API_URL": metrics_api.url},
        **slow,
    )
    peers = {
        "JOINEDUP_SERVICE_KEY": service_key,
        "JOINEDUP_METRICS_API_URL": metrics_api.url,
        "JOINEDUP_TARGETS_API_URL": targets_api.url,
    }
    ingest = ServiceProcess.for_service("ingest", url, env=peers, **slow)
    worker = ServiceProcess.for_service(
        "worker",
        url,
        env={**peers, "JOINEDUP_PROGRESS_POLL_S": "0.2", "JOINEDUP_OUTBOX_POLL_S": "0.2"},
        **slow,
    )
    # INFO and every access line: every request the web app makes and answers is logged, so the
    # test that the key never reaches the log reads all of it (the default samples them). No
    # database: it must not need one.
    web = ServiceProcess(
        "services.web.main:create_app",
        env={
            "JOINEDUP_LOG_LEVEL": "INFO",
            "JOINEDUP_ACCESS_LOG": "all",
            "JOINEDUP_METRICS_API_URL": metrics_api.url,
            "JOINEDUP_TARGETS_API_URL": targets_api.url,
            "JOINEDUP_INGEST_URL": ingest.url,
            "JOINEDUP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        },
        ready_timeout_s=READY_TIMEOUT_S,
    )
    apis = {"metrics_api": metrics_api, "targets_api": targets_api, "ingest": ingest}
    processes = [*apis.values(), worker]
    try:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(ServiceProcess.start, processes))
        web.start()
        endpoints = load.Endpoints(metrics_api.url, targets_api.url, ingest.url)
        options = load.Options(seed=1, years=2, places=PLACES, progress_timeout_s=60)
        assert cli._run_demo(url, endpoints, options) == 0
        proposed = {
            place: _propose_revision(targets_api.url, place, keys.steward)
            for place in (HALTON, CHESHIRE_EAST)
        }
        folder = os.environ.get("JOINEDUP_SCREENSHOTS") or tempfile.mkdtemp(
            prefix="joinedup-screenshots-"
        )
        screenshots = Path(folder)
        screenshots.mkdir(parents=True, exist_ok=True)
        print(f"\nscreenshots of the web pages: {screenshots}")
        yield WebSuite(web, apis, keys, proposed, screenshots)
    finally:
        for process in [web, *processes]:
            print(f"--- {process.factory} (port {process.port}) ---\n{process.log()}")
            process.close()
        drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visitor:
    """One person's browser: sign in, open pages (each checked for console errors and serious
    accessibility violations, and photographed), sign out."""

    def __init__(self, suite: WebSuite, page: Page) -> None:
        self.suite = suite
        self.page = page
        self.console_errors: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    @property
    def base(self) -> str:
        return self.suite.web.url

    def sign_in(self, key: str) -> None:
        self.page.goto(f"{self.base}/sign-in")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        assert "/sign-in" not in self.page.url, self.page.content()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_url(re.compile(r".*/sign-in$"))

    def open(self, path: str, shot: str | None = None, *, status: int = 200) -> Page:
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == status, (path, response)
        self.seen(shot or path, status=status)
        return self.page

    def seen(self, shot: str, *, status: int = 200) -> None:
        """Check the page now shown (served with ``status``) and photograph it."""
        if status != 200:  # Chromium reports the page's own status as a failed load
            own = f"the server responded with a status of {status}"
            self.console_errors[:] = [e for e in self.console_errors if own not in e]
        html = self.page.content()
        leaked = [secret for secret in self.suite.keys.secrets() if secret in html]
        assert not leaked, f"a key is in the page at {self.page.url}"
        assert not self.console_errors, (self.page.url, self.console_errors)
        file = re.sub(r"[^A-Za-z0-9]+", "-", shot).strip("-") or "home"
        self.page.screenshot(path=str(self.suite.screenshots / f"{file}.png"), full_page=True)
        results = Axe().run(self.page)
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in SERIOUS
        ]
        assert not serious, (self.page.url, serious)

    def cell(self, table: str, row: str, key: str) -> str:
        return self.page.locator(f'#{table} tr[data-row="{row}"] [data-key="{key}"]').inner_text()


@pytest.fixture
def visitor(web_suite: WebSuite, browser: Browser) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Visitor(web_suite, context.new_page())
    context.close()
