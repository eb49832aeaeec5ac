"""The statistics behind the verdicts: intervals, paired ratios, the power-law fit."""

import math

import numpy as np
import pytest

from modgrow import stats


def test_geometric_mean_and_its_interval():
    m, lo, hi = stats.geo_mean_ci([100, 100, 100])
    assert m == pytest.approx(100) and lo == pytest.approx(100) and hi == pytest.approx(100)
    m, lo, hi = stats.geo_mean_ci([10, 1000])
    # t interval of the log mean: with two values, t_1 = 12.7 standard errors each side
    half = 12.7062 * math.log(10)  # s = log(100) / sqrt(2), s / sqrt(2) = log(10)
    assert m == pytest.approx(100) and lo == pytest.approx(100 * math.exp(-half), rel=1e-3)
    assert hi == pytest.approx(100 * math.exp(half), rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        stats.geo_mean_ci([1, 0])


def test_paired_log_ratio_counts_each_seed_once():
    q = stats.paired_log_ratio([20, 40, 60, 80, 100], [10, 20, 30, 40, 50])
    assert q["ratio"] == pytest.approx(2) and q["low"] == pytest.approx(2)
    assert (q["a_larger"], q["b_larger"], q["n"]) == (5, 0, 5)
    assert q["sign_p"] == pytest.approx(2 / 32)
    with pytest.raises(ValueError, match="equal lengths"):
        stats.paired_log_ratio([1, 2], [1])


def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    x = np.arange(10, 200)
    y = 0.003 * x ** 1.3 * np.exp(rng.normal(0, 0.1, x.size))
    fit = stats.power_law_fit(x, y)
    assert fit["low"] < 1.3 < fit["high"] and fit["high"] - fit["low"] < 0.1
    assert fit["exponent"] == pytest.approx(1.3, abs=0.05)
    assert fit["scale"] == pytest.approx(0.003, rel=0.3)
    exact = stats.power_law_fit([1, 2, 4, 8], [3, 6, 12, 24])
    assert exact["exponent"] == pytest.approx(1) and exact["scale"] == pytest.approx(3)
    with pytest.raises(ValueError, match="at least 3 points"):
        stats.power_law_fit([5, 5, 5], [1, 2, 3])


def test_format_interval():
    assert stats.format_interval((1.234, 0.5, math.pi), ".2f") == "1.23 [0.50, 3.14]"


def test_robust_power_law_fit_ignores_a_few_wild_points_that_least_squares_follows():
    rng = np.random.default_rng(1)
    x = np.arange(80, 160)
    y = 0.002 * x ** 1.2 * np.exp(rng.normal(0, 0.1, x.size))
    y[-6] *= 15       # a paused process near the end
    y[-3:] *= 2.5     # a loaded machine for the last stages
    plain = stats.power_law_fit(x, y, n_boot=2000)
    robust = stats.power_law_fit(x, y, n_boot=2000, robust=True)
    assert plain["exponent"] > 1.6                       # least squares is dragged up
    assert robust["low"] < 1.2 < robust["high"] and robust["exponent"] == pytest.approx(1.2, abs=0.15)
    exact = stats.power_law_fit([1, 2, 4, 8], [3, 6, 12, 24], robust=True)
    assert exact["exponent"] == pytest.approx(1) and exact["scale"] == pytest.approx(3)


def test_theil_sen_is_the_median_of_the_pairwise_slopes_between_distinct_x():
    rng = np.random.default_rng(3)
    for n in (3, 4, 7, 30):
        lx, ly = rng.normal(size=(20, n)), rng.normal(size=(20, n))
        lx[:, 1] = lx[:, 0]                       # a repeated point, as in a bootstrap resample
        lx[0] = 1.0                               # a row with a single x: no slope at all
        for got, a, b in zip(stats._theil_sen(lx, ly), lx, ly):
            i, j = np.triu_indices(n, 1)
            d = a[j] - a[i]
            slopes = (b[j] - b[i])[d != 0] / d[d != 0]
            assert (math.isnan(got) if slopes.size == 0
                    else got == pytest.approx(np.median(slopes)))


def test_mean_ci_is_the_student_t_interval():
    m, lo, hi = stats.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)  # t_{4, 0.975} s / sqrt(n)
    assert (m, lo, hi) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert math.isnan(stats.mean_ci([7.0])[1]) and math.isnan(stats.mean_ci([])[0])


def test_diff_ci_is_the_welch_interval():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 10.0, 10.0, 10.0, 10.0]
    d, lo, hi = stats.diff_ci(a, b)
    # b constant: the Welch interval is a's t interval shifted by -10 (df = 4)
    _, alo, ahi = stats.mean_ci(a)
    assert (d, lo, hi) == pytest.approx((-7.0, alo - 10, ahi - 10))
    assert stats.diff_ci([3, 3, 3], [1, 1]) == (2.0, 2.0, 2.0)
    assert math.isnan(stats.diff_ci([1.0], [1.0, 2.0])[1])


def _coverage(interval, n: int, sims: int, rng) -> float:
    x = rng.normal(0.0, 1.0, (sims, n))
    hits = 0
    for row in x:
        _, lo, hi = interval(row)
        hits += lo <= 0.0 <= hi
    return hits / sims


def test_t_interval_keeps_its_level_with_five_seeds_where_the_bootstrap_does_not():
    """Why the verdicts use t intervals: with five normal values a nominal 95 % percentile
    bootstrap interval of the mean covers the true mean only about 84 % of the time."""
    rng = np.random.default_rng(1)
    t_cov = _coverage(stats.mean_ci, 5, 2000, rng)
    boot_cov = _coverage(lambda v: stats.bootstrap_ci(v, n_boot=400), 5, 600, rng)
    assert 0.93 <= t_cov <= 0.97
    assert boot_cov < 0.90


def test_welch_interval_keeps_its_level_for_five_against_five():
    rng = np.random.default_rng(2)
    hits, sims = 0, 2000
    for _ in range(sims):
        a, b = rng.normal(0, 1, 5), rng.normal(0, 3, 5)   # unequal spreads
        _, lo, hi = stats.diff_ci(a, b)
        hits += lo <= 0.0 <= hi
    assert 0.93 <= hits / sims <= 0.98
