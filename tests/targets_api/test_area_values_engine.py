"""The area-value engine (progress/areas.py) gives, row by row and bit by bit, what the one-row
reference gives: the old roll-up's definitions (SQL's GROUPING SETS query, restated below in
plain Python with PostgreSQL's float8 rules) and ``reference.with_interval`` on its rows; and it
sets aside exactly the pairs that the old refresh set aside (a float8 overflow or underflow in
the roll-up, or a figure that is not finite, which JSON refused).

Each example is a random geography (places per ICB, populations or none, a place whose lineage
is broken) with several random metrics (every kind, direction, aggregation, scope and owner,
multipliers or none) and periods, so one call of the engine computes many (metric, period)
pairs; values come with ties, zeros, fractions, missing numerators and denominators, numerators
above their denominators, few events (exact Poisson), magnitudes across the API's bounds, and a
few values from beyond them (as data stored before the bounds could be)."""

import json
import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.catalogue import Catalogue, MetricDef
from services.common.magnitude import MAX_MAGNITUDE, MIN_MAGNITUDE
from services.targets_api.progress import areas
from services.targets_api.progress.intervals import COMPARISONS
from services.targets_api.progress.reference import with_interval
from tests.support.areas import ENGLAND

LEVEL_ORDER = {level: i for i, level in enumerate(areas.LEVELS)}

# -- PostgreSQL's float8 arithmetic (float.c): what raises, and sum() from its first term --------


class Refused(Exception):
    """PostgreSQL's 'value out of range': the old roll-up's statement failed on the pair."""


def pg_add(a: float, b: float) -> float:
    result = a + b
    if math.isinf(result) and not math.isinf(a) and not math.isinf(b):
        raise Refused
    return result


def pg_mul(a: float, b: float) -> float:
    result = a * b
    if math.isinf(result) and not math.isinf(a) and not math.isinf(b):
        raise Refused
    if result == 0 and a != 0 and b != 0:
        raise Refused
    return result


def pg_div(a: float, b: float) -> float:
    result = a / b
    if math.isinf(result) and not math.isinf(a):
        raise Refused
    if result == 0 and a != 0 and not math.isinf(b):
        raise Refused
    return result


def pg_sum(terms: Sequence[float | None]) -> float | None:
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total = present[0]
    for term in present[1:]:
        total = pg_add(total, term)
    return total


# -- the reference: the old roll-up query, then with_interval on its rows ------------------------


def reference(
    catalogue: Catalogue,
    pairs: list[tuple[str, str]],
    observations: dict[tuple[str, str], dict[str, tuple[float, float | None, float | None]]],
) -> dict[tuple[str, str], list[dict[str, Any]] | None]:
    """Each pair's rows, or None where the old refresh set the pair aside."""
    chains = {
        a.code: chain
        for a in catalogue.areas.values()
        if a.level == "place" and len(chain := catalogue.lineage(a.code)) == 4
    }
    found: dict[tuple[str, str], list[dict[str, Any]] | None] = {}
    for pair in pairs:
        metric = catalogue.metrics[pair[0]]
        observed = sorted(
            (place, *figures)
            for place, figures in observations.get(pair, {}).items()
            if place in chains
        )
        try:
            rows = roll_up(catalogue, metric, observed, chains)
        except Refused:
            found[pair] = None
            continue
        national = next((r["value"] for r in rows if r["level"] == "nation"), None)
        rows = [with_interval(dict(r), metric, national) for r in rows]
        try:
            json.dumps(rows, allow_nan=False)
        except ValueError:
            found[pair] = None
            continue
        found[pair] = rows
    return found


def roll_up(
    catalogue: Catalogue,
    metric: MetricDef,
    observed: list[tuple[str, float, float | None, float | None]],
    chains: dict[str, list[str]],
) -> list[dict[str, Any]]:
    rows = []
    for level_index, level in enumerate(areas.LEVELS):
        groups: dict[str, list[tuple[str, float, float | None, float | None]]] = {}
        for o in observed:
            groups.setdefault(chains[o[0]][level_index], []).append(o)
        for area, members in groups.items():
            populations = [catalogue.areas[o[0]].population for o in members]
            # Every aggregate is computed for every group and every metric, as SQL does.
            pairs_of = zip(members, populations, strict=True)
            weighted = pg_sum([pg_mul(o[1], p) if p is not None else None for o, p in pairs_of])
            population = pg_sum([float(p) if p is not None else None for p in populations])
            total = pg_sum([o[1] for o in members])
            numerator = pg_sum([o[2] for o in members])
            denominator = pg_sum([o[3] for o in members])
            if level == "place":
                value = members[0][1]
            elif metric.aggregation == "sum":
                value = total
            elif metric.aggregation == "ratio_of_sums":
                value = (
                    None
                    if numerator is None
                    or denominator is None
                    or denominator == 0
                    or metric.multiplier is None
                    else pg_mul(pg_div(numerator, denominator), metric.multiplier)
                )
            else:
                value = (
                    None
                    if weighted is None or population is None or population == 0
                    else pg_div(weighted, population)
                )
            rows.append(
                {
                    "area_code": area,
                    "level": level,
                    "value": value,
                    "numerator": numerator,
                    "denominator": denominator,
                    "places_reported": len(members),
                    "places_expected": expected(metric, area, chains) or len(members),
                }
            )
    rank(rows, metric)
    return rows


def expected(metric: MetricDef, area: str, chains: dict[str, list[str]]) -> int:
    return sum(
        1
        for chain in chains.values()
        for code in chain
        if code == area and (metric.scope == "national" or metric.owner_area_code in chain)
    )


def rank(rows: list[dict[str, Any]], metric: MetricDef) -> None:
    for row in rows:
        row["rank"] = row["rank_of"] = row["quintile"] = None
    if metric.direction == "neutral":
        return
    sign = -1 if metric.direction == "higher_is_better" else 1
    for level in ("place", "icb", "region"):
        ranked = [
            r
            for r in rows
            if r["level"] == level
            and r["value"] is not None
            and r["places_reported"] >= r["places_expected"]
        ]
        for r in ranked:
            r["rank"] = 1 + sum(1 for other in ranked if sign * other["value"] < sign * r["value"])
            r["rank_of"] = len(ranked)
            r["quintile"] = 5 * (r["rank"] - 1) // r["rank_of"] + 1


# -- the engine, its answer as rows ---------------------------------------------------------------


def engine(
    catalogue: Catalogue,
    pairs: list[tuple[str, str]],
    observations: dict[tuple[str, str], dict[str, tuple[float, float | None, float | None]]],
) -> dict[tuple[str, str], list[dict[str, Any]] | None]:
    geography = areas.Geography.of(catalogue)
    codes = sorted({m for m, _ in pairs})
    metrics = areas.Metrics.of([catalogue.metrics[m] for m in codes], geography)
    place_index = {code: i for i, code in enumerate(geography.places)}
    flat = [
        (i, place_index[place], *figures)
        for i, pair in enumerate(pairs)
        for place, figures in observations.get(pair, {}).items()
        if place in place_index
    ]
    flat.reverse()  # the engine orders them itself

    def column(k: int, dtype: type) -> np.ndarray:
        return np.array([o[k] for o in flat], dtype=dtype)

    def optional(k: int) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.array([0.0 if o[k] is None else o[k] for o in flat], dtype=float),
            np.array([o[k] is not None for o in flat], dtype=bool),
        )

    numerator, numerator_known = optional(3)
    denominator, denominator_known = optional(4)
    observed = areas.Observations(
        pair=column(0, np.int64),
        place=column(1, np.int64),
        value=column(2, float),
        numerator=numerator,
        numerator_known=numerator_known,
        denominator=denominator,
        denominator_known=denominator_known,
    )
    pair_metric = np.searchsorted(codes, [m for m, _ in pairs]).astype(np.int64)
    computed = areas.area_values(observed, pair_metric, metrics, geography)
    found: dict[tuple[str, str], list[dict[str, Any]] | None] = {
        pairs[i]: None for i in computed.set_aside
    }
    found.update({pairs[i]: [] for i in computed.kept})
    v = computed.values

    def number(x: Any) -> float | None:
        return None if math.isnan(x) else float(x)

    def whole(x: Any) -> int | None:
        return None if x == 0 else int(x)

    for i in range(len(v)):
        rows = found[pairs[int(v.pair[i])]]
        assert rows is not None
        rows.append(
            {
                "area_code": geography.areas[v.area[i]],
                "level": areas.LEVELS[v.level[i]],
                "value": number(v.value[i]),
                "numerator": number(v.numerator[i]),
                "denominator": number(v.denominator[i]),
                "places_reported": int(v.places_reported[i]),
                "places_expected": int(v.places_expected[i]),
                "ci_lower": number(v.ci_lower[i]),
                "ci_upper": number(v.ci_upper[i]),
                "comparison": COMPARISONS[v.comparison[i]],
                "rank": whole(v.rank[i]),
                "rank_of": whole(v.rank_of[i]),
                "quintile": whole(v.quintile[i]),
            }
        )
    return found


def exactly(rows: list[dict[str, Any]] | None) -> Any:
    """Rows keyed by area, floats by their bits (so -0.0 is not 0.0, and NaN would show)."""
    if rows is None:
        return None

    def bits(x: Any) -> Any:
        return struct.pack(">d", x).hex() if isinstance(x, float) else x

    return {(r["level"], r["area_code"]): {k: bits(x) for k, x in sorted(r.items())} for r in rows}


# -- random catalogues and observations -----------------------------------------------------------

bounded = st.floats(min_value=MIN_MAGNITUDE, max_value=MAX_MAGNITUDE)
beyond_bounds = st.sampled_from(
    [1e300, -1e300, 1.7e308, 1e-300, 5e-324, -0.0, math.inf, -math.inf, math.nan]
)
values = st.one_of(
    st.sampled_from([0.0, 1.0, 2.5, 50.0, 100.0]),  # ties
    st.integers(-1000, 100_000).map(float),
    bounded,
    bounded.map(lambda x: -x),
    beyond_bounds,
)
counts = st.one_of(
    st.integers(0, 12).map(float),  # exact Poisson below 10, Byar's from 10
    st.integers(0, 5000).map(float),
    st.sampled_from([0.5, 2.5, 9.5]),
    bounded,
)
denominators = st.one_of(st.integers(0, 5000).map(float), bounded, st.just(-10.0))


@st.composite
def figures(draw: st.DrawFn) -> tuple[float, float | None, float | None]:
    denominator = draw(st.one_of(st.none(), denominators, beyond_bounds))
    numerator = draw(
        st.one_of(
            st.none(),
            counts,
            beyond_bounds,
            # a proportion's numerator at most its denominator, often
            st.floats(0, 1).map(lambda f: None if denominator is None else f * denominator),
            st.just(denominator),
        )
    )
    return draw(values), numerator, denominator


@st.composite
def datasets(draw: st.DrawFn) -> tuple[Catalogue, list[tuple[str, str]], dict]:
    area_rows = [{"code": ENGLAND, "name": "England", "level": "nation", "parent_code": None}]
    places = []
    for r in range(draw(st.integers(1, 3))):
        region = f"E4000000{r}"
        area_rows.append({"code": region, "level": "region", "parent_code": ENGLAND})
        for i in range(draw(st.integers(1, 3))):
            icb = f"E540000{r}{i}"
            area_rows.append({"code": icb, "level": "icb", "parent_code": region})
            for p in range(draw(st.integers(1, 4))):
                places.append(f"E0600{r}{i}{p}")
                area_rows.append({"code": places[-1], "level": "place", "parent_code": icb})
    # A place whose ICB is not in the catalogue: in no roll-up.
    area_rows.append({"code": "E06999999", "level": "place", "parent_code": "E54999999"})
    for row in area_rows:
        row.setdefault("name", row["code"])
        row["population"] = draw(
            st.one_of(st.none(), st.integers(0, 10**6), st.just(0))
            if row["level"] == "place"
            else st.none()
        )
    owners = [r["code"] for r in area_rows] + ["E99999999"]
    metric_rows = []
    for m in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(areas.KINDS))
        metric_rows.append(
            {
                "code": f"metric-{m}",
                "name": f"Metric {m}",
                "unit": "x",
                "version": 1,
                "status": "active",
                "scope": draw(st.sampled_from(["national", "local"])),
                "owner_area_code": draw(st.sampled_from(owners)),
                "kind": kind,
                "multiplier": draw(st.sampled_from([None, 0.0, 1.0, 100.0, 1000.0, 100_000.0])),
                "direction": draw(st.sampled_from(areas.DIRECTIONS)),
                "periodicity": "monthly",
                "aggregation": draw(st.sampled_from(areas.AGGREGATIONS)),
                "valid_min": None,
                "valid_max": None,
                "decimals": 1,
                "submission_deadline_days": 20,
                "mandatory": False,
            }
        )
    catalogue = Catalogue.from_rows(area_rows, metric_rows)
    periods = [f"2025-0{k}" for k in range(1, draw(st.integers(1, 4)) + 1)]
    pairs = sorted((m["code"], period) for m in metric_rows for period in periods)
    reporting = [*places, "E06999999"]
    observations = {
        pair: {
            place: draw(figures())
            for place in draw(st.lists(st.sampled_from(reporting), unique=True))
        }
        for pair in pairs
    }
    return catalogue, pairs, observations


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(datasets())
def test_the_engine_gives_the_reference_row_by_row(dataset) -> None:
    catalogue, pairs, observations = dataset
    expected = reference(catalogue, pairs, observations)
    computed = engine(catalogue, pairs, observations)
    assert computed.keys() == expected.keys()
    for pair in pairs:
        assert exactly(computed[pair]) == exactly(expected[pair]), pair


def test_ties_share_a_rank_and_a_quintile_and_missing_counts_give_no_interval() -> None:
    """A worked case beside the random ones: three places of one ICB, two tied."""
    catalogue = Catalogue.from_rows(
        [
            {**a, "name": a["code"], "population": 1000}
            for a in [
                {"code": ENGLAND, "level": "nation", "parent_code": None},
                {"code": "E40000000", "level": "region", "parent_code": ENGLAND},
                {"code": "E54000000", "level": "icb", "parent_code": "E40000000"},
            ]
            + [
                {"code": p, "level": "place", "parent_code": "E54000000"}
                for p in ("E06000001", "E06000002", "E06000003")
            ]
        ],
        [
            {
                "code": "m",
                "name": "M",
                "unit": "%",
                "version": 1,
                "status": "active",
                "scope": "national",
                "owner_area_code": ENGLAND,
                "kind": "proportion",
                "multiplier": 100.0,
                "direction": "higher_is_better",
                "periodicity": "monthly",
                "aggregation": "ratio_of_sums",
                "valid_min": 0,
                "valid_max": 100,
                "decimals": 1,
                "submission_deadline_days": 20,
                "mandatory": False,
            }
        ],
    )
    pair = ("m", "2025-01")
    observations = {
        pair: {
            "E06000001": (90.0, 90.0, 100.0),
            "E06000002": (90.0, 90.0, 100.0),
            "E06000003": (80.0, None, 100.0),
        }
    }
    rows = engine(catalogue, [pair], observations)[pair]
    assert rows is not None
    by_area = {r["area_code"]: r for r in rows}
    assert [by_area[p]["rank"] for p in ("E06000001", "E06000002", "E06000003")] == [1, 1, 3]
    assert [by_area[p]["quintile"] for p in ("E06000001", "E06000002", "E06000003")] == [1, 1, 4]
    assert by_area["E06000003"]["ci_lower"] is None
    # England: 180 / 300 x 100 (the missing numerator is not summed, its denominator is).
    assert (by_area[ENGLAND]["value"], by_area[ENGLAND]["numerator"]) == (60.0, 180.0)
    assert exactly(rows) == exactly(reference(catalogue, [pair], observations)[pair])
