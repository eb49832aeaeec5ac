"""Timescale estimator: autocorrelation against a direct sum, recovery on synthetic data, silent
units, the isolated-neuron timescale, and one-line errors on bad input."""

import math
import warnings

import numpy as np
import pytest

from modgrow import timescales as ts


def direct_autocorrelation(x, max_lag):
    """Independent reference: demean each trial, sum lag products / (T-k), average over trials,
    divide by lag 0. x [trials, T]."""
    x = x - x.mean(axis=1, keepdims=True)
    T = x.shape[1]
    cov = np.array([np.mean(np.sum(x[:, :T - k] * x[:, k:], axis=1) / (T - k))
                    for k in range(max_lag + 1)])
    return cov / cov[0]


@pytest.fixture(scope="module")
def validation():
    """validate() at its defaults (10 trials x T = 10 000, lags 0..200, fit 0..30, 10 reps)."""
    return {(r["case"], r["tau_true"]): r for r in ts.validate()}


def test_autocorrelation_matches_direct_sum_2d():
    rng = np.random.default_rng(0)
    x = ts.ar1_series(3.0, 4, 257, rng) + 5.0 + np.linspace(0, 1, 257)   # offset, trend, odd T
    for max_lag in (0, 20, 256):
        ac = ts.autocorrelation(x, max_lag)
        assert ac.shape == (max_lag + 1,) and ac[0] == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(ac, direct_autocorrelation(x, max_lag), rtol=0, atol=1e-10)


def test_autocorrelation_matches_direct_sum_3d():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 200, 4)).cumsum(axis=1) * np.array([1e-2, 1.0, 10.0, 300.0])
    ac = ts.autocorrelation(x, 150)
    assert ac.shape == (151, 4)
    for u in range(4):
        np.testing.assert_allclose(ac[:, u], direct_autocorrelation(x[:, :, u], 150),
                                   rtol=0, atol=1e-10)
        np.testing.assert_allclose(ac[:, u], ts.autocorrelation(x[:, :, u], 150), atol=1e-12)


def test_synthetic_series_have_the_stated_autocorrelation():
    """Ensemble moments E[x_t x_(t+k)] over many trials (no demeaning, so no estimator bias),
    from the first step (stationary start) and from the middle."""
    rng = np.random.default_rng(2)
    k = np.arange(11)
    x = ts.ar1_series(5.0, 20_000, 40, rng)
    y = ts.two_timescale_series(2.0, 20.0, 0.4, 20_000, 40, rng)
    for t in (0, 20):
        assert np.var(x[:, t]) == pytest.approx(1.0, abs=0.05)
        np.testing.assert_allclose(np.mean(x[:, [t]] * x[:, t + k], axis=0), np.exp(-k / 5.0),
                                   atol=0.05)
        np.testing.assert_allclose(np.mean(y[:, [t]] * y[:, t + k], axis=0),
                                   0.4 * np.exp(-k / 2.0) + 0.6 * np.exp(-k / 20.0), atol=0.05)


@pytest.mark.parametrize("tau", [0.2, 0.5, 1.0, 1.5, 2.0, 5.0, 20.0])
def test_recovers_ar1_timescale_within_10_percent(validation, tau):
    """Down to 0.2 steps too: the range where the networks' values lie."""
    row = validation[("single", tau)]
    assert abs(row["rel_error"]) < 0.10, row
    assert row["n_failed"] == 0 and row["T"] == ts.VALIDATION_T and row["trials"] == 10


def test_a_tenth_of_a_step_is_below_the_resolution_floor(validation):
    """exp(-1/0.1) is far below the autocorrelation's sampling noise: the estimate is not the
    truth but stays below about 0.2 steps (it reads "no measurable memory")."""
    row = validation[("single", 0.1)]
    assert abs(row["rel_error"]) > 0.5 and max(row["taus"]) < 0.25, row


def test_two_timescale_mixture_recovers_slow_timescale_with_double_model(validation):
    row = validation[("mixture", 20.0)]
    assert row["tau_fast"] == 2.0 and row["weight"] == 0.5
    assert abs(row["rel_error"]) < 0.15, row
    assert row["frac_double"] >= 0.8, row


def test_single_fit_on_exact_curves():
    k = np.arange(31)
    f = ts.fit_timescale(0.8 * np.exp(-k / 7.0))
    assert f.model == "single" and f.ok and f.tau == pytest.approx(7.0, rel=1e-4)
    assert f.params[0] == pytest.approx(0.8, rel=1e-4)
    g = ts.fit_timescale(0.3 * np.exp(-k / 1.5) + 0.7 * np.exp(-k / 12.0))
    assert g.model == "double" and g.tau == pytest.approx(12.0, rel=1e-3)
    assert g.params[0] == pytest.approx(0.7, rel=1e-3) and g.aic_double < g.aic_single
    np.testing.assert_allclose(g.curve(k), 0.3 * np.exp(-k / 1.5) + 0.7 * np.exp(-k / 12.0),
                               atol=1e-5)


def test_silent_units_give_nan_without_warnings():
    rng = np.random.default_rng(3)
    x = np.stack([ts.ar1_series(4.0, 5, 1000, rng), np.zeros((5, 1000)),
                  np.full((5, 1000), 0.731), np.full((5, 1000), 1e6),
                  1.0 + 1e-5 * rng.standard_normal((5, 1000))], axis=2)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        ac = ts.autocorrelation(x, 100)
        assert np.all(np.isfinite(ac[:, 0])) and np.all(np.isnan(ac[:, 1:]))
        res = ts.estimate_timescales(x, max_lag=100)
        assert res.taus.shape == (5,) and math.isfinite(res.taus[0])
        assert np.all(np.isnan(res.taus[1:]))
        assert res.n_silent == 4 and res.n_failed == 0
        assert math.isnan(ts.estimate_timescale(np.full((3, 500), 2.0)))
        f = ts.fit_timescale(np.full(31, np.nan))
        assert math.isnan(f.tau) and not f.ok and f.model == "none"
        x[:, 5, 0] = np.nan                                       # non-finite data: NaN, no error
        assert np.all(np.isnan(ts.autocorrelation(x, 10)[:, 0]))


def test_isolated_neuron_timescale():
    assert ts.isolated_neuron_timescale(1.0) == 0.0
    assert ts.isolated_neuron_timescale(0.5) == 0.0                       # clamped to tau >= 1
    for tau in (1.5, 2.0, 10.0, 100.0):
        assert ts.isolated_neuron_timescale(tau) == pytest.approx(-1 / math.log(1 - 1 / tau),
                                                                   rel=1e-12)
    taus = np.linspace(1.0, 200.0, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ts.isolated_neuron_timescale(taus)
    assert out.shape == taus.shape and out[0] == 0.0 and np.all(np.diff(out) > 0)


@pytest.mark.parametrize("call, needle", [
    (lambda: ts.autocorrelation(np.zeros(100), 10), "shape"),
    (lambda: ts.estimate_timescale(np.zeros(100)), "shape"),
    (lambda: ts.estimate_timescale(np.zeros((2, 100, 3))), "shape"),
    (lambda: ts.autocorrelation(np.zeros((2, 100)), 100), "max_lag"),
    (lambda: ts.autocorrelation(np.zeros((2, 100)), -1), "max_lag"),
    (lambda: ts.estimate_timescale(np.zeros((2, 100)), max_lag=20, fit_lags=30), "fit_lags"),
    (lambda: ts.estimate_timescales(np.zeros((2, 50, 3)), max_lag=50), "max_lag"),
    (lambda: ts.fit_timescale(np.ones(10), fit_lags=30), "fit_lags"),
])
def test_bad_input_raises_one_line_value_error(call, needle):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert needle in msg and "\n" not in msg
