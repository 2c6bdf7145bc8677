"""Area values of every (metric, period) pair of a refresh at once, over arrays.

For each pair: each place's own value, the roll-ups of its ICB, region and England by the
metric's aggregation, places reported and expected, rank, rank_of and quintile, the 95 %
interval and the comparison with England. The definitions are those of the SQL roll-up this
replaces and of ``reference.with_interval`` (the one-row reference that the property test holds
this to, field by field and bit by bit):

- a place's value is as submitted; a roll-up is ``sum`` of the values, ``ratio_of_sums`` (sum of
  numerators / sum of denominators x multiplier, none without a multiplier or with no
  denominator) or ``population_weighted_mean``; sums skip what is not there, as SQL's do;
- rank 1 is the best of a level; neutral metrics, England, an area without a value and an
  incomplete roll-up (fewer places reported than expected) have none; ties share a rank, and the
  quintile comes from the rank;
- derived figures (roll-ups, limits) are stored to 12 significant digits (``derived_array``).

Sums run in the order of the places' codes (``np.bincount`` adds in input order), so they are
reproducible. A pair is set aside, with its reason, where SQL or the JSON it was written as
would have refused it: an overflow or underflow in the roll-up's arithmetic (PostgreSQL raises
on both), or a figure that is not a finite number.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np

from services.common.catalogue import Catalogue, MetricDef
from services.common.figures import derived_array
from services.common.vocabulary import Aggregation, Direction, Kind
from services.targets_api.progress import intervals

LEVELS = ("place", "icb", "region", "nation")
PLACE, NATION = 0, 3
KINDS: tuple[Kind, ...] = get_args(Kind)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
AGGREGATIONS: tuple[Aggregation, ...] = get_args(Aggregation)
OUT_OF_RANGE = (
    "a figure of this metric and period is out of range: the roll-up's arithmetic overflows or "
    "underflows, or gives what is not a finite number"
)


@dataclass(frozen=True)
class Geography:
    """The places with a full lineage (place, ICB, region, nation) and every area they roll up
    into, as indexes: ``chain[p, level]`` is place p's area at that level."""

    places: list[str]  # in code order: the order roll-ups add them in
    areas: list[str]
    chain: np.ndarray  # (places, 4) indexes into areas
    population: np.ndarray  # per place; NaN where not known
    population_known: np.ndarray

    @classmethod
    def of(cls, catalogue: Catalogue) -> "Geography":
        chains = sorted(
            chain
            for area in catalogue.areas.values()
            if area.level == "place" and len(chain := catalogue.lineage(area.code)) == 4
        )
        areas = sorted({code for chain in chains for code in chain})
        index = {code: i for i, code in enumerate(areas)}
        population = [catalogue.areas[chain[0]].population for chain in chains]
        return cls(
            places=[chain[0] for chain in chains],
            areas=areas,
            chain=np.array([[index[c] for c in chain] for chain in chains], dtype=np.int64).reshape(
                -1, 4
            ),
            population=np.array([np.nan if p is None else p for p in population], dtype=float),
            population_known=np.array([p is not None for p in population], dtype=bool),
        )


@dataclass(frozen=True)
class Metrics:
    """The metrics of a refresh's pairs, one element per metric."""

    codes: list[str]
    kind: np.ndarray  # indexes into KINDS
    direction: np.ndarray  # into DIRECTIONS
    aggregation: np.ndarray  # into AGGREGATIONS
    multiplier: np.ndarray  # NaN where the metric has none
    # (metrics, areas): the places below each area that the metric applies to (a national
    # metric: all of them; a local one: those at or below its owner); 0 where none.
    places_expected: np.ndarray

    @classmethod
    def of(cls, metrics: Sequence[MetricDef], geography: Geography) -> "Metrics":
        area_index = {code: i for i, code in enumerate(geography.areas)}
        owner = np.array([area_index.get(m.owner_area_code, -1) for m in metrics], dtype=np.int64)
        national = np.array([m.scope == "national" for m in metrics], dtype=bool)
        applies = national[:, None] | (owner[:, None, None] == geography.chain[None]).any(axis=2)
        n_areas = len(geography.areas)
        expected = np.zeros((len(metrics), n_areas), dtype=np.int64)
        metric_of, place_of = np.nonzero(applies)
        for level in range(len(LEVELS)):  # four levels, each over every (metric, place) at once
            keys = metric_of * n_areas + geography.chain[place_of, level]
            expected += np.bincount(keys, minlength=expected.size).reshape(expected.shape)
        return cls(
            codes=[m.code for m in metrics],
            kind=np.array([KINDS.index(m.kind) for m in metrics], dtype=np.int64),
            direction=np.array([DIRECTIONS.index(m.direction) for m in metrics], dtype=np.int64),
            aggregation=np.array(
                [AGGREGATIONS.index(m.aggregation) for m in metrics], dtype=np.int64
            ),
            multiplier=np.array(
                [np.nan if m.multiplier is None else m.multiplier for m in metrics], dtype=float
            ),
            places_expected=expected,
        )


@dataclass(frozen=True)
class Observations:
    """The current observations of a refresh's pairs, one element per observation."""

    pair: np.ndarray  # index of its (metric, period) pair
    place: np.ndarray  # index into Geography.places
    value: np.ndarray
    numerator: np.ndarray
    numerator_known: np.ndarray  # False where the numerator is NULL
    denominator: np.ndarray
    denominator_known: np.ndarray


@dataclass(frozen=True)
class AreaValues:
    """One element per area value, ordered by pair; NaN is NULL in the float columns (every
    figure of a pair that is kept is finite) and 0 in rank, rank_of and quintile."""

    pair: np.ndarray
    area: np.ndarray  # index into Geography.areas
    level: np.ndarray  # index into LEVELS
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    places_reported: np.ndarray
    places_expected: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    comparison: np.ndarray  # index into intervals.COMPARISONS
    rank: np.ndarray
    rank_of: np.ndarray
    quintile: np.ndarray

    def of_pairs(self, pairs: Sequence[int]) -> "AreaValues":
        keep = np.isin(self.pair, np.asarray(pairs, dtype=np.int64))
        return AreaValues(**{name: column[keep] for name, column in vars(self).items()})

    def __len__(self) -> int:
        return len(self.pair)


@dataclass(frozen=True)
class Computed:
    values: AreaValues  # of the pairs kept
    kept: list[int]  # pair indexes, ascending
    set_aside: list[int]  # pair indexes whose figures are out of range (OUT_OF_RANGE)


def area_values(
    observed: Observations, pair_metric: np.ndarray, metrics: Metrics, geography: Geography
) -> Computed:
    """``pair_metric``: each pair's metric, as an index into ``metrics``."""
    n_pairs = len(pair_metric)
    order = np.lexsort((observed.place, observed.pair))
    pair, place = observed.pair[order], observed.place[order]
    value = observed.value[order]
    num, num_known = observed.numerator[order], observed.numerator_known[order]
    den, den_known = observed.denominator[order], observed.denominator_known[order]
    population = geography.population[place]
    population_known = geography.population_known[place]
    with np.errstate(all="ignore"):
        weighted = value * population
    refused = np.zeros(n_pairs)

    levels = [_places(pair, place, value, num, num_known, den, den_known, geography)]
    for level in range(1, len(LEVELS)):
        rolled, refusals = _roll_up(
            level,
            pair=pair,
            area=geography.chain[place, level],
            columns=(value, weighted, population, num, den),
            known=(
                np.ones(len(pair), dtype=bool),
                population_known,
                population_known,
                num_known,
                den_known,
            ),
            pair_metric=pair_metric,
            metrics=metrics,
            n_areas=len(geography.areas),
        )
        levels.append(rolled)
        refused += np.bincount(rolled["pair"], weights=refusals, minlength=n_pairs)
    rows = {name: np.concatenate([lv[name] for lv in levels]) for name in levels[0]}
    by_pair = np.argsort(rows["pair"], kind="stable")
    rows = {name: column[by_pair] for name, column in rows.items()}

    metric = pair_metric[rows["pair"]]
    direction = metrics.direction[metric]
    expected = metrics.places_expected[metric, rows["area"]]
    places_expected = np.where(expected > 0, expected, rows["places_reported"])
    rank, rank_of = _ranks(rows, direction, places_expected)

    def null_where_unknown(column: str) -> np.ndarray:
        return np.where(rows[f"{column}_known"], rows[column], np.nan)

    value = null_where_unknown("value")
    national = np.full(n_pairs, np.nan)  # England's value as computed, before it is rounded
    at_nation = rows["level"] == NATION
    national[rows["pair"][at_nation]] = value[at_nation]
    interval, has_interval = _intervals(rows, metric, metrics)
    compared = (
        has_interval
        & ~np.isnan(national[rows["pair"]])
        & (direction != DIRECTIONS.index("neutral"))
        & ~at_nation
    )
    higher_is_better = direction == DIRECTIONS.index("higher_is_better")
    comparison = intervals.comparison_array(
        interval, national[rows["pair"]], higher_is_better, compared
    )
    with np.errstate(all="ignore"):  # not-finite figures' pairs are set aside just below
        ci = np.where(has_interval[:, None], derived_array(interval), np.nan)
        derived_value = derived_array(value)

    not_finite = (
        (rows["value_known"] & ~np.isfinite(rows["value"]))
        | (rows["numerator_known"] & ~np.isfinite(rows["numerator"]))
        | (rows["denominator_known"] & ~np.isfinite(rows["denominator"]))
        | (has_interval & ~np.isfinite(interval).all(axis=1))
    )
    refused += np.bincount(rows["pair"], weights=not_finite, minlength=n_pairs)
    set_aside = refused > 0
    keep = ~set_aside[rows["pair"]]

    at_place = rows["level"] == PLACE
    values = AreaValues(
        pair=rows["pair"],
        area=rows["area"],
        level=rows["level"],
        value=np.where(at_place, value, derived_value),
        numerator=null_where_unknown("numerator"),
        denominator=null_where_unknown("denominator"),
        places_reported=rows["places_reported"],
        places_expected=places_expected,
        ci_lower=ci[:, 0],
        ci_upper=ci[:, 1],
        comparison=comparison,
        rank=rank,
        rank_of=rank_of,
        quintile=np.where(rank > 0, 5 * (rank - 1) // np.maximum(rank_of, 1) + 1, 0),
    )
    return Computed(
        values=AreaValues(**{name: column[keep] for name, column in vars(values).items()}),
        kept=np.flatnonzero(~set_aside).tolist(),
        set_aside=np.flatnonzero(set_aside).tolist(),
    )


def _places(
    pair: np.ndarray,
    place: np.ndarray,
    value: np.ndarray,
    num: np.ndarray,
    num_known: np.ndarray,
    den: np.ndarray,
    den_known: np.ndarray,
    geography: Geography,
) -> dict[str, np.ndarray]:
    """Each place's own row: its value, numerator and denominator as submitted."""
    return {
        "pair": pair,
        "area": geography.chain[place, PLACE],
        "level": np.full(len(pair), PLACE),
        "value": value,
        "value_known": np.ones(len(pair), dtype=bool),
        "numerator": num,
        "numerator_known": num_known,
        "denominator": den,
        "denominator_known": den_known,
        "places_reported": np.ones(len(pair), dtype=np.int64),
    }


def _roll_up(
    level: int,
    *,
    pair: np.ndarray,
    area: np.ndarray,
    columns: tuple[np.ndarray, ...],
    known: tuple[np.ndarray, ...],
    pair_metric: np.ndarray,
    metrics: Metrics,
    n_areas: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rows of one level: one per (pair, area) with observations below it; and, per row,
    whether SQL would have refused its arithmetic."""
    groups, group = np.unique(pair * n_areas + area, return_inverse=True)
    sums = [
        _sum(group, column, is_known, len(groups))
        for column, is_known in zip(columns, known, strict=True)
    ]
    (s_value, _), (s_weighted, weighted_known), (s_population, population_known) = sums[:3]
    (s_num, num_known), (s_den, den_known) = sums[3:]
    group_pair = groups // n_areas
    metric = pair_metric[group_pair]
    aggregation = metrics.aggregation[metric]
    multiplier = metrics.multiplier[metric]

    with np.errstate(all="ignore"):
        ratio = s_num / s_den
        ratio_times = ratio * multiplier
        mean = s_weighted / s_population
    is_ratio = aggregation == AGGREGATIONS.index("ratio_of_sums")
    is_mean = aggregation == AGGREGATIONS.index("population_weighted_mean")
    ratio_known = num_known & den_known & (s_den != 0) & ~np.isnan(multiplier)
    mean_known = weighted_known & population_known & (s_population != 0)
    value = np.where(is_ratio, ratio_times, np.where(is_mean, mean, s_value))
    value_known = np.where(is_ratio, ratio_known, np.where(is_mean, mean_known, True))
    # A sum refuses on overflow only; a quotient or product also on underflow (PostgreSQL).
    refusals = np.zeros(len(groups), dtype=bool)
    # SQL computes every aggregate of its roll-up for every metric (a CASE does not stop an
    # aggregate), so any of these sums overflowing refuses the pair whatever its aggregation;
    # a value x population that overflows makes its sum infinite, and one cannot underflow
    # (populations are whole numbers).
    for total, is_known in sums:
        refusals |= is_known & _overflows(total)
    refusals |= (is_ratio & ratio_known) & (
        _overflows(ratio)
        | _underflows_quotient(ratio, s_num, s_den)
        | _overflows(ratio_times)
        | _underflows(ratio_times, ratio, multiplier)
    )
    refusals |= (is_mean & mean_known) & (
        _overflows(mean) | _underflows_quotient(mean, s_weighted, s_population)
    )
    return {
        "pair": group_pair,
        "area": groups % n_areas,
        "level": np.full(len(groups), level),
        "value": value,
        "value_known": value_known,
        "numerator": s_num,
        "numerator_known": num_known,
        "denominator": s_den,
        "denominator_known": den_known,
        "places_reported": np.bincount(group, minlength=len(groups)),
    }, refusals


def _sum(
    group: np.ndarray, column: np.ndarray, known: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """SQL's sum() per group, in input order: (total, whether any term was there). SQL starts
    from the first term, np.bincount from +0.0; they differ only when every term is -0.0."""
    terms = np.where(known, column, 0.0)
    with np.errstate(all="ignore"):
        total = np.bincount(group, weights=terms, minlength=n_groups)
    count = np.bincount(group, weights=known, minlength=n_groups)
    negative_zeros = np.bincount(
        group, weights=known & (terms == 0) & np.signbit(terms), minlength=n_groups
    )
    total = np.where((count > 0) & (negative_zeros == count), -0.0, total)
    return total, count > 0


def _overflows(result: np.ndarray) -> np.ndarray:
    """Infinite or NaN: from finite terms PostgreSQL raises 'value out of range: overflow'; from
    terms that were already not finite the figure is not one either, and is refused anyway."""
    return ~np.isfinite(result)


def _underflows(product: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (product == 0) & (a != 0) & (b != 0)


def _underflows_quotient(quotient: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (quotient == 0) & (a != 0) & np.isfinite(b)


def _ranks(
    rows: dict[str, np.ndarray], direction: np.ndarray, places_expected: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """SQL's rank() and count(*) over the ranked rows of each (pair, level), best first; 0 for
    the rows that are not ranked."""
    value = rows["value"]
    ranked = (
        (direction != DIRECTIONS.index("neutral"))
        & rows["value_known"]
        & (rows["level"] != NATION)
        & (rows["places_reported"] >= places_expected)
    )
    chosen = np.flatnonzero(ranked)
    key = np.where(direction == DIRECTIONS.index("higher_is_better"), -value, value)[chosen]
    partition = (rows["pair"] * len(LEVELS) + rows["level"])[chosen]
    order = np.lexsort((key, partition))
    key, partition = key[order], partition[order]
    position = np.arange(len(order))
    new_partition = np.ones(len(order), dtype=bool)
    new_partition[1:] = partition[1:] != partition[:-1]
    new_key = new_partition.copy()
    new_key[1:] |= key[1:] != key[:-1]
    first_of_partition = np.maximum.accumulate(np.where(new_partition, position, 0))
    first_of_key = np.maximum.accumulate(np.where(new_key, position, 0))
    partitions, which, sizes = np.unique(partition, return_inverse=True, return_counts=True)
    rank = np.zeros(len(value), dtype=np.int64)
    rank_of = np.zeros(len(value), dtype=np.int64)
    rank[chosen[order]] = first_of_key - first_of_partition + 1
    rank_of[chosen[order]] = sizes[which]
    return rank, rank_of


def _intervals(
    rows: dict[str, np.ndarray], metric: np.ndarray, metrics: Metrics
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's 95 % interval (where its kind has one) as (lower, upper), and where it has
    one: Wilson for a proportion with numerator <= denominator, Poisson for a rate, none for
    other kinds or a population-weighted roll-up (reference.with_interval)."""
    num, den = rows["numerator"], rows["denominator"]
    kind = metrics.kind[metric]
    multiplier = metrics.multiplier[metric]
    multiplier = np.where(np.isnan(multiplier) | (multiplier == 0), 1.0, multiplier)
    weighted_roll_up = (rows["level"] != PLACE) & (
        metrics.aggregation[metric] == AGGREGATIONS.index("population_weighted_mean")
    )
    with np.errstate(invalid="ignore"):
        eligible = (
            ~weighted_roll_up
            & rows["numerator_known"]
            & rows["denominator_known"]
            & ~(den <= 0)
            & ~(num < 0)
        )
        wilson = eligible & (kind == KINDS.index("proportion")) & (num <= den)
    rate = eligible & (kind == KINDS.index("rate"))
    interval = np.full((len(num), 2), np.nan)
    with np.errstate(all="ignore"):
        interval[wilson] = (
            intervals.wilson_interval_array(num[wilson], den[wilson]) * multiplier[wilson, None]
        )
    interval[rate] = intervals.rate_interval_array(num[rate], den[rate], multiplier[rate])
    return interval, wilson | rate
