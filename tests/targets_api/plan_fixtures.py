"""The ``plans`` fixture. Plan test modules load it with
``pytest_plugins = ["tests.targets_api.plan_fixtures"]``; it is a module of its own because a
plugin the test modules also import would escape pytest's assertion rewriting."""

import pytest

from tests.conftest import bearer
from tests.targets_api.conftest import LEEDS, WEST_YORKSHIRE
from tests.targets_api.plan_support import Plans


@pytest.fixture
async def plans(client, steward, make_key) -> Plans:
    return Plans(
        client,
        steward,
        bearer(await make_key("signatory", LEEDS)),
        bearer(await make_key("signatory", WEST_YORKSHIRE)),
    )
