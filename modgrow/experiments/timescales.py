"""Chapter 6, timescales: the network-mediated timescale tau_net of every neuron and module of
the stored chapter 3 (modular) and chapter 4 (non-modular) networks, against module depth and
against N, next to the trained single-neuron tau. Nothing new is trained; each network's
analysis is stored under ``results/analysis/tau-*`` (``modgrow.tau_measures``)."""

from __future__ import annotations

import math
import statistics

import numpy as np

from .. import tau_measures as tm
from .. import verdicts as vd
from ..profiles import Profile
from ..store import StoredRun, load_or_compute, load_or_run
from .baseline import baseline_configs, iclr_config
from .curriculum import analysed_growth_configs, plain_confirmed_growth_configs
from .spec import Experiment

CHAPTER = "6 timescales"
INPUT_SEED = 0
MAX_LAG, FIT_LAGS = 200, 30
ICLR_TAU_RANGE = (1.2, 1.75)        # mean trained tau in the ICLR 2024 networks
ICLR_TAU_NET_RANGE = (5.0, 10.0)    # mean tau_net at N ~ 30-40 (ICLR 2024)
FIRST_REGULAR_DEPTH = 2             # modules 0 (no feed-forward input) and 1 (feed-forward
                                    # weights start random) are structurally special
MAJORITY = 0.5                      # a module size "grows" if more than this share of seeds rise
MEDIATION_MARGIN = 0.5              # steps by which tau_net must exceed the isolated timescale


def n_solved_blocks(run: StoredRun, n_blocks: int) -> int:
    """Leading blocks that belong to a solved N: modular, modules 0..max_n_reached - n_start
    (a stopped run may hold one more, unsolved); non-modular, the one block (if any N solved)."""
    reached = run.max_n_reached or (run.config.n_start - 1)
    if run.config.architecture == "nonmodular":
        return int(reached >= run.config.n_start) * n_blocks
    return max(0, min(n_blocks, reached - run.config.n_start + 1))


def spec(run: StoredRun, profile: Profile) -> dict:
    return {"run": run.path.name, "T": profile.tau_steps, "trials": profile.tau_trials,
            "burn_in": profile.tau_burn_in, "seed": INPUT_SEED, "max_lag": MAX_LAG,
            "fit_lags": FIT_LAGS}


def network_analysis(run: StoredRun, profile: Profile) -> dict:
    """The stored timescale analysis of one network (computed when missing)."""
    s = spec(run, profile)

    def compute():
        net = run.network()
        return tm.network_timescales(net, n_solved_blocks(run, net.n_blocks), s["T"],
                                     s["trials"], s["burn_in"], s["seed"], MAX_LAG, FIT_LAGS)
    data = load_or_compute("analysis", f"tau-{run.path.name[:40]}", s, compute)["data"]
    return {**data, "run": run.path.name, "module_size_cfg": run.config.module_size,
            "seed": run.config.seed, "max_n": run.max_n_reached}


def modular_results(profile: Profile, configs=None) -> dict[int, list[dict]]:
    """Analyses of the chapter 3 growth runs (or of ``configs``), by module size (seeds in
    order)."""
    out: dict[int, list[dict]] = {}
    for c in analysed_growth_configs(profile) if configs is None else configs:
        out.setdefault(c.module_size, []).append(
            network_analysis(load_or_run(c, progress=False), profile))
    return out


def nonmodular_results(profile: Profile) -> list[dict]:
    """Analyses of the chapter 4 non-modular runs and the ICLR-size network (last)."""
    cfgs = baseline_configs(profile) + [iclr_config(profile)]
    return [network_analysis(load_or_run(c, progress=False), profile) for c in cfgs]


def read_configs(profile: Profile):
    """The stored runs this chapter reads (it trains nothing of its own)."""
    return analysed_growth_configs(profile) + baseline_configs(profile) + [iclr_config(profile)]


def analyse(profile: Profile) -> int:
    return sum(len(v) for v in modular_results(profile).values()) + \
        len(nonmodular_results(profile))


EXPERIMENTS = (
    Experiment("timescales", CHAPTER, "tau_net of every neuron and module of the stored chapter "
               "3 and 4 networks (trains nothing new: its configs are the runs it reads)",
               read_configs, analyse),
)


# ----- the estimator on synthetic data ----------------------------------------------------------

def resolved(row: dict, tol: float = 0.1, share: float = 0.8) -> bool:
    """A ``timescales.validate`` row is resolved when the median estimate is within ``tol`` of
    the true timescale and at least ``share`` of the data sets are within 10 %."""
    return abs(row["rel_error"]) <= tol and row["frac_within_10pct"] >= share


def validation_summary(val: list[dict], small: float = 2.0, long: float = 20.0) -> dict:
    """What the validation supports. Single-timescale rows below ``small`` steps (the range of
    the network values): the smallest resolved tau, the largest unresolved one below it (the
    resolution floor) and its median estimate, the worst median error and the lowest share of
    data sets within 10 % among resolved rows, and the largest single-data-set overestimate
    (ratio); rows up to ``long`` (mixture included): worst median error and mean share within
    10 %; the longest single row as it is."""
    singles = sorted((r for r in val if r["case"] == "single"), key=lambda r: r["tau_true"])
    sub = [r for r in singles if r["tau_true"] < small]
    ok = [r for r in sub if resolved(r)]
    lo = min((r["tau_true"] for r in ok), default=math.nan)
    floor = [r for r in sub if not resolved(r) and r["tau_true"] < lo]
    up_to = [r for r in val if r["tau_true"] <= long and resolved(r)]
    big = singles[-1]
    return {
        "smallest resolved": lo,
        "floor": max((r["tau_true"] for r in floor), default=math.nan),
        "floor median": floor[-1]["tau_median"] if floor else math.nan,
        "small worst error": max((abs(r["rel_error"]) for r in ok), default=math.nan),
        "small min within": min((r["frac_within_10pct"] for r in ok), default=math.nan),
        "small max ratio": max((np.nanmax(np.asarray(r["taus"], float)) / r["tau_true"]
                                for r in ok), default=math.nan),
        "worst error": max((abs(r["rel_error"]) for r in up_to), default=math.nan),
        "mean within": float(np.mean([r["frac_within_10pct"] for r in up_to]))
        if up_to else math.nan,
        "unresolved up to long": [r["tau_true"] for r in val
                                  if r["tau_true"] <= long and not resolved(r)],
        "big tau": big["tau_true"], "big median": big["tau_median"],
        "big within": big["frac_within_10pct"], "big at bound": big["n_at_bound"],
    }


# ----- per-network summaries --------------------------------------------------------------------

def solved_modules(a: dict) -> list[dict]:
    return [m for m in a["modules"] if m["solved"]]


def _f(v) -> float:
    return math.nan if v is None else float(v)


def depth_trend(a: dict, key: str = "tau_net_median", min_depth: int = 0) -> dict:
    """Spearman rho and p of a per-module quantity against depth, solved modules of depth >=
    min_depth only."""
    mods = [m for m in solved_modules(a) if m["depth"] >= min_depth]
    return tm.spearman_trend([m["depth"] for m in mods], [_f(m[key]) for m in mods])


def first_middle_last(a: dict, key: str = "tau_net_median") -> tuple[float, float, float]:
    mods = solved_modules(a)
    if not mods:
        return (math.nan,) * 3
    return tuple(_f(mods[i][key]) for i in (0, len(mods) // 2, len(mods) - 1))


def network_row(a: dict) -> dict:
    """One table row per modular network."""
    t = depth_trend(a)
    t2 = depth_trend(a, min_depth=FIRST_REGULAR_DEPTH)
    tp = depth_trend(a, "tau_net_pop")
    tt = depth_trend(a, "tau_mean")
    first, mid, last = first_middle_last(a)
    return {"module size": a["module_size"], "seed": a["seed"],
            "solved modules": a["n_solved"], "tau_net first": first, "tau_net middle": mid,
            "tau_net last": last, "rho": t["rho"], "p": t["p"], "trend": tm.trend_class(
                t["rho"], t["p"]),
            "rho 2+": t2["rho"], "p 2+": t2["p"], "trend 2+": tm.trend_class(t2["rho"], t2["p"]),
            "rho pop": tp["rho"], "p pop": tp["p"], "rho tau": tt["rho"], "p tau": tt["p"],
            "silent": a["n_silent"], "failed": a["n_failed"],
            "seconds": a["seconds_total"]}


def _fitted(a: dict, key: str = "tau_net", solved_only: bool = True) -> np.ndarray:
    n = a["neurons"]
    blocks = np.asarray(n["block"])
    v = np.array([_f(x) for x in n[key]])
    keep = np.isfinite(v) & (blocks < a["n_solved"] if solved_only else True)
    return v[keep]


def nonmodular_row(a: dict) -> dict:
    tau_net = _fitted(a)
    return {"neurons": a["module_size"], "seed": a["seed"], "N": a["max_n"],
            "tau_net mean": float(np.mean(tau_net)) if tau_net.size else math.nan,
            "tau_net median": float(np.median(tau_net)) if tau_net.size else math.nan,
            "tau_net pop": _f(a["modules"][0]["tau_net_pop"]),
            "tau mean": float(np.mean(a["neurons"]["tau"])),
            "isolated median": float(np.median(a["neurons"]["isolated"])),
            "silent": a["n_silent"], "failed": a["n_failed"], "seconds": a["seconds_total"]}


def mediation(a: dict, margin: float = MEDIATION_MARGIN) -> dict:
    """Per network (solved blocks, fitted neurons): the share of neurons whose tau_net exceeds
    their isolated timescale -1/ln(1-1/tau) at all, and by more than ``margin`` steps, and the
    median isolated timescale."""
    n = a["neurons"]
    keep = np.asarray(n["block"]) < a["n_solved"]
    tau_net = np.array([_f(x) for x in n["tau_net"]])[keep]
    iso = np.asarray(n["isolated"], dtype=float)[keep]
    fit = np.isfinite(tau_net)
    tau_net, iso = tau_net[fit], iso[fit]
    if not tau_net.size:
        return {"neurons": 0, "above": math.nan, "above margin": math.nan,
                "isolated median": math.nan}
    return {"neurons": int(tau_net.size), "above": float(np.mean(tau_net > iso)),
            "above margin": float(np.mean(tau_net > iso + margin)),
            "isolated median": float(np.median(iso))}


def size_summary(rows: list[dict]) -> list[dict]:
    """Per module size: median over seeds of the first / middle / last module's tau_net, and
    how many seeds show a significant rise with depth."""
    out = []
    for m in sorted({r["module size"] for r in rows}):
        rs = [r for r in rows if r["module size"] == m]
        out.append({"module size": m, "seeds": len(rs),
                    **{k: statistics.median(r[k] for r in rs)
                       for k in ("tau_net first", "tau_net middle", "tau_net last")},
                    "rho (per seed)": ", ".join(f"{r['rho']:.2f}" for r in rs),
                    "p (per seed)": ", ".join(f"{r['p']:.1g}" for r in rs),
                    "rising": sum(r["trend"] == "up" for r in rs),
                    "rho 2+ (per seed)": ", ".join(f"{r['rho 2+']:.2f}" for r in rs),
                    "rising 2+": sum(r["trend 2+"] == "up" for r in rs)})
    return out


# ----- verdict rules (pure, tested on synthetic numbers) ----------------------------------------

def _majority(classes: list[str], which: str) -> bool:
    return sum(c == which for c in classes) > len(classes) / 2


def _more_than(classes: list[str], which: str, share: float) -> bool:
    return sum(c == which for c in classes) > share * len(classes)


def depth_verdict(classes: dict[int, list[str]], share: float = MAJORITY) -> str:
    """classes: per module size, each network's trend class ("up"/"down"/"flat").
    A size *grows* if more than ``share`` (default: most) of its networks are "up" (rho > 0,
    p < 0.05), *shrinks* if more than ``share`` are "down". holds: every size grows; holds
    partly: some grow, none shrinks; fails: some shrink, none grows; suggestive: none grows or
    shrinks but more "up" than "down" networks; not distinguishable otherwise."""
    grows = [_more_than(cs, "up", share) for cs in classes.values()]
    shrinks = [_more_than(cs, "down", share) for cs in classes.values()]
    flat = [c for cs in classes.values() for c in cs]
    if grows and all(grows):
        return "holds"
    if any(grows) and not any(shrinks):
        return "holds partly"
    if any(shrinks) and not any(grows):
        return "fails"
    if not any(grows) and not any(shrinks) and flat.count("up") > flat.count("down"):
        return "suggestive"
    return "not distinguishable"


STRENGTH = ("fails", "not distinguishable", "suggestive", "holds partly", "holds")


def weaker(*words: str) -> str:
    """The verdict that gives the claim the least support: holds > holds partly > suggestive >
    not distinguishable > fails."""
    return min(words, key=STRENGTH.index)


def depth_robust_verdict(all_modules: dict[int, list[str]], from_regular: dict[int, list[str]],
                         share: float = MAJORITY) -> str:
    """tau_net grows with depth: ``depth_verdict`` on the trend over all solved modules and on
    the trend from module FIRST_REGULAR_DEPTH on (without the structurally special first
    modules); the verdict is the weaker of the two, so a rise made by modules 0-1 alone cannot
    carry it."""
    return weaker(depth_verdict(all_modules, share), depth_verdict(from_regular, share))


def flat_verdict(classes: dict[int, list[str]]) -> str:
    """Is a quantity flat across depth? holds: no size has a majority of significant trends
    (either sign); fails: every size has one; holds partly otherwise."""
    trending = [_majority(cs, "up") or _majority(cs, "down") for cs in classes.values()]
    if not any(trending):
        return "holds"
    return "fails" if all(trending) else "holds partly"


def range_verdict(values: list[float], lo: float, hi: float) -> str:
    """holds: every value in [lo, hi]; holds partly: most; fails otherwise."""
    inside = [lo <= v <= hi for v in values if math.isfinite(v)]
    if inside and all(inside):
        return "holds"
    return "holds partly" if sum(inside) > len(inside) / 2 else "fails"


def trend_verdict(rho: float, p: float) -> str:
    """One Spearman trend: holds (rho > 0, p < 0.05), fails (rho < 0, p < 0.05), suggestive
    (rho > 0, p >= 0.05), not distinguishable (otherwise)."""
    c = tm.trend_class(rho, p)
    if c == "up":
        return "holds"
    if c == "down":
        return "fails"
    return "suggestive" if math.isfinite(rho) and rho > 0 else "not distinguishable"


def share_verdict(wins: int, total: int) -> str:
    """holds: all; holds partly: most; fails otherwise."""
    if total and wins == total:
        return "holds"
    return "holds partly" if wins > total / 2 else "fails"


def n_verdict(pooled: dict, within: dict) -> str:
    """tau_net grows with N, when N is confounded with network size (the N a network reaches is
    set by its size). pooled: Spearman over all networks; within: ``tm.stratified_spearman``
    within sizes. holds: the within-size trend is > 0 with p < 0.05; fails: it is < 0 with
    p < 0.05; suggestive: the pooled trend is > 0 with p < 0.05 (or the within-size rho is > 0)
    but the within-size test does not confirm it, so size alone could make it; not
    distinguishable otherwise."""
    c = tm.trend_class(within["rho"], within["p"])
    if c == "up":
        return "holds"
    if c == "down":
        return "fails"
    if tm.trend_class(pooled["rho"], pooled["p"]) == "up" or (
            math.isfinite(within["rho"]) and within["rho"] > 0):
        return "suggestive"
    return "not distinguishable"


def like_with_like_range_verdict(values: list[float], lo: float, hi: float) -> str:
    """A published range, tested only on networks of the published size. With at least
    ``verdicts.MIN_SEEDS`` networks: holds if >= ``verdicts.AGREE`` of them lie in [lo, hi],
    holds partly if most, fails otherwise; with fewer: suggestive if most lie inside, not
    distinguishable otherwise (too few networks to reject the range)."""
    v = [x for x in values if math.isfinite(x)]
    inside = sum(lo <= x <= hi for x in v)
    if not v:
        return "not distinguishable"
    if len(v) < vd.MIN_SEEDS:
        return "suggestive" if inside > len(v) / 2 else "not distinguishable"
    if inside >= vd.AGREE * len(v):
        return "holds"
    return "holds partly" if inside > len(v) / 2 else "fails"


def n_trend(non: list[dict]) -> dict:
    """tau_net mean against N over non-modular rows: pooled Spearman and the within-size test,
    and the per-size N range."""
    n = [math.nan if r["N"] is None else r["N"] for r in non]    # None: no N solved
    t, size = [r["tau_net mean"] for r in non], [r["neurons"] for r in non]

    def n_range(m):
        v = [x for x, s in zip(n, size) if s == m and math.isfinite(x)]
        return (min(v), max(v)) if v else (math.nan, math.nan)
    return {"pooled": tm.spearman_trend(n, t),
            "within": tm.stratified_spearman(n, t, size),
            "size vs tau_net": tm.spearman_trend(size, t),
            "size vs N": tm.spearman_trend(size, n),
            "N by size": {m: n_range(m) for m in sorted(set(size))}}


def mediated_verdict(shares: list[float], share: float = 0.5) -> str:
    """A network's timescales count as network-made when more than ``share`` of its fitted
    neurons exceed their isolated timescale by MEDIATION_MARGIN; share_verdict over networks."""
    return share_verdict(sum(x > share for x in shares), len(shares))


# ----- verdicts ---------------------------------------------------------------------------------

def _trend_classes(rows: list[dict], key: str = "trend") -> tuple[dict, dict]:
    """Per module size, each network's trend class of tau_net (``key``: "trend" over all solved
    modules, "trend 2+" from FIRST_REGULAR_DEPTH on) and of the trained tau."""
    sizes = sorted({r["module size"] for r in rows})
    return ({m: [r[key] for r in rows if r["module size"] == m] for m in sizes},
            {m: [tm.trend_class(r["rho tau"], r["p tau"]) for r in rows
                 if r["module size"] == m] for m in sizes})


def _counts(classes: dict[int, list[str]], which: str = "up") -> str:
    return ", ".join(f"{m}: {cs.count(which)}/{len(cs)}" for m, cs in classes.items())


def generations(profile: Profile) -> list[dict]:
    """The two depth verdicts on both generations of chapter 3's growth runs (same module sizes
    and seeds): grown under the plain confirmation, and with the margin (the networks this
    chapter reads). Per generation and module size: networks whose tau_net rises with depth
    (over all solved modules, and from FIRST_REGULAR_DEPTH on) and whose trained tau trends
    (either sign), each out of the seeds; the depth verdict is ``depth_robust_verdict``."""
    out = []
    for label, cfgs in (("plain confirmation", plain_confirmed_growth_configs(profile)),
                        ("with the margin", analysed_growth_configs(profile))):
        rows = [network_row(a) for v in modular_results(profile, cfgs).values() for a in v]
        depth, tau = _trend_classes(rows)
        deep, _ = _trend_classes(rows, "trend 2+")
        out.append({
            "generation": label,
            "tau_net rising (per size)": _counts(depth),
            f"rising from module {FIRST_REGULAR_DEPTH} (per size)": _counts(deep),
            "tau_net grows with depth": depth_robust_verdict(depth, deep),
            "trained tau trending (per size)": ", ".join(
                f"{m}: {len(cs) - cs.count('flat')}/{len(cs)}" for m, cs in tau.items()),
            "trained tau stays flat": flat_verdict(tau),
            "sizes one seed from the majority": sum(
                _near_majority(cs.count("up"), len(cs)) for cs in (*depth.values(),
                                                                    *deep.values()))
            + sum(_near_majority(len(cs) - cs.count("flat"), len(cs)) for cs in tau.values())})
    return out


def _near_majority(k: int, n: int) -> bool:
    """Would one seed more or less change whether k of n is a majority?"""
    return (k + 1 > n / 2) != (k > n / 2) or (k - 1 > n / 2) != (k > n / 2)


def _depth_row(rows: list[dict], sizes: list[dict]) -> dict:
    by_size, _ = _trend_classes(rows)
    deep, _ = _trend_classes(rows, "trend 2+")
    d = FIRST_REGULAR_DEPTH
    return {
        "claim": "tau_net grows with module depth, as along the cortical hierarchy",
        "paper": "question of this book (the authors' unpublished notebook: ~0-1 in the first "
                 "modules, 2-4 in modules 15-27)",
        "this book": "; ".join(
            f"M_m={s['module size']}: tau_net {s['tau_net first']:.2f} / "
            f"{s['tau_net middle']:.2f} / {s['tau_net last']:.2f} (first/middle/last module, "
            f"median over seeds), rising in {s['rising']}/{s['seeds']} seeds "
            f"(rho {s['rho (per seed)']}), from module {d} on in {s['rising 2+']}/{s['seeds']} "
            f"(rho {s['rho 2+ (per seed)']})" for s in sizes)
        + f". All modules: {depth_verdict(by_size)}; from module {d} on: "
          f"{depth_verdict(deep)}",
        "rule": "per network Spearman rho of the module's median neuron tau_net vs depth, over "
                f"all solved modules and again from module {d} on (module 0 has no feed-forward "
                "input, module 1's feed-forward weights start random); a size grows if rho > 0 "
                "with p < 0.05 in most seeds; per test holds: every size; holds partly: some, "
                "none falling; verdict: the weaker of the two tests; majority share "
                + vd.sensitivity(lambda q: depth_robust_verdict(by_size, deep, q), MAJORITY),
        "verdict": depth_robust_verdict(by_size, deep),
    }


def _tau_range_row(non: list[dict], iclr_size: int) -> dict:
    like = [r["tau mean"] for r in non if r["neurons"] == iclr_size]
    ns = [r["N"] for r in non if r["neurons"] == iclr_size]
    others = ", ".join(
        f"{m} neurons {min(r['tau mean'] for r in non if r['neurons'] == m):.2f}-"
        f"{max(r['tau mean'] for r in non if r['neurons'] == m):.2f}"
        for m in sorted({r["neurons"] for r in non}) if m != iclr_size)
    t = tm.spearman_trend([r["neurons"] for r in non], [r["tau mean"] for r in non])
    return {
        "claim": "mean trained tau stays within 1.2-1.75 (non-modular networks)",
        "paper": f"ICLR 2024: 1.2-1.75 ({iclr_size}-neuron networks, N >= 30)",
        "this book": f"{iclr_size}-neuron networks: "
                     + ", ".join(f"{v:.2f} (N={n})" for v, n in zip(like, ns))
                     + f" ({len(like)} network{'s' * (len(like) != 1)}); smaller networks, a "
                     f"different regime (mean tau rises with size, Spearman rho {t['rho']:.2f}, "
                     f"p {t['p']:.1g}): {others}",
        "rule": f"like with like: only networks of the ICLR size ({iclr_size} neurons); with >= "
                f"{vd.MIN_SEEDS}: holds if >= {100 * vd.AGREE:.0f}% in [1.2, 1.75], holds partly "
                f"if most, fails otherwise; with fewer: suggestive if most inside, not "
                f"distinguishable otherwise (the N reached is below the ICLR N >= 30 either way)",
        "verdict": like_with_like_range_verdict(like, *ICLR_TAU_RANGE),
    }


def _n_row(non: list[dict]) -> dict:
    nt = n_trend(non)
    t, w = nt["pooled"], nt["within"]
    big = [r for r in non if (r["N"] or 0) >= 20]
    per = ", ".join(f"{m} neurons (N {nt['N by size'][m][0]}-{nt['N by size'][m][1]}): "
                    f"{rho:.2f}" for m, rho in w["per_stratum"].items() if math.isfinite(rho))
    return {
        "claim": "non-modular tau_net grows with N",
        "paper": "ICLR 2024: mean tau_net ~2 at N = 2, 5-10 at N ~ 30-40",
        "this book": f"pooled Spearman rho {t['rho']:.2f} (p {t['p']:.1g}) over {t['n']} "
                     f"networks, N {min(r['N'] or 0 for r in non)}-"
                     f"{max(r['N'] or 0 for r in non)}; but N is set by size (size vs N rho "
                     f"{nt['size vs N']['rho']:.2f}, size vs tau_net rho "
                     f"{nt['size vs tau_net']['rho']:.2f}); within one size: {per}; combined "
                     f"{w['rho']:.2f} (permutation p {w['p']:.2f}); "
                     + (f"mean tau_net at N >= 20: "
                        + ", ".join(f"{r['tau_net mean']:.1f} (N={r['N']})" for r in big)
                        if big else "no network reached N = 20"),
        "rule": "within-size Spearman rho of mean neuron tau_net vs N (sizes combined, weighted "
                "by networks; p from shuffling tau_net within sizes): holds if > 0 with "
                "p < 0.05, fails if < 0 with p < 0.05; suggestive if only the pooled rho (size "
                "and N together) is > 0 with p < 0.05, or the within-size rho is > 0",
        "verdict": n_verdict(t, w),
    }


def _mediated_row(non_analyses: list[dict], mod: dict) -> dict:
    nets = non_analyses + [a for v in mod.values() for a in v if a["n_solved"]]
    med = [mediation(a) for a in nets]
    above = [m["above"] for m in med]
    margin = [m["above margin"] for m in med]
    zero_iso = sum(m["isolated median"] == 0 for m in med)
    return {
        "claim": "timescales are network-mediated: tau_net exceeds the isolated neuron's "
                 "-1/ln(1-1/tau)",
        "paper": "ICLR 2024 (tau_net grows while trained tau stays small)",
        "this book": f"per network, {100 * min(above):.0f}-{100 * max(above):.0f}% of neurons "
                     f"exceed their isolated timescale and {100 * min(margin):.0f}-"
                     f"{100 * max(margin):.0f}% by more than {MEDIATION_MARGIN:g} steps; most "
                     f"do so by that margin in {sum(x > 0.5 for x in margin)} of {len(nets)} "
                     f"networks (modular and non-modular); the median isolated timescale is 0 "
                     f"(trained tau <= 1) in {zero_iso} of them",
        "rule": f"a network counts if more than half its fitted neurons exceed the isolated "
                f"timescale by > {MEDIATION_MARGIN:g} steps (without a margin any positive fit "
                f"would pass); holds: every network; holds partly: most; margin "
                + vd.sensitivity(lambda mg: mediated_verdict(
                    [mediation(a, mg)["above margin"] for a in nets]), MEDIATION_MARGIN),
        "verdict": mediated_verdict(margin),
    }


def verdicts(profile: Profile) -> list[dict]:
    mod = modular_results(profile)
    rows = [network_row(a) for v in mod.values() for a in v]
    sizes = size_summary(rows)
    non_analyses = nonmodular_results(profile)
    non = [nonmodular_row(a) for a in non_analyses]
    _, tau_cls = _trend_classes(rows)
    out = [_depth_row(rows, sizes)]
    out.append({
        "claim": "trained tau stays flat across modules while tau_net changes",
        "paper": "the authors' unpublished notebook",
        "this book": "; ".join(
            f"M_m={m}: Spearman rho of mean trained tau vs depth "
            + ", ".join(f"{r['rho tau']:.2f} (p {r['p tau']:.1g})" for r in rows
                        if r["module size"] == m) for m in mod),
        "rule": "holds: no module size has a significant trend (p < 0.05) in most seeds; "
                "fails: every size has one; holds partly otherwise",
        "verdict": flat_verdict(tau_cls),
    })
    out.append(_tau_range_row(non, profile.iclr_size))
    out.append(_n_row(non))
    out.append(_mediated_row(non_analyses, mod))
    return out
