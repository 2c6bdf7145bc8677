"""/docs and /redoc work without internet: every script, style and icon they load is served by
the service itself, with no key, as what it is."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics
from services.targets_api.main import create_app as create_targets
from services.worker.main import create_app as create_worker
from tests.support.clients import asgi_client

FACTORIES = {
    "metrics_api": create_metrics,
    "targets_api": create_targets,
    "ingest": create_ingest,
    "worker": create_worker,
}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
BASE = "http://testserver/docs"


class _References(HTMLParser):
    """Every URL the page loads: src and href attributes, and the `url: '...'` strings its
    inline script hands Swagger UI (the OpenAPI document, the OAuth2 redirect)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _references(page: str) -> _References:
    parser = _References()
    parser.feed(page)
    return parser


@pytest.fixture(params=sorted(FACTORIES))
async def any_client(request, database_url):
    async for client in asgi_client(FACTORIES[request.param](database_url=database_url)):
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_only_same_origin_assets_that_answer_as_what_they_are(any_client, page):
    response = await any_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = _references(response.text)
    strings = [u for s in found.scripts for u in re.findall(r"""url:\s*['"]([^'"]+)['"]""", s)]
    assets = [u for u in found.urls if not u.startswith("#")]
    # The page loads a script and a style (Swagger UI) or a script (ReDoc): not nothing.
    assert any(urlsplit(u).path.endswith(".js") for u in assets), assets
    for url in assets + strings:
        absolute = urlsplit(urljoin(BASE, url))
        assert (absolute.scheme, absolute.netloc) == ("http", "testserver"), url
    for url in assets:
        path = urlsplit(urljoin(BASE, url)).path
        answer = await any_client.get(path)  # no Authorization header: no key needed
        assert answer.status_code == 200, path
        suffix = path[path.rfind(".") :]
        assert answer.headers["content-type"].startswith(CONTENT_TYPES[suffix]), path
        assert len(answer.content) > 1000, path  # a real asset, not an empty file


async def test_swagger_ui_is_version_5_which_renders_openapi_3_1(any_client):
    """FastAPI writes OpenAPI 3.1; Swagger UI 4 shows "no valid version field" for it."""
    assert (await any_client.get("/openapi.json")).json()["openapi"].startswith("3.1")
    page = (await any_client.get("/docs")).text
    script = next(u for u in _references(page).urls if u.endswith("swagger-ui-bundle.js"))
    bundle = (await any_client.get(urljoin(BASE, script))).text
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle)
    assert version is not None and int(version.group(1)) >= 5
