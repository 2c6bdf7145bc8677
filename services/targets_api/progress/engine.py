"""Every target's progress in one pass over whole arrays, identical field by field to
``reference.target_progress`` (the one-series definition, checked against it by a property test).

The refresh reads its targets and their series as columns (``Targets``, ``Observations``); the
series become a 2-D array, one row per target, right-aligned (a row's n points in its last n
columns, in period order) so that the latest point, the last 5 and the last 12 are columns for
every series at once. Each definition is then a handful of array operations
(``definitions.statuses``, ``definitions.forecasts``, ``trend.recent_trends``,
``spc.batch.spc_batch``), the same operations in the same order as the scalar code, so that each
element is the same double.

Some targets go to the reference itself, one by one (a loop over the rare, documented here):
- data the scalar code refuses or that is outside the magnitude bounds (a period code that is
  not the metric's, a target period not after its baseline, two values for one period, a value
  or count that is not finite or beyond services/common/magnitude.py's bounds, a tolerance,
  baseline or target that is not finite): the reference raises (the target is set aside with
  its reason) or gives what it gives;
- a proportion's significant trend whose slope is within rounding of zero (trend.py says why).
The near-ties of the means, fsums and powers go to their scalar forms inside
services/common/exact.py. Whatever a target ends with that is not a finite number sets it
aside, as JSON (and a report) cannot carry it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.common import periods
from services.common.catalogue import MetricDef
from services.common.figures import derived_array
from services.common.magnitude import MAX_MAGNITUDE, MIN_MAGNITUDE
from services.targets_api.progress import definitions, reference, trend
from services.targets_api.progress.isolation import DATA_FAILURES, reason_of
from services.targets_api.spc.batch import spc_batch

# Positions wide enough for the forecast's 12 and the trend's 5 even when every series is short.
_MIN_WIDTH = definitions.FORECAST_MAX_POINTS
_NO_INDEX = np.iinfo(np.int64).min
_DIRECTION = {"higher_is_better": 1, "lower_is_better": -1, "neutral": 0}
FLOAT_COLUMNS = (
    "latest_value",
    "baseline_value",
    "target_value",
    "expected_value",
    "progress_pct",
    "forecast_value",
)
COLUMNS = (
    "plan_id",
    "metric_code",
    "place_code",
    "latest_period",
    "latest_value",
    "baseline_period",
    "baseline_value",
    "target_period",
    "target_value",
    "expected_value",
    "progress_pct",
    "status",
    "consecutive_off_track",
    "variation",
    "assurance",
    "forecast_value",
    "trend",
)


@dataclass(frozen=True)
class Targets:
    """One element per target; period codes are positions in ``codes``; ``tolerance`` NaN when
    none was set (``tolerance_set`` says which NaN was set); ``step_*``: the trajectories'
    steps, in their order, by target position."""

    codes: np.ndarray
    plan_id: np.ndarray
    metric_code: np.ndarray
    place_code: np.ndarray
    baseline_period: np.ndarray
    baseline_value: np.ndarray
    target_period: np.ndarray
    target_value: np.ndarray
    tolerance: np.ndarray
    tolerance_set: np.ndarray
    step_target: np.ndarray
    step_period: np.ndarray
    step_value: np.ndarray


@dataclass(frozen=True)
class Observations:
    """The current observations of the targets' series, one element each, in any order: the
    target position, the period (a position in ``Targets.codes``), value, numerator and
    denominator (NaN for none; ``numerator_nan`` and ``denominator_nan`` mark a count stored as
    NaN itself)."""

    target: np.ndarray
    period: np.ndarray
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    numerator_nan: np.ndarray
    denominator_nan: np.ndarray


@dataclass(frozen=True)
class Computed:
    """``columns`` (COLUMNS, as lists) of the targets at ``positions``; ``failed``: (position,
    reason) of the targets set aside."""

    positions: np.ndarray
    columns: dict[str, list[Any]]
    failed: list[tuple[int, str]]


def compute(
    targets: Targets, observations: Observations, metrics: Mapping[str, MetricDef]
) -> Computed:
    """The progress of every target, from its metric (in ``metrics``) and its series."""
    count = len(targets.plan_id)
    if not count:
        return Computed(positions=np.zeros(0, dtype=np.int64), columns={}, failed=[])
    metric_codes, metric_of = np.unique(targets.metric_code.astype(str), return_inverse=True)
    metric_list = [metrics[code] for code in metric_codes]
    direction = np.array([_DIRECTION[m.direction] for m in metric_list], dtype=np.int64)[metric_of]
    kind = np.array([m.kind for m in metric_list], dtype=object)[metric_of]
    multiplier = np.array([m.multiplier or 1 for m in metric_list], dtype=np.float64)[metric_of]
    index_of = _index_table(targets.codes, [m.periodicity for m in metric_list])

    baseline_index = index_of[metric_of, targets.baseline_period]
    target_index = index_of[metric_of, targets.target_period]
    exact = (
        (baseline_index == _NO_INDEX)
        | (target_index == _NO_INDEX)
        | (target_index <= baseline_index)
        | ~np.isfinite(targets.baseline_value)
        | ~np.isfinite(targets.target_value)
        | (targets.tolerance_set & ~np.isfinite(targets.tolerance))
    )
    step_index = index_of[metric_of[targets.step_target], targets.step_period]
    exact[targets.step_target[step_index == _NO_INDEX]] = True

    grid = _Grid.of(
        observations, index_of[metric_of[observations.target], observations.period], count
    )
    exact |= grid.unusual(count)
    present = grid.present & ~exact[:, None]

    with np.errstate(all="ignore"):
        on_trajectory, trajectory_value = _trajectory_at(targets, step_index, grid.index, present)
        expected = definitions.expected_values(
            index=grid.index,
            baseline_index=baseline_index[:, None],
            baseline_value=targets.baseline_value[:, None],
            target_index=target_index[:, None],
            target_value=targets.target_value[:, None],
            on_trajectory=on_trajectory,
            trajectory_value=trajectory_value,
        )
        status = definitions.statuses(
            direction=direction[:, None],
            value=grid.value,
            index=grid.index,
            present=present,
            baseline_index=baseline_index[:, None],
            target_index=target_index[:, None],
            target_value=targets.target_value[:, None],
            baseline_value=targets.baseline_value[:, None],
            expected=expected,
            tolerance=targets.tolerance[:, None],
        )
        # The run of off_track points that ends the series, each judged by its own expectation.
        off_track = status == definitions.OFF_TRACK
        off_track_run = np.cumprod(off_track[:, ::-1], axis=1).sum(axis=1)
        has_data = present[:, -1]
        latest_value = grid.value[:, -1]
        latest_status = np.where(has_data, status[:, -1], definitions.NO_DATA)
        assessed = latest_status != definitions.NO_DATA
        expected_latest = np.where(
            has_data & (grid.index[:, -1] > baseline_index), expected[:, -1], np.nan
        )
        progress = np.where(
            assessed & (targets.target_value != targets.baseline_value),
            (latest_value - targets.baseline_value)
            / (targets.target_value - targets.baseline_value)
            * 100,
            np.nan,
        )
        forecast = definitions.forecasts(
            index=grid.index, value=grid.value, present=present, at_index=target_index
        )
        chart = spc_batch(
            grid.value,
            present,
            direction,
            targets.target_value.astype(np.float64),
        )
        trended = np.isin(kind, ("proportion", "rate"))
        markers, undecided = trend.recent_trends(
            index=grid.index,
            numerator=grid.numerator,
            denominator=grid.denominator,
            present=present,
            of_proportions=kind == "proportion",
            multiplier=multiplier,
        )

    def column(values: np.ndarray) -> np.ndarray:
        return np.asarray(values).astype(object)

    columns: dict[str, np.ndarray] = {
        "plan_id": column(targets.plan_id),
        "metric_code": column(targets.metric_code),
        "place_code": column(targets.place_code),
        "latest_period": _or_none(targets.codes[grid.period[:, -1]], has_data),
        "latest_value": _or_none(latest_value, has_data),
        "baseline_period": column(targets.codes[targets.baseline_period]),
        "baseline_value": column(targets.baseline_value),
        "target_period": column(targets.codes[targets.target_period]),
        "target_value": column(targets.target_value),
        "expected_value": _derived(expected_latest),
        "progress_pct": _derived(progress),
        "status": np.array(definitions.STATUSES, dtype=object)[latest_status],
        "consecutive_off_track": column(off_track_run),
        "variation": _or_none(chart.variation, has_data),
        "assurance": _or_none(chart.assurance, has_data),
        "forecast_value": _derived(forecast),
        "trend": _or_none(np.array(trend.MARKERS, dtype=object)[markers], trended),
    }
    for position in np.flatnonzero(undecided & trended & ~exact):
        metric = metrics[targets.metric_code[position]]
        columns["trend"][position] = trend.recent_trend(
            grid.points(int(position)), kind=metric.kind, multiplier=metric.multiplier or 1
        )
    failed = _by_reference(targets, observations, metrics, np.flatnonzero(exact), columns)
    failed_at = np.zeros(count, dtype=bool)
    failed_at[[position for position, _ in failed]] = True
    for name in FLOAT_COLUMNS:
        given = columns[name] != None  # noqa: E711 (elementwise: None is no figure)
        figures = np.where(given, columns[name], np.nan).astype(np.float64)
        not_finite = given & ~np.isfinite(figures) & ~failed_at
        failed += [
            (int(position), f"ValueError: {name} is {figures[position]}, not a finite number")
            for position in np.flatnonzero(not_finite)
        ]
        failed_at |= not_finite
    keep = np.flatnonzero(~failed_at)
    return Computed(
        positions=keep,
        columns={name: values[keep].tolist() for name, values in columns.items()},
        failed=sorted(failed),
    )


def _derived(values: np.ndarray) -> np.ndarray:
    """Derived figures to 12 digits, NaN (none) as None (and infinity as it is: set aside)."""
    with np.errstate(invalid="ignore"):
        return _or_none(derived_array(values), ~np.isnan(values))


def _or_none(values: np.ndarray, given: np.ndarray) -> np.ndarray:
    """A column of Python values: ``values`` where ``given``, else None."""
    column = np.full(len(values), None, dtype=object)
    column[given] = values[given]
    return column


def _index_table(codes: np.ndarray, periodicities: list[str]) -> np.ndarray:
    """[metric, code] -> the code's period index on the metric's line, or _NO_INDEX."""
    table = np.full((len(periodicities), len(codes)), _NO_INDEX, dtype=np.int64)
    for m, periodicity in enumerate(periodicities):  # a few metrics x a few dozen codes
        for c, code in enumerate(codes.tolist()):
            index = reference.period_index(code, periods.Periodicity(periodicity))
            if index is not None:
                table[m, c] = index
    return table


@dataclass(frozen=True)
class _Grid:
    """Each target's series, right-aligned in rows of a common width."""

    present: np.ndarray
    index: np.ndarray
    period: np.ndarray
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    duplicated: np.ndarray  # targets with two values for one period (from a flat position)
    out_of_bounds: np.ndarray  # the same, for values and counts the bounds refuse

    @classmethod
    def of(cls, observations: Observations, index: np.ndarray, rows: int) -> "_Grid":
        # A period in another form than the metric's has no place on its line (indexed()).
        on_line = index != _NO_INDEX
        target, index = observations.target[on_line], index[on_line]
        order = np.lexsort((index, target))
        target, index = target[order], index[order]

        def sorted_(a: np.ndarray) -> np.ndarray:
            return a[on_line][order]

        value, numerator = sorted_(observations.value), sorted_(observations.numerator)
        denominator = sorted_(observations.denominator)
        lengths = np.bincount(target, minlength=rows)
        width = max(int(lengths.max(initial=0)), _MIN_WIDTH)
        starts = np.cumsum(lengths) - lengths
        column = width - lengths[target] + (np.arange(len(target)) - starts[target])
        with np.errstate(invalid="ignore"):
            refused = (
                _out_of_bounds(value, allow_none=False)
                | _out_of_bounds(numerator)
                | _out_of_bounds(denominator)
                | sorted_(observations.numerator_nan | observations.denominator_nan)
            )

        def grid(values: np.ndarray, fill: Any, dtype: Any) -> np.ndarray:
            out = np.full((rows, width), fill, dtype=dtype)
            out[target, column] = values
            return out

        same_period = np.zeros(len(target), dtype=bool)
        same_period[1:] = (target[1:] == target[:-1]) & (index[1:] == index[:-1])
        return cls(
            present=grid(np.ones(len(target), dtype=bool), False, bool),
            index=grid(index, 0, np.int64),
            period=grid(sorted_(observations.period), 0, np.int64),
            value=grid(value, 0.0, np.float64),
            numerator=grid(numerator, np.nan, np.float64),
            denominator=grid(denominator, np.nan, np.float64),
            duplicated=target[same_period],
            out_of_bounds=target[refused],
        )

    def unusual(self, count: int) -> np.ndarray:
        """Targets (of ``count``) whose series only the reference may judge."""
        flagged = np.zeros(count, dtype=bool)
        flagged[self.duplicated] = True
        flagged[self.out_of_bounds] = True
        return flagged

    def points(self, row: int) -> list[trend.TrendPoint]:
        """One series' points, for the scalar trend."""
        kept = self.present[row]

        def floats(a: np.ndarray) -> list[float | None]:
            return [None if np.isnan(x) else float(x) for x in a[row][kept]]

        return [
            trend.TrendPoint(index=int(i), numerator=r, denominator=n)
            for i, r, n in zip(
                self.index[row][kept].tolist(),
                floats(self.numerator),
                floats(self.denominator),
                strict=True,
            )
        ]


def _out_of_bounds(values: np.ndarray, *, allow_none: bool = True) -> np.ndarray:
    magnitude = np.abs(values)
    refused = ~np.isfinite(values) | (magnitude > MAX_MAGNITUDE)
    refused |= (magnitude > 0) & (magnitude < MIN_MAGNITUDE)
    return refused & ~np.isnan(values) if allow_none else refused


def _trajectory_at(
    targets: Targets, step_index: np.ndarray, index: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each point's period is on its target's trajectory, and the trajectory's value
    there (a period given twice takes its last value, as a dict built from the steps does)."""
    valid = step_index != _NO_INDEX
    keys = _key(targets.step_target[valid], step_index[valid])
    values = targets.step_value[valid]
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    keys, values = keys[last], values[last]
    if not len(keys):
        return np.zeros(index.shape, dtype=bool), np.zeros(index.shape)
    point_keys = _key(np.arange(index.shape[0])[:, None], index)
    at = np.minimum(np.searchsorted(keys, point_keys), len(keys) - 1)
    return present & (keys[at] == point_keys), values[at]


def _key(target: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(target, period index) as one sortable integer (indexes are years x 12 at most)."""
    return target.astype(np.int64) * (1 << 32) + (index + (1 << 31))


def _by_reference(
    targets: Targets,
    observations: Observations,
    metrics: Mapping[str, MetricDef],
    positions: np.ndarray,
    columns: dict[str, np.ndarray],
) -> list[tuple[int, str]]:
    """The targets at ``positions`` computed by the reference, one by one, into ``columns``;
    those it fails on, with the reason."""
    failed: list[tuple[int, str]] = []
    if not len(positions):
        return failed
    codes = targets.codes.tolist()
    order = np.argsort(observations.target, kind="stable")
    bounds = np.searchsorted(observations.target[order], [positions, positions + 1])
    for position, start, end in zip(positions.tolist(), *bounds.tolist(), strict=True):
        rows = order[start:end]
        target = {
            "plan_id": int(targets.plan_id[position]),
            "metric_code": targets.metric_code[position],
            "place_code": targets.place_code[position],
            "baseline_period": codes[targets.baseline_period[position]],
            "baseline_value": float(targets.baseline_value[position]),
            "target_period": codes[targets.target_period[position]],
            "target_value": float(targets.target_value[position]),
            "tolerance": float(targets.tolerance[position])
            if targets.tolerance_set[position]
            else None,
            "trajectory": [
                {"period": codes[p], "value": float(v)}
                for p, v in zip(
                    targets.step_period[targets.step_target == position].tolist(),
                    targets.step_value[targets.step_target == position].tolist(),
                    strict=True,
                )
            ],
        }
        series = [
            (
                codes[int(observations.period[i])],
                float(observations.value[i]),
                _none_for_nan(observations.numerator[i], observations.numerator_nan[i]),
                _none_for_nan(observations.denominator[i], observations.denominator_nan[i]),
            )
            for i in rows.tolist()
        ]
        try:
            row = reference.target_progress(target, metrics[target["metric_code"]], series)
        except DATA_FAILURES as error:
            failed.append((position, reason_of(error)))
            continue
        for name in COLUMNS:
            columns[name][position] = row[name]
    return failed


def _none_for_nan(value: float, stored_as_nan: bool) -> float | None:
    return float(value) if stored_as_nan or not np.isnan(value) else None
