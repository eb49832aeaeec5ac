"""Intrinsic timescales of neurons and populations from their autocorrelation.

The estimator follows the ICLR 2024 timescale analysis of Khajehabdollahi, Zeraati et al.:
the autocorrelation of an activity signal, averaged over trials, is fitted on lags
``0..fit_lags`` with a single exponential ``a exp(-k/tau)`` and with a double exponential
``w exp(-k/t1) + (1-w) exp(-k/t2)``; the model with the lower AIC is kept and its slower
timescale (in time steps) is the estimate.

Only numpy and scipy are used; nothing here draws. ``validate`` returns the numbers behind the
book's validation figure (true vs recovered timescale on synthetic AR(1) data).

Conventions
-----------
* Signals are ``[trials, T]`` (one unit or one population signal) or ``[trials, T, units]``.
* A unit is *silent* when its variance, averaged over trials, is below
  ``var_tol * max(1, mean(x**2))`` (default ``var_tol = 1e-6``): an absolute threshold of 1e-6
  for signals of unit scale or smaller (tanh rates), relative to the raw mean square for larger
  signals (so a large constant, whose demeaned residue is round-off, is silent too). Silent units
  get a NaN autocorrelation and a NaN timescale, never an exception or a numpy warning.
"""

from __future__ import annotations

import math
import operator
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import optimize, signal

__all__ = ["autocorrelation", "TimescaleFit", "fit_timescale", "estimate_timescale",
           "UnitTimescales", "estimate_timescales", "isolated_neuron_timescale", "ar1_series",
           "two_timescale_series", "validate", "VAR_TOL", "TAU_BOUNDS", "MIN_SLOW_WEIGHT"]

VAR_TOL = 1e-6
"""Silence threshold: variance < VAR_TOL * max(1, mean square of the raw signal)."""

TAU_BOUNDS = (1e-3, 100.0)
"""Bounds of every fitted timescale, in time steps (the lower bound stands in for 0: k/0 is
undefined at lag 0)."""

MIN_SLOW_WEIGHT = 0.05
"""The double model is kept only if its slower component carries at least this weight."""

VALIDATION_T = 10_000
"""Default length of the synthetic series in ``validate`` (as the book's network recordings)."""

VALIDATION_TAUS = (0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 5.0, 20.0, 50.0)
"""Default true timescales of ``validate``: the sub-step range where the network values lie
(0.1 is below what lags 0..30 of 10 x 10 000 steps can resolve: exp(-1/0.1) is far under the
autocorrelation's sampling noise), and the long ones."""


# ----- input checks ------------------------------------------------------------------------------

def _as_lag(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _check_signal(x, max_lag, dims: tuple[int, ...] = (2, 3)) -> tuple[np.ndarray, int]:
    """x as float64 with the allowed number of dimensions, and max_lag checked against T."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in dims:
        shapes = " or ".join({2: "[trials, T]", 3: "[trials, T, units]"}[d] for d in dims)
        raise ValueError(f"x must be {shapes}, got an array of shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 2:
        raise ValueError(f"x needs at least 1 trial and T >= 2 time steps, got shape {x.shape}")
    max_lag = _as_lag(max_lag, "max_lag")
    if not 0 <= max_lag < x.shape[1]:
        raise ValueError(f"need 0 <= max_lag < T = {x.shape[1]}, got max_lag={max_lag}")
    return x, max_lag


def _check_fit_lags(fit_lags, max_lag: int | None = None) -> int:
    fit_lags = _as_lag(fit_lags, "fit_lags")
    if fit_lags < 3:
        raise ValueError(f"fit_lags must be >= 3 (4 points for 3 parameters), got {fit_lags}")
    if max_lag is not None and fit_lags > max_lag:
        raise ValueError(f"need fit_lags <= max_lag, got fit_lags={fit_lags}, max_lag={max_lag}")
    return fit_lags


# ----- autocorrelation ---------------------------------------------------------------------------

def _autocovariance_sum(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sum over trials of the unbiased autocovariance of demeaned x [trials, T, units]:
    sum_t x[t] x[t+k] / (T - k) for k = 0..max_lag, shape [max_lag+1, units]. FFT along time,
    zero-padded to the next fast length >= 2T (no circular wrap-around); one trial at a time so
    the memory stays O(T * units)."""
    n_trials, T, n_units = x.shape
    n_fft = sfft.next_fast_len(2 * T, real=True)
    total = np.zeros((max_lag + 1, n_units))
    for trial in x:
        spec = sfft.rfft(trial, n=n_fft, axis=0)
        total += sfft.irfft(spec.real ** 2 + spec.imag ** 2, n=n_fft, axis=0)[:max_lag + 1]
    return total / (T - np.arange(max_lag + 1))[:, None]


def autocorrelation(x, max_lag: int, var_tol: float = VAR_TOL) -> np.ndarray:
    """Normalised autocorrelation of x at lags 0..max_lag.

    x: [trials, T] -> result [max_lag+1]; [trials, T, units] -> result [max_lag+1, units].
    The mean is removed per trial (and unit); lag k is the unbiased sum_t x[t] x[t+k] / (T-k),
    averaged over trials and divided by the trial-averaged lag 0, so the result is 1 at lag 0.
    A silent unit (trial-averaged variance < var_tol * max(1, mean(x**2)), see the module
    docstring) or one with non-finite values gives NaN at every lag."""
    x, max_lag = _check_signal(x, max_lag)
    squeeze = x.ndim == 2
    x3 = x[:, :, None] if squeeze else x
    mean_sq = np.mean(x3 ** 2, axis=(0, 1))                           # [units], raw power
    xc = x3 - x3.mean(axis=1, keepdims=True)
    with np.errstate(all="ignore"):                                  # non-finite input -> NaN below
        cov = _autocovariance_sum(xc, max_lag) / x.shape[0]
        var = cov[0]
        live = var >= var_tol * np.maximum(1.0, mean_sq)               # False for NaN too
        ac = np.full_like(cov, np.nan)
        np.divide(cov, var, out=ac, where=live[None, :])
    return ac[:, 0] if squeeze else ac


# ----- fitting -----------------------------------------------------------------------------------

def _single(k, a, tau):
    return a * np.exp(-k / tau)


def _double(k, w, t1, t2):
    return w * np.exp(-k / t1) + (1 - w) * np.exp(-k / t2)


def _aic(rss: float, n: int, n_params: int) -> float:
    """AIC = 2k + n ln(RSS/n); RSS is floored at the smallest float so a perfect fit is finite."""
    return 2 * n_params + n * math.log(max(rss / n, np.finfo(float).tiny))


def _curve_fit(model, lags, ac, p0, bounds):
    """Least squares with bounds; (params, rss) or None on failure. Warnings stay inside."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            p, _ = optimize.curve_fit(model, lags, ac, p0=p0, bounds=bounds, max_nfev=2000)
        except (RuntimeError, ValueError, optimize.OptimizeWarning):
            return None
        rss = float(np.sum((model(lags, *p) - ac) ** 2))
    return (p, rss) if np.all(np.isfinite(p)) and math.isfinite(rss) else None


def _initial_tau(ac: np.ndarray) -> float:
    """A starting timescale: the first lag where ac drops below 1/e (fit range length if never)."""
    below = np.flatnonzero(ac < math.exp(-1))
    tau0 = float(below[0]) if below.size else 2.0 * len(ac)
    return float(np.clip(tau0, 0.5, 0.9 * TAU_BOUNDS[1]))


def _fit_single(lags, ac, tau0):
    lo, hi = TAU_BOUNDS
    return _curve_fit(_single, lags, ac, (min(max(ac[0], 0.0), 1.0), tau0), ([0, lo], [1, hi]))


def _fit_double(lags, ac, tau0):
    """Best of a few starts; params ordered (w, t1, t2) with t1 >= t2 and w the weight of t1."""
    lo, hi = TAU_BOUNDS
    starts = [(0.5, 3 * tau0, tau0 / 3), (0.2, 10 * tau0, tau0), (0.8, tau0, tau0 / 10)]
    best = None
    for w, t1, t2 in starts:
        p0 = (w, float(np.clip(t1, 2 * lo, 0.99 * hi)), float(np.clip(t2, 2 * lo, 0.99 * hi)))
        res = _curve_fit(_double, lags, ac, p0, ([0, lo, lo], [1, hi, hi]))
        if res is not None and (best is None or res[1] < best[1]):
            best = res
    if best is None:
        return None
    (w, t1, t2), rss = best
    return ((w, t1, t2) if t1 >= t2 else (1 - w, t2, t1)), rss


@dataclass(frozen=True)
class TimescaleFit:
    """Result of ``fit_timescale``.

    tau: the estimated (slower) timescale in time steps; NaN when no fit was possible.
    model: "single", "double" or "none" (NaN input or both fits failed).
    params: the kept model's parameters: (a, tau) for "single"; (w, t1, t2) for "double" with
        t1 >= t2 and w the weight of t1; () for "none".
    aic_single, aic_double: AIC of each fit (NaN for a fit that failed).
    ok: a fit succeeded and tau is finite.
    at_bound: tau sits at the upper bound TAU_BOUNDS[1] (to 1 %): the fit range cannot
        constrain it, read it as "at least that long"."""

    tau: float
    model: str
    params: tuple[float, ...]
    aic_single: float
    aic_double: float
    ok: bool
    at_bound: bool = False

    def curve(self, lags) -> np.ndarray:
        """The kept model evaluated at lags (NaN for model "none"), e.g. for a figure."""
        lags = np.asarray(lags, dtype=float)
        if self.model == "single":
            return _single(lags, *self.params)
        if self.model == "double":
            return _double(lags, *self.params)
        return np.full(lags.shape, np.nan)


_NO_FIT = TimescaleFit(math.nan, "none", (), math.nan, math.nan, False)


def fit_timescale(ac, fit_lags: int = 30) -> TimescaleFit:
    """Fit lags 0..fit_lags of a normalised autocorrelation ac (1-D, lag 0 first).

    Single model a exp(-k/tau) (a in [0, 1], tau in TAU_BOUNDS); double model
    w exp(-k/t1) + (1-w) exp(-k/t2) (w in [0, 1], t1, t2 in TAU_BOUNDS); scipy curve_fit with
    bounds (the double from three starts, the best kept). AIC = 2k + n ln(RSS/n), n = fit_lags+1,
    k = 2 (single) or 3 (double).

    Rule: the double model is kept when its AIC is lower and its slower component carries
    weight >= MIN_SLOW_WEIGHT (0.05); tau is then that slower timescale. Otherwise the single
    model is kept (tau = its tau). If only the double fit succeeded it is kept, with tau its slower
    timescale if that carries weight >= 0.05, else its faster one. NaN input or both fits failed:
    tau = NaN, model "none", ok False. Never raises for a silent (NaN) unit."""
    ac = np.asarray(ac, dtype=np.float64)
    if ac.ndim != 1:
        raise ValueError(f"ac must be 1-D [lags], got shape {ac.shape}")
    fit_lags = _check_fit_lags(fit_lags)
    if ac.size < fit_lags + 1:
        raise ValueError(f"ac has {ac.size} lags, need fit_lags + 1 = {fit_lags + 1}")
    y = ac[:fit_lags + 1]
    if not np.all(np.isfinite(y)):
        return _NO_FIT
    lags = np.arange(fit_lags + 1, dtype=np.float64)
    tau0 = _initial_tau(y)
    single, double = _fit_single(lags, y, tau0), _fit_double(lags, y, tau0)
    n = fit_lags + 1
    aic_s = _aic(single[1], n, 2) if single else math.nan
    aic_d = _aic(double[1], n, 3) if double else math.nan
    if double is not None:
        w, t1, t2 = (float(v) for v in double[0])
        slow_counts = w >= MIN_SLOW_WEIGHT
        if single is None or (aic_d < aic_s and slow_counts):
            return _make_fit(t1 if slow_counts else t2, "double", (w, t1, t2), aic_s, aic_d)
    if single is not None:
        a, tau = (float(v) for v in single[0])
        return _make_fit(tau, "single", (a, tau), aic_s, aic_d)
    return _NO_FIT


def _make_fit(tau, model, params, aic_s, aic_d) -> TimescaleFit:
    return TimescaleFit(tau, model, params, aic_s, aic_d, ok=math.isfinite(tau),
                        at_bound=tau >= 0.99 * TAU_BOUNDS[1])


# ----- estimates ---------------------------------------------------------------------------------

def estimate_timescale(x, max_lag: int = 200, fit_lags: int = 30) -> float:
    """Timescale (time steps) of one unit or one population signal x [trials, T]: autocorrelation
    to max_lag, fit on lags 0..fit_lags, the slower kept timescale. NaN for a silent/constant
    signal or a failed fit."""
    x, max_lag = _check_signal(x, max_lag, dims=(2,))
    fit_lags = _check_fit_lags(fit_lags, max_lag)
    return fit_timescale(autocorrelation(x, max_lag), fit_lags).tau


@dataclass(frozen=True)
class UnitTimescales:
    """Result of ``estimate_timescales``: taus [units] (NaN for silent units and failed fits),
    the per-unit fits, the number of silent units (NaN autocorrelation: variance below the
    silence threshold, or non-finite values) and of failed fits among the others."""

    taus: np.ndarray
    fits: tuple[TimescaleFit, ...]
    n_silent: int
    n_failed: int

    @property
    def n_at_bound(self) -> int:
        """Units whose timescale sits at the upper fit bound (only a lower bound is known)."""
        return sum(f.at_bound for f in self.fits)


def estimate_timescales(x, max_lag: int = 200, fit_lags: int = 30,
                        var_tol: float = VAR_TOL) -> UnitTimescales:
    """Timescale of every unit of x [trials, T, units]: one vectorised autocorrelation, then one
    fit per unit. Silent units are counted, not fitted."""
    x, max_lag = _check_signal(x, max_lag, dims=(3,))
    fit_lags = _check_fit_lags(fit_lags, max_lag)
    ac = autocorrelation(x, max_lag, var_tol)
    silent = np.isnan(ac[0])
    fits = tuple(_NO_FIT if silent[u] else fit_timescale(ac[:, u], fit_lags)
                 for u in range(ac.shape[1]))
    taus = np.array([f.tau for f in fits], dtype=np.float64)
    n_silent = int(silent.sum())
    n_failed = int(sum(not f.ok for f in fits)) - n_silent
    return UnitTimescales(taus, fits, n_silent, n_failed)


def isolated_neuron_timescale(tau):
    """Discrete-time timescale of an isolated leaky neuron h(t+1) = (1 - 1/tau) h(t) + input:
    its autocorrelation decays as (1 - 1/tau)^k = exp(-k / tau_eff), tau_eff = -1/ln(1 - 1/tau).
    tau is clamped to >= 1; tau_eff is exactly 0 at tau = 1 (no memory) and increases with tau
    (tau_eff ~ tau - 1/2 for large tau). Vectorised: a float for a scalar, an array otherwise;
    NaN stays NaN."""
    t = np.maximum(np.asarray(tau, dtype=np.float64), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(t > 1.0, -1.0 / np.log1p(-1.0 / t), np.where(np.isnan(t), np.nan, 0.0))
    return float(out) if out.ndim == 0 else out


# ----- synthetic data ----------------------------------------------------------------------------

def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def ar1_series(tau: float, trials: int, T: int, rng=None) -> np.ndarray:
    """AR(1) / discretised Ornstein-Uhlenbeck series [trials, T] with unit variance and
    autocorrelation exp(-k/tau): x[t+1] = phi x[t] + sqrt(1 - phi^2) eps, phi = exp(-1/tau),
    started from the stationary distribution N(0, 1). rng: a numpy Generator or a seed."""
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if trials < 1 or T < 1:
        raise ValueError(f"need trials >= 1 and T >= 1, got trials={trials}, T={T}")
    g = _rng(rng)
    phi = math.exp(-1.0 / tau)
    eps = g.standard_normal((trials, T))
    zi = phi * g.standard_normal((trials, 1))   # x[0] = phi x[-1] + s eps[0], x[-1] ~ N(0, 1)
    x, _ = signal.lfilter([math.sqrt(1 - phi * phi)], [1.0, -phi], eps, axis=1, zi=zi)
    return x


def two_timescale_series(tau_fast: float, tau_slow: float, weight: float, trials: int, T: int,
                         rng=None) -> np.ndarray:
    """sqrt(weight) * AR1(tau_fast) + sqrt(1-weight) * AR1(tau_slow), independent and of unit
    variance, so the autocorrelation is weight exp(-k/tau_fast) + (1-weight) exp(-k/tau_slow)."""
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    g = _rng(rng)
    return (math.sqrt(weight) * ar1_series(tau_fast, trials, T, g)
            + math.sqrt(1 - weight) * ar1_series(tau_slow, trials, T, g))


# ----- validation --------------------------------------------------------------------------------

def _recovery(case: dict, make, reps: int, max_lag: int, fit_lags: int) -> dict:
    """Fit `reps` synthetic data sets from make(); summarise against case["tau_true"]."""
    fits = [fit_timescale(autocorrelation(make(), max_lag), fit_lags) for _ in range(reps)]
    taus = np.array([f.tau for f in fits])
    median = float(np.nanmedian(taus)) if np.any(np.isfinite(taus)) else math.nan
    return {**case, "tau_median": median,
            "rel_error": (median - case["tau_true"]) / case["tau_true"],
            "taus": taus.tolist(),
            "frac_within_10pct": float(np.mean(np.abs(taus / case["tau_true"] - 1) <= 0.1)),
            "frac_double": sum(f.model == "double" for f in fits) / reps,
            "n_at_bound": sum(f.at_bound for f in fits),
            "n_failed": sum(not f.ok for f in fits)}


def validate(taus=VALIDATION_TAUS, trials: int = 10, T: int = VALIDATION_T, max_lag: int = 200,
             fit_lags: int = 30, seed: int = 0, reps: int = 10,
             mixture=(2.0, 20.0, 0.5)) -> list[dict]:
    """True vs recovered timescale on synthetic data, for the book's validation figure.

    One row per tau in taus (AR(1) data, trials x T) and one for the mixture
    (tau_fast, tau_slow, weight) of two AR(1) processes (tau_true = tau_slow). Each row:
    case, tau_true, tau_median (median over `reps` data sets), rel_error (of the median),
    taus (every rep), frac_within_10pct (share of reps within 10 % of tau_true), frac_double
    (share of reps where the double model was kept), n_at_bound, n_failed, trials, T, max_lag,
    fit_lags, seconds. Default T = VALIDATION_T = 10 000, as the book's network recordings
    (10 trials of T ~ 1e4 after burn-in); one call (10 rows x 10 reps) takes a few seconds on
    one core.

    Caveats: a timescale far below one step leaves no measurable correlation at lag 1
    (exp(-1/tau) under the sampling noise, about 1/sqrt(trials T)): at tau = 0.1 the estimates
    scatter between the lower bound and about 0.2. With fit_lags = 30 a tau of 50 is weakly constrained (the autocorrelation only falls to
    0.55 over the fit range) and single data sets may end at the bound 100. AIC treats the
    autocorrelation residuals as independent, but they are correlated over ~tau lags, so on
    single-timescale data the double model is kept in a fair share of data sets (frac_double); its
    slower timescale then usually stays close to the true one."""
    rng = np.random.default_rng(seed)
    settings = {"trials": trials, "T": T, "max_lag": max_lag, "fit_lags": fit_lags}
    rows = []
    for tau in taus:
        t0 = time.perf_counter()
        row = _recovery({"case": "single", "tau_true": float(tau)},
                        lambda: ar1_series(tau, trials, T, rng), reps, max_lag, fit_lags)
        rows.append({**row, **settings, "seconds": time.perf_counter() - t0})
    if mixture is not None:
        fast, slow, w = mixture
        t0 = time.perf_counter()
        row = _recovery({"case": "mixture", "tau_true": float(slow), "tau_fast": float(fast),
                         "weight": float(w)},
                        lambda: two_timescale_series(fast, slow, w, trials, T, rng),
                        reps, max_lag, fit_lags)
        rows.append({**row, **settings, "seconds": time.perf_counter() - t0})
    return rows
