"""The maths of an evaluation: a heterogeneity-robust staggered difference-in-differences over a
place x period panel (docs/evaluation.md). No I/O.

The estimator is Borusyak, Jaravel & Spiess's imputation estimator computed as Wooldridge's
extended two-way fixed effects regression: OLS of the outcome on place dummies, period dummies
and one dummy per treated post-event (cohort, period) cell, so that the fixed effects are
estimated from the untreated observations only (never-treated places and the not-yet-treated
periods of the others) and each cell's dummy is the cell's average effect. Effects per event
time, and their average, are linear combinations of the cells' coefficients with the
place-clustered covariance. The pre-trend test regresses the untreated observations alone on the
fixed effects and lead dummies (BJS's test), so it is not contaminated by the effects.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from scipy import stats

NEVER = 2**62  # the cohort of a place with no event in the panel: after every period

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Panel:
    """One observation per row: its place's number, its period's number (consecutive periods
    have consecutive numbers) and its value; and per place, the period number containing its
    event (``NEVER`` for none)."""

    place: IntArray
    period: IntArray
    y: FloatArray
    cohort: IntArray  # indexed by place number


@dataclass(frozen=True)
class Coefficient:
    """One linear combination of the fitted coefficients, with its t interval."""

    k: int | None  # the event time; None for the average over k = 0..window
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    observations: int  # treated observations it averages (for leads: the untreated ones)
    places: int


@dataclass(frozen=True)
class Estimate:
    treated_places: int
    control_places: int
    treated_observations: int
    observations: int
    df: int  # min(treated places, control places) - 1
    average: Coefficient
    effects: list[Coefficient]  # k = 0..window, where there are treated observations
    leads: list[Coefficient]  # k = -leads..-1
    pretrend_p_value: float | None  # the leads' joint Wald test; None without leads


@dataclass(frozen=True)
class Refusal:
    reason: str


MIN_PLACES = 10  # treated and control places below which a group is refused
WARN_PLACES = 20  # below which it is estimated with a warning


def event_time(panel: Panel) -> IntArray:
    """Each observation's period relative to its place's event (hugely negative for NEVER)."""
    return panel.period - panel.cohort[panel.place]


def treated_mask(panel: Panel) -> npt.NDArray[np.bool_]:
    return panel.period >= panel.cohort[panel.place]


def estimate(panel: Panel, in_group: npt.NDArray[np.bool_], window: int) -> Estimate | Refusal:
    """The group's effect (``in_group`` indexed by place number: the treated places it
    estimates for) against every untreated observation of the panel. Post-event observations
    of places outside the group, and a group's beyond the window, are left out."""
    treated = treated_mask(panel)
    k = event_time(panel)
    group_obs = in_group[panel.place]
    keep = ~treated | (group_obs & (k <= window))
    place, period, y, k, treated = (
        panel.place[keep],
        panel.period[keep],
        panel.y[keep],
        k[keep],
        treated[keep],
    )
    # A place without an untreated observation has a fixed effect nothing can estimate.
    usable = np.isin(place, place[~treated])
    place, period, y = place[usable], period[usable], y[usable]
    k, treated = k[usable], treated[usable]
    group_obs = in_group[place]
    treated_places = np.unique(place[treated])
    if treated_places.size == 0:
        return Refusal(
            "no treated place has both a period before its event and one after it in the data"
        )
    treated_periods = np.unique(period[treated])
    control_places = np.unique(place[~treated & np.isin(period, treated_periods)])
    if treated_places.size < MIN_PLACES or control_places.size < MIN_PLACES:
        return Refusal(
            f"{treated_places.size} treated and {control_places.size} control places: at least "
            f"{MIN_PLACES} of each are needed for an interval that means anything"
        )
    df = int(min(treated_places.size, control_places.size) - 1)

    cells, inverse = np.unique(
        np.stack([panel.cohort[place[treated]], period[treated]]), axis=1, return_inverse=True
    )
    cell_of = np.full(place.size, -1)
    cell_of[treated] = inverse.ravel()
    fit = _ols(y, place, period, cell_of, cells.shape[1], cluster=place)
    if not fit.identified:
        return Refusal(
            "the untreated observations cannot tell the effect apart from the period effects "
            "(some periods after an event have no place without it)"
        )
    n_cell = np.bincount(cell_of[treated], minlength=cells.shape[1]).astype(float)
    cell_k = cells[1] - cells[0]
    combos, effects_meta = [], []
    for event_k in range(window + 1):
        members = cell_k == event_k
        if not members.any():
            continue
        combos.append(np.where(members, n_cell, 0.0) / n_cell[members].sum())
        in_k = treated & (k == event_k)
        effects_meta.append((event_k, int(in_k.sum()), int(np.unique(place[in_k]).size)))
    average_weights = n_cell / n_cell.sum()
    coefficients = _combinations(fit, np.array([average_weights, *combos]), df)
    average = _coefficient(coefficients[0], None, int(treated.sum()), int(treated_places.size), df)
    effects = [
        _coefficient(c, event_k, n, places, df)
        for c, (event_k, n, places) in zip(coefficients[1:], effects_meta, strict=True)
    ]
    leads, p_value = _pretrend(
        place[~treated], period[~treated], y[~treated], k[~treated], group_obs[~treated], window, df
    )
    return Estimate(
        treated_places=int(treated_places.size),
        control_places=int(control_places.size),
        treated_observations=int(treated.sum()),
        observations=int(place.size),
        df=df,
        average=average,
        effects=effects,
        leads=leads,
        pretrend_p_value=p_value,
    )


@dataclass(frozen=True)
class _Fit:
    params: FloatArray  # the extra columns' coefficients (cells or leads)
    cov: FloatArray
    # False when the columns are collinear: the coefficients are then one arbitrary solution
    # of many (statsmodels' pseudo-inverse), so nothing may be read from them.
    identified: bool


def _ols(
    y: FloatArray,
    place: IntArray,
    period: IntArray,
    extra: IntArray,
    n_extra: int,
    *,
    cluster: IntArray,
) -> _Fit:
    """OLS of y on place dummies, period dummies (one left out) and the ``extra`` dummies
    (the column number per observation, -1 for none), with place-clustered covariance; the
    extra columns' coefficients and covariance.

    The place dummies are absorbed by demeaning every column within its place (Frisch-Waugh-
    Lovell: the same coefficients and residuals), which keeps the matrix statsmodels factors
    small; the clustered covariance then counts the parameters without the place effects
    nested in the clusters, as fixest and reghdfe do."""
    places, place_col = np.unique(place, return_inverse=True)
    periods_, period_col = np.unique(period, return_inverse=True)
    n = y.size
    x = np.zeros((n, periods_.size - 1 + n_extra))
    rows = np.arange(n)
    later = period_col > 0
    x[rows[later], period_col[later] - 1] = 1.0
    has = extra >= 0
    first_extra = periods_.size - 1
    x[rows[has], first_extra + extra[has]] = 1.0
    count = np.bincount(place_col).astype(float)
    x -= _place_sums(x, place_col, places.size)[place_col] / count[place_col, None]
    y = y - (np.bincount(place_col, weights=y) / count)[place_col]
    identified = bool(np.linalg.matrix_rank(x) == x.shape[1])
    if not identified:
        return _Fit(np.zeros(n_extra), np.zeros((n_extra, n_extra)), identified=False)
    result = sm.OLS(y, x, hasconst=False).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    params = np.asarray(result.params)[first_extra:]
    cov = np.asarray(result.cov_params())[first_extra:, first_extra:]
    return _Fit(params, cov, identified=True)


def _place_sums(x: FloatArray, place_col: IntArray, n_places: int) -> FloatArray:
    sums = np.zeros((n_places, x.shape[1]))
    np.add.at(sums, place_col, x)
    return sums


def _combinations(fit: _Fit, weights: FloatArray, df: int) -> list[tuple[float, float, float]]:
    """(estimate, se, half-width of the 95 % t interval) of each row of ``weights``."""
    values = weights @ fit.params
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", weights, fit.cov, weights), 0.0))
    half = stats.t.ppf(0.975, df) * se
    return [(float(v), float(s), float(h)) for v, s, h in zip(values, se, half, strict=True)]


def _coefficient(
    c: tuple[float, float, float], k: int | None, observations: int, places: int, df: int
) -> Coefficient:
    value, se, half = c
    return Coefficient(k, value, se, value - half, value + half, observations, places)


def _pretrend(
    place: IntArray,
    period: IntArray,
    y: FloatArray,
    k: IntArray,
    group_obs: npt.NDArray[np.bool_],
    window: int,
    df: int,
) -> tuple[list[Coefficient], float | None]:
    """BJS's test on the untreated observations: lead dummies for the group's places at
    k = -leads..-1 beside the fixed effects, the earlier periods the reference. ``leads`` is the
    window, or fewer where the group's places have too few earlier periods to leave one."""
    # Only the group's places with an event lead up to one: a never-treated place in the group
    # (every place is in `by=none`'s) has no lead, and must not set how many leads there are.
    leading = group_obs & (k > -(NEVER // 2))
    earliest = int(-k[leading].min()) if leading.any() else 0
    n_leads = min(window, earliest - 1)
    if n_leads < 1:
        return [], None
    lead = np.where(leading & (k >= -n_leads) & (k <= -1), k + n_leads, -1)
    fit = _ols(y, place, period, lead, n_leads, cluster=place)
    if not fit.identified:
        return [], None
    eye = np.eye(n_leads)
    coefficients = _combinations(fit, eye, df)
    leads = [
        _coefficient(
            c,
            j - n_leads,
            int((lead == j).sum()),
            int(np.unique(place[lead == j]).size),
            df,
        )
        for j, c in enumerate(coefficients)
    ]
    try:
        wald = float(fit.params @ np.linalg.solve(fit.cov, fit.params)) / n_leads
    except np.linalg.LinAlgError:
        return leads, None
    return leads, float(stats.f.sf(wald, n_leads, df))
