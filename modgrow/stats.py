"""Statistics for verdicts: intervals on a log scale, paired tests, threshold sensitivity.

Step counts span orders of magnitude, so they are summarised by their geometric mean with the
Student-t interval of the log mean; paired runs (same seed, two protocols) are compared by the sign
test on their differences and by the t interval of the mean log ratio; independent groups by the
Welch interval of the difference of means. With five seeds a percentile bootstrap interval of a
mean is too narrow (it ignores that the spread itself is estimated from five values: a nominal
95 % interval covers about 84 %, ``tests/test_stats.py``); the t intervals keep their level for
roughly normal values (log step counts, differences of max N). Bootstrap intervals remain for
medians, which have no t interval, and for fits over many points.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _st

__all__ = ["mean_ci", "diff_ci", "geo_mean_ci", "paired_log_ratio", "sign_test", "bootstrap_ci",
           "format_interval", "power_law_fit"]


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean, mean +- t_{n-1} s / sqrt(n) (NaN bounds
    for fewer than two values)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size == 1:
        return m, math.nan, math.nan
    half = float(_st.t.ppf((1 + level) / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


def diff_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95
            ) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high): Welch interval of the difference of two independent means
    (Welch-Satterthwaite degrees of freedom; a point interval when both groups are constant; NaN
    bounds when either group has fewer than two values)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    d = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return d, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return d, d, d
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(_st.t.ppf((1 + level) / 2, df) * se)
    return d, d - half, d + half


def bootstrap_ci(values: Sequence[float], stat=np.mean, n_boot: int = 10_000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(statistic, low, high): percentile bootstrap interval of ``stat`` over ``values``. For a
    mean of a few values use ``mean_ci`` (this interval is too narrow there); kept for medians."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    point = float(stat(v))
    if v.size == 1:
        return point, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boots = stat(v[rng.integers(0, v.size, (n_boot, v.size))], axis=1)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)


def format_interval(v: Sequence[float], fmt: str = ".1f") -> str:
    """(estimate, low, high) as 'estimate [low, high]', each with ``fmt``."""
    m, lo, hi = v
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def geo_mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean of positive values with the t interval of the log mean."""
    v = np.asarray(values, dtype=float)
    if np.any(v <= 0):
        raise ValueError("geo_mean_ci needs positive values")
    m, lo, hi = mean_ci(np.log(v), level)
    return math.exp(m), math.exp(lo), math.exp(hi)


def sign_test(differences: Sequence[float]) -> tuple[int, int, float]:
    """(positive, negative, two-sided p) of the exact sign test; zeros are dropped."""
    d = np.asarray(differences, dtype=float)
    pos, neg = int(np.sum(d > 0)), int(np.sum(d < 0))
    if pos + neg == 0:
        return 0, 0, 1.0
    return pos, neg, float(_st.binomtest(pos, pos + neg, 0.5).pvalue)


def paired_log_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Paired comparison of positive values a_i, b_i (same seed): geometric-mean ratio a/b with
    the t interval of the mean log ratio, and the sign test on log(a_i / b_i)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.shape} and {b.shape}")
    logs = np.log(a) - np.log(b)
    m, lo, hi = mean_ci(logs, level)
    pos, neg, p = sign_test(logs)
    return {"ratio": math.exp(m), "low": math.exp(lo), "high": math.exp(hi),
            "a_larger": pos, "b_larger": neg, "sign_p": p, "n": int(a.size)}


def _theil_sen(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
    """Theil-Sen slopes of each row of (lx, ly) [B, n]: the median of the slopes between every
    two points with distinct x (nan where there are none)."""
    i, j = np.triu_indices(lx.shape[1], 1)
    dx, dy = lx[:, j] - lx[:, i], ly[:, j] - ly[:, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.sort(np.where(dx != 0, dy / dx, np.nan), axis=1)  # nan sorts last
    valid = (dx != 0).sum(1)
    lo = np.take_along_axis(slopes, np.maximum(valid - 1, 0)[:, None] // 2, 1)[:, 0]
    hi = np.take_along_axis(slopes, (valid // 2)[:, None], 1)[:, 0]
    return np.where(valid > 0, (lo + hi) / 2, np.nan)  # the median of the valid slopes


def power_law_fit(x: Sequence[float], y: Sequence[float], n_boot: int = 10_000, level: float = 0.95,
                  seed: int = 0, robust: bool = False) -> dict:
    """y ~ c x^b on log y against log x (positive values): the exponent b with the percentile
    bootstrap interval over the points (pairs resampled), and c. Least squares by default;
    ``robust`` takes the Theil-Sen slope (the median of the pairwise slopes, which a few wild
    points -- a paused process, a loaded machine -- cannot move far) and the median intercept."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if lx.shape != ly.shape or lx.size < 3 or np.ptp(lx) == 0:
        raise ValueError("power_law_fit needs at least 3 points with at least 2 distinct x")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, lx.size, (n_boot, lx.size))
    bx, by = lx[idx], ly[idx]
    if robust:
        b = float(_theil_sen(lx[None], ly[None])[0])
        a = float(np.median(ly - b * lx))
        slopes = np.concatenate([_theil_sen(bx[k:k + 500], by[k:k + 500])
                                 for k in range(0, n_boot, 500)])
        slopes = slopes[~np.isnan(slopes)]
    else:
        b, a = np.polyfit(lx, ly, 1)
        bxm, bym = bx.mean(1, keepdims=True), by.mean(1, keepdims=True)
        var = ((bx - bxm) ** 2).sum(1)
        ok = var > 0
        slopes = ((bx - bxm) * (by - bym)).sum(1)[ok] / var[ok]
    lo, hi = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return {"exponent": float(b), "low": float(lo), "high": float(hi), "scale": math.exp(a)}
