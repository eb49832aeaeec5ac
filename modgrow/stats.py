"""Statistics for verdicts: intervals on a log scale, paired tests, threshold sensitivity.

Step counts span orders of magnitude, so they are summarised by their geometric mean with a
bootstrap interval; paired runs (same seed, two protocols) are compared by the sign test on their
differences and by the bootstrap interval of the mean log ratio.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _st

__all__ = ["geo_mean_ci", "paired_log_ratio", "sign_test", "bootstrap_ci", "format_interval",
           "power_law_fit"]


def bootstrap_ci(values: Sequence[float], stat=np.mean, n_boot: int = 10_000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(statistic, low, high): percentile bootstrap interval of ``stat`` over ``values``."""
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


def geo_mean_ci(values: Sequence[float], **kw) -> tuple[float, float, float]:
    """Geometric mean of positive values with the bootstrap interval of the log mean."""
    v = np.asarray(values, dtype=float)
    if np.any(v <= 0):
        raise ValueError("geo_mean_ci needs positive values")
    m, lo, hi = bootstrap_ci(np.log(v), **kw)
    return math.exp(m), math.exp(lo), math.exp(hi)


def sign_test(differences: Sequence[float]) -> tuple[int, int, float]:
    """(positive, negative, two-sided p) of the exact sign test; zeros are dropped."""
    d = np.asarray(differences, dtype=float)
    pos, neg = int(np.sum(d > 0)), int(np.sum(d < 0))
    if pos + neg == 0:
        return 0, 0, 1.0
    return pos, neg, float(_st.binomtest(pos, pos + neg, 0.5).pvalue)


def paired_log_ratio(a: Sequence[float], b: Sequence[float], **kw) -> dict:
    """Paired comparison of positive values a_i, b_i (same seed): geometric-mean ratio a/b with
    its bootstrap interval, and the sign test on log(a_i / b_i)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.shape} and {b.shape}")
    logs = np.log(a) - np.log(b)
    m, lo, hi = bootstrap_ci(logs, **kw)
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
