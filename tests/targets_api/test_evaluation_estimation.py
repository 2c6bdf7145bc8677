"""The evaluation's estimator on synthetic staggered panels whose effects are known
(services/targets_api/evaluation/estimation.py)."""

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from services.targets_api.evaluation.estimation import NEVER, Estimate, Panel, Refusal, estimate

PLACES = 60
PERIODS = 30
WINDOW = 6


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """As the service runs it: the machine's cores are shared."""
    with threadpool_limits(limits=1):
        yield


Effect = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (cohort per obs, event time) -> effect


def _panel(
    seed: int,
    effect: Effect,
    *,
    places: int = PLACES,
    never_share: float = 0.3,
    pretrend: float = 0.0,
    missing: float = 0.05,
) -> Panel:
    """Place and period effects, noise, staggered events from period 8 to 24 (some places
    never), the effect after each place's event and an optional linear pre-trend before it."""
    rng = np.random.default_rng(seed)
    cohort = np.where(
        rng.random(places) < never_share, NEVER, rng.integers(8, 25, size=places)
    ).astype(np.int64)
    place, period = (a.ravel() for a in np.meshgrid(np.arange(places), np.arange(PERIODS)))
    place, period = place.astype(np.int64), period.astype(np.int64)
    y = (
        rng.normal(50, 10, places)[place]
        + np.cumsum(rng.normal(0, 1, PERIODS))[period]
        + rng.normal(0, 1, place.size)
    )
    c = cohort[place]
    k = period - c
    after = (c != NEVER) & (k >= 0)
    y = y + np.where(after, effect(c, k), 0.0)
    y = y + np.where((c != NEVER) & (k < 0), pretrend * k, 0.0)
    kept = rng.random(place.size) >= missing
    return Panel(place=place[kept], period=period[kept], y=y[kept], cohort=cohort)


def _all(panel: Panel) -> np.ndarray:
    return panel.cohort != NEVER


def _estimated(panel: Panel) -> Estimate:
    result = estimate(panel, _all(panel), WINDOW)
    assert isinstance(result, Estimate), result
    return result


def test_a_known_constant_effect_is_recovered_within_its_interval() -> None:
    result = _estimated(_panel(1, lambda c, k: np.full(k.shape, 2.0)))
    assert result.average.ci_lower < 2.0 < result.average.ci_upper
    assert result.average.ci_lower > 0  # and it is detected
    assert [e.k for e in result.effects] == list(range(WINDOW + 1))
    assert all(e.ci_lower < 2.0 < e.ci_upper for e in result.effects)
    assert result.df == min(result.treated_places, result.control_places) - 1


def test_a_null_effects_interval_covers_zero_in_about_95_percent_of_seeds() -> None:
    covered = 0
    for seed in range(200):
        result = _estimated(_panel(1000 + seed, lambda c, k: np.zeros(k.shape)))
        covered += result.average.ci_lower <= 0 <= result.average.ci_upper
    assert 180 <= covered <= 198, covered


def _dynamic(c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Effects that grow with time since the event and are larger for earlier cohorts: the
    case where a static two-way fixed effects regression is biased (already-treated places
    serve as its controls)."""
    return (k + 1) * np.where(c < 14, 1.0, 0.3)


def _true_average(panel: Panel, window: int) -> float:
    c = panel.cohort[panel.place]
    k = panel.period - c
    cells = (c != NEVER) & (k >= 0) & (k <= window)
    return float(_dynamic(c[cells], k[cells]).mean())


def _static_twfe(panel: Panel) -> float:
    """The textbook regression: y on place and period dummies and one post-event dummy."""
    c = panel.cohort[panel.place]
    post = ((c != NEVER) & (panel.period >= c)).astype(float)
    x = np.column_stack(
        [
            post,
            (panel.place[:, None] == np.arange(PLACES)).astype(float),
            (panel.period[:, None] == np.arange(1, PERIODS)).astype(float),
        ]
    )
    return float(sm.OLS(panel.y, x).fit().params[0])


def test_heterogeneous_effects_across_cohorts_are_recovered_without_the_twfe_bias() -> None:
    panel = _panel(7, _dynamic, never_share=0.1)
    truth = _true_average(panel, WINDOW)
    result = _estimated(panel)
    assert result.average.ci_lower < truth < result.average.ci_upper
    for effect in result.effects:
        c = panel.cohort[panel.place]
        k = panel.period - c
        cells = (c != NEVER) & (k == effect.k)
        true_k = float(_dynamic(c[cells], k[cells]).mean())
        assert effect.ci_lower < true_k < effect.ci_upper, effect
    # The static regression misses the same truth well outside the interval.
    half = (result.average.ci_upper - result.average.ci_lower) / 2
    assert abs(_static_twfe(panel) - truth) > 2 * half


def test_the_pretrend_test_flags_a_planted_pretrend_and_passes_without_one() -> None:
    flat = _estimated(_panel(11, lambda c, k: np.full(k.shape, 1.0)))
    sloped = _estimated(_panel(11, lambda c, k: np.full(k.shape, 1.0), pretrend=0.4))
    assert [lead.k for lead in flat.leads] == list(range(-WINDOW, 0))
    assert flat.pretrend_p_value is not None and flat.pretrend_p_value > 0.05
    assert sloped.pretrend_p_value is not None and sloped.pretrend_p_value < 0.001
    # The leads climb towards the event, from the reference periods before them.
    assert sloped.leads[-1].ci_lower > sloped.leads[0].ci_upper


def test_a_group_with_too_few_treated_places_is_refused_saying_why() -> None:
    panel = _panel(3, lambda c, k: np.zeros(k.shape))
    few = np.zeros(PLACES, dtype=bool)
    few[np.flatnonzero(panel.cohort != NEVER)[:8]] = True
    result = estimate(panel, few, WINDOW)
    assert isinstance(result, Refusal)
    assert "8 treated" in result.reason


def test_places_whose_event_precedes_the_data_are_left_out() -> None:
    panel = _panel(5, lambda c, k: np.full(k.shape, 2.0))
    early = Panel(
        place=panel.place,
        period=panel.period,
        y=panel.y,
        cohort=np.where(np.arange(PLACES) < 5, -20, panel.cohort).astype(np.int64),
    )
    result = estimate(early, early.cohort != NEVER, WINDOW)
    assert isinstance(result, Estimate)
    assert result.treated_places == int(((panel.cohort != NEVER) & (np.arange(PLACES) >= 5)).sum())


def test_never_treated_places_in_the_group_change_nothing() -> None:
    """`by=none` puts every place in its one group, those without an event too. With a window
    as long as the longest run-up, counting them would make the leads cover every untreated
    period of the group: a collinear design whose numbers mean nothing (statsmodels only warns),
    so any such warning fails this test."""
    panel = _panel(7, lambda c, k: np.full(k.shape, 1.0))
    window = 24  # the latest cohort, 24, has 24 periods before its event
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        everyone = estimate(panel, np.ones(PLACES, dtype=bool), window)
        eventful = estimate(panel, _all(panel), window)
    assert isinstance(everyone, Estimate) and isinstance(eventful, Estimate)
    assert everyone == eventful
    assert len(everyone.leads) == window - 1 and everyone.pretrend_p_value is not None
