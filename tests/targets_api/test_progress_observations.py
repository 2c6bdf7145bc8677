"""The refresh reads the current observations in either of two shapes (``store.LOOKUP_LIMIT``
picks by size); both must read the same records, numbered the same way."""

import numpy as np
import pytest

from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker
from services.targets_api.progress import store
from tests.support.areas import BRADFORD, CORNWALL, LEEDS, SCILLY
from tests.targets_api.plan_support import DISCHARGE, FALLS
from tests.targets_api.progress_support import store_observations

PLACES = [BRADFORD, CORNWALL, LEEDS, SCILLY]
PAIRS = [(DISCHARGE, "2025-08"), (DISCHARGE, "2025-09"), (FALLS, "2025-Q2")]


@pytest.mark.parametrize("limit", [0, 10_000], ids=["scanned", "looked-up"])
async def test_both_shapes_read_the_current_versions_numbered_by_pair_and_place(
    limit, query, database_url, monkeypatch
):
    store_observations(
        query,
        [
            (LEEDS, DISCHARGE, "2025-09", 80.0, 800, 1000),
            (LEEDS, DISCHARGE, "2025-09", 90.0, 900, 1000),  # supersedes the one above
            (SCILLY, DISCHARGE, "2025-08", 50.0, None, None),
            (BRADFORD, FALLS, "2025-Q2", 1200.0, 120, 10000),
            (CORNWALL, FALLS, "2025-Q3", 1300.0, 130, 10000),  # a pair not asked for
        ],
    )
    monkeypatch.setattr(store, "LOOKUP_LIMIT", limit)
    engine = create_engine(database_url, CommonSettings(database_url=database_url, db_pool_size=1))
    try:
        async with make_sessionmaker(engine)() as session:
            observed = await store.current_observations(session, PAIRS, PLACES)
    finally:
        await engine.dispose()

    records = sorted(
        zip(
            observed.pair.tolist(),
            observed.place.tolist(),
            observed.value.tolist(),
            np.where(observed.numerator_known, observed.numerator, -1).tolist(),
            np.where(observed.denominator_known, observed.denominator, -1).tolist(),
            strict=True,
        )
    )
    assert records == [
        (0, 3, 50.0, -1, -1),  # Scilly's August, without numerator and denominator
        (1, 2, 90.0, 900.0, 1000.0),  # Leeds's September, its current version only
        (2, 0, 1200.0, 120.0, 10000.0),  # Bradford's quarter
    ]
