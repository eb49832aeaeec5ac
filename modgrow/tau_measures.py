"""Timescales of a trained network's neurons and modules (chapter 6): pure functions of a network.

The protocol is the ICLR 2024 analysis (FACTS.md, "Timescales"): drive the network with long
Bernoulli input, each trial (batch entry) with its own bit probability p ~ U(0, 1), discard a
burn-in, record every neuron after every step, and estimate each neuron's and each module
population's (mean activity of its neurons) timescale with ``modgrow.timescales``.

``record_activity`` runs the engine's recording path (``engine.run(..., record=...)``) in time
chunks, each chunk starting from the previous chunk's final states: the same arithmetic as one
long run, with memory bounded by the chunk. ``network_timescales`` turns a recording into the
per-neuron and per-module numbers the chapter stores; ``spearman_trend``, ``stratified_spearman``
(a trend within strata, e.g. within one network size) and ``trend_class`` are the statistics
behind its verdicts.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy import stats

from . import engine
from .network import RNN
from .timescales import (VAR_TOL, autocorrelation, estimate_timescales, fit_timescale,
                         isolated_neuron_timescale)

__all__ = ["bernoulli_input", "record_activity", "trained_taus", "network_timescales",
           "spearman_trend", "stratified_spearman", "trend_class", "ALPHA"]

ALPHA = 0.05
"""Significance level of a per-network Spearman trend."""


def bernoulli_input(trials: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                               torch.Tensor]:
    """Bits [trials, T, 1], trial b i.i.d. Bernoulli(p_b), with p [trials] ~ U(0, 1) per trial."""
    p = torch.rand(trials, generator=generator)
    x = (torch.rand(trials, T, generator=generator) < p[:, None]).float()
    return x[..., None], p


def record_activity(net: RNN, T: int = 10_000, trials: int = 10, burn_in: int = 500,
                    seed: int = 0, chunk: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """States of every neuron after every scored step: ([trials, T, blocks, M] float32, p).

    One input sequence of burn_in + T steps per trial (its own p ~ U(0,1)), initial state
    h(0) = 0.1 U(0,1) (``net.initial_state``); the first burn_in states are discarded. Blocks are
    recorded with ``engine.run(..., record=all blocks)`` under ``torch.no_grad()``."""
    if T < 1 or trials < 1 or burn_in < 0 or chunk < 1:
        raise ValueError(f"need T, trials, chunk >= 1 and burn_in >= 0; got T={T}, "
                         f"trials={trials}, burn_in={burn_in}, chunk={chunk}")
    g = torch.Generator().manual_seed(seed)
    x, p = bernoulli_input(trials, burn_in + T, g)
    h = net.initial_state(trials, generator=g)
    blocks = tuple(range(net.n_blocks))
    out = np.empty((trials, T, net.n_blocks, net.module_size), dtype=np.float32)
    with torch.no_grad():
        if burn_in:
            h = engine.run(net, x[:, :burn_in], h).finals
        for t0 in range(0, T, chunk):
            t1 = min(T, t0 + chunk)
            scan = engine.run(net, x[:, burn_in + t0:burn_in + t1], h, record=blocks)
            h = scan.finals
            out[:, t0:t1] = scan.states.permute(2, 0, 1, 3).numpy()  # [T,R,B,M] -> [B,T,R,M]
    return out, p.numpy()


def trained_taus(net: RNN) -> np.ndarray:
    """Trained tau of every neuron [blocks, M], clamped to >= 1 as in the forward pass."""
    return np.stack([b.tau.detach().clamp(min=1.0).numpy() for b in net.blocks]).astype(float)


def _r(values, digits: int = 3) -> list:
    """Rounded list for JSON; NaN becomes None."""
    return [None if not math.isfinite(float(v)) else round(float(v), digits) for v in values]


def _nanstat(f, values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(f(v)) if v.size else math.nan


def network_timescales(net: RNN, n_solved: int | None = None, T: int = 10_000, trials: int = 10,
                       burn_in: int = 500, seed: int = 0, max_lag: int = 200,
                       fit_lags: int = 30, var_tol: float = VAR_TOL,
                       keep_lags: int = 40) -> dict:
    """Per-neuron and per-module timescales of ``net`` (JSON-ready).

    n_solved: how many leading blocks are solved (the rest are marked ``solved: False``; default
    all). Returns ``modules`` (one summary per block: depth, solved, tau_net of its population,
    median / mean neuron tau_net over fitted neurons, mean trained tau and isolated timescale,
    counts of silent neurons, failed fits and fits at the upper bound, the population's
    autocorrelation to ``keep_lags`` and its fit), ``neurons`` (flat arrays over blocks x M:
    block, tau_net, tau, isolated, silent, at_bound), ``p`` (the trials' bit probabilities),
    and totals and timings."""
    t0 = time.perf_counter()
    rec, p = record_activity(net, T, trials, burn_in, seed)
    t_rec = time.perf_counter() - t0
    n_blocks, m = net.n_blocks, net.module_size
    n_solved = n_blocks if n_solved is None else n_solved
    tau = trained_taus(net)
    iso = isolated_neuron_timescale(tau)
    modules, neuron_tau, silent, at_bound = [], [], [], []
    for d in range(n_blocks):
        x = rec[:, :, d, :].astype(np.float64)              # [trials, T, M]
        est = estimate_timescales(x, max_lag, fit_lags, var_tol)
        pop_ac = autocorrelation(x.mean(axis=2), max_lag, var_tol)
        pop_fit = fit_timescale(pop_ac, fit_lags)
        neuron_tau.append(est.taus)
        silent.append(np.isnan(autocorrelation(x, 1, var_tol)[0]))   # the same silence test
        at_bound.append(np.array([f.at_bound for f in est.fits]))
        modules.append({
            "depth": d, "solved": d < n_solved,
            "tau_net_pop": _r([pop_fit.tau])[0], "pop_model": pop_fit.model,
            "pop_params": _r(pop_fit.params, 5), "pop_at_bound": bool(pop_fit.at_bound),
            "pop_ac": _r(pop_ac[:keep_lags + 1], 4),
            "tau_net_median": _r([_nanstat(np.median, est.taus)])[0],
            "tau_net_mean": _r([_nanstat(np.mean, est.taus)])[0],
            "tau_mean": round(float(tau[d].mean()), 4),
            "isolated_mean": round(float(iso[d].mean()), 4),
            "isolated_median": round(float(np.median(iso[d])), 4),
            "n_silent": est.n_silent, "n_failed": est.n_failed, "n_at_bound": est.n_at_bound,
        })
    taus = np.concatenate(neuron_tau)
    n_silent = sum(mod["n_silent"] for mod in modules)
    n_failed = sum(mod["n_failed"] for mod in modules)
    solved_mask = np.repeat(np.arange(n_blocks) < n_solved, m)
    return {
        "n_blocks": n_blocks, "module_size": m, "n_solved": n_solved,
        "modules": modules,
        "neurons": {"block": np.repeat(np.arange(n_blocks), m).tolist(),
                    "tau_net": _r(taus), "tau": _r(tau.ravel(), 4),
                    "isolated": _r(iso.ravel(), 4),
                    "silent": [int(s) for s in np.concatenate(silent)],
                    "at_bound": [int(b) for b in np.concatenate(at_bound)]},
        "p": _r(p, 4),
        "n_neurons": int(taus.size), "n_silent": n_silent, "n_failed": n_failed,
        "frac_silent": n_silent / taus.size, "frac_failed": n_failed / taus.size,
        "frac_silent_solved": float(np.mean(np.concatenate(silent)[solved_mask]))
        if solved_mask.any() else math.nan,
        "seconds_record": round(t_rec, 3),
        "seconds_total": round(time.perf_counter() - t0, 3),
    }


def spearman_trend(x, y) -> dict:
    """Spearman rho and two-sided p of y against x over the finite pairs; NaN with fewer than 3
    pairs or a constant side."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return {"rho": math.nan, "p": math.nan, "n": n}
    res = stats.spearmanr(x[ok], y[ok])
    return {"rho": float(res.statistic), "p": float(res.pvalue), "n": n}


def _ranks_ok(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0


def stratified_spearman(x, y, strata, n_perm: int = 10_000, seed: int = 0) -> dict:
    """Trend of y against x *within* strata (e.g. N against tau_net within one network size),
    so that a third variable that sets both x and y from stratum to stratum cannot make it.

    Per stratum with >= 3 finite pairs and neither side constant: Spearman rho (the Pearson
    correlation of average ranks). Statistic: the mean of these rhos weighted by the stratum's
    pairs. p: two-sided permutation test, y shuffled within each stratum (``n_perm`` shuffles,
    numpy seed ``seed``), p = (1 + #(|rho_perm| >= |rho|)) / (1 + n_perm). Strata that cannot
    give a rho are left out (listed with NaN). Returns rho, p, n (pairs used), strata (used) and
    per_stratum {stratum: rho}; rho and p are NaN when no stratum is usable."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    strata = np.asarray(strata)
    if not x.shape == y.shape == strata.shape:
        raise ValueError(f"x, y and strata must have one shape, got {x.shape}, {y.shape}, "
                         f"{strata.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    per, groups = {}, []
    for s in sorted(set(strata.tolist())):
        sel = ok & (strata == s)
        if not _ranks_ok(x[sel], y[sel]):
            per[s] = math.nan
            continue
        rx, ry = stats.rankdata(x[sel]), stats.rankdata(y[sel])
        rx, ry = rx - rx.mean(), ry - ry.mean()
        per[s] = float(rx @ ry / math.sqrt((rx @ rx) * (ry @ ry)))
        groups.append((rx, ry))
    if not groups:
        return {"rho": math.nan, "p": math.nan, "n": 0, "strata": 0, "per_stratum": per}
    sizes = np.array([len(rx) for rx, _ in groups], dtype=float)
    rng = np.random.default_rng(seed)
    null = np.zeros(n_perm)
    for (rx, ry), w in zip(groups, sizes):
        shuffled = ry[np.argsort(rng.random((n_perm, ry.size)), axis=1)]     # [n_perm, n]
        null += w * (shuffled @ rx) / math.sqrt((rx @ rx) * (ry @ ry))
    null /= sizes.sum()
    rho = float(np.dot(sizes, [per[s] for s in per if math.isfinite(per[s])]) / sizes.sum())
    p = (1 + int(np.sum(np.abs(null) >= abs(rho) - 1e-12))) / (1 + n_perm)
    return {"rho": rho, "p": float(p), "n": int(sizes.sum()), "strata": len(groups),
            "per_stratum": per}


def trend_class(rho: float, p: float, alpha: float = ALPHA) -> str:
    """"up" (rho > 0, p < alpha), "down" (rho < 0, p < alpha) or "flat" (otherwise, NaN too)."""
    if not (math.isfinite(rho) and math.isfinite(p)) or p >= alpha:
        return "flat"
    return "up" if rho > 0 else "down"
