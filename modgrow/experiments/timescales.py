"""Chapter 6, timescales: the network-mediated timescale tau_net of every neuron and module of
the stored chapter 3 (modular) and chapter 4 (non-modular) networks, against module depth and
against N, next to the trained single-neuron tau. Nothing new is trained; each network's
analysis is stored under ``results/analysis/tau-*`` (``modgrow.tau_measures``)."""

from __future__ import annotations

import math
import statistics

import numpy as np

from .. import tau_measures as tm
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


# ----- per-network summaries --------------------------------------------------------------------

def solved_modules(a: dict) -> list[dict]:
    return [m for m in a["modules"] if m["solved"]]


def _f(v) -> float:
    return math.nan if v is None else float(v)


def depth_trend(a: dict, key: str = "tau_net_median") -> dict:
    """Spearman rho and p of a per-module quantity against depth, solved modules only."""
    mods = solved_modules(a)
    return tm.spearman_trend([m["depth"] for m in mods], [_f(m[key]) for m in mods])


def first_middle_last(a: dict, key: str = "tau_net_median") -> tuple[float, float, float]:
    mods = solved_modules(a)
    if not mods:
        return (math.nan,) * 3
    return tuple(_f(mods[i][key]) for i in (0, len(mods) // 2, len(mods) - 1))


def network_row(a: dict) -> dict:
    """One table row per modular network."""
    t = depth_trend(a)
    tp = depth_trend(a, "tau_net_pop")
    tt = depth_trend(a, "tau_mean")
    first, mid, last = first_middle_last(a)
    return {"module size": a["module_size"], "seed": a["seed"],
            "solved modules": a["n_solved"], "tau_net first": first, "tau_net middle": mid,
            "tau_net last": last, "rho": t["rho"], "p": t["p"], "trend": tm.trend_class(
                t["rho"], t["p"]),
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
                    "rising": sum(r["trend"] == "up" for r in rs)})
    return out


# ----- verdict rules (pure, tested on synthetic numbers) ----------------------------------------

def _majority(classes: list[str], which: str) -> bool:
    return sum(c == which for c in classes) > len(classes) / 2


def depth_verdict(classes: dict[int, list[str]]) -> str:
    """classes: per module size, each network's trend class ("up"/"down"/"flat").
    A size *grows* if most of its networks are "up" (rho > 0, p < 0.05), *shrinks* if most are
    "down". holds: every size grows; holds partly: some grow, none shrinks; fails: some shrink,
    none grows; suggestive: no majority anywhere but more "up" than "down" networks;
    not distinguishable otherwise."""
    grows = [_majority(cs, "up") for cs in classes.values()]
    shrinks = [_majority(cs, "down") for cs in classes.values()]
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


# ----- verdicts ---------------------------------------------------------------------------------

def _trend_classes(rows: list[dict]) -> tuple[dict, dict]:
    """Per module size, each network's trend class of tau_net and of the trained tau."""
    sizes = sorted({r["module size"] for r in rows})
    return ({m: [r["trend"] for r in rows if r["module size"] == m] for m in sizes},
            {m: [tm.trend_class(r["rho tau"], r["p tau"]) for r in rows
                 if r["module size"] == m] for m in sizes})


def generations(profile: Profile) -> list[dict]:
    """The two depth verdicts on both generations of chapter 3's growth runs (same module sizes
    and seeds): grown under the plain confirmation, and with the margin (the networks this
    chapter reads). Per generation and module size: networks whose tau_net rises with depth and
    whose trained tau trends (either sign), each out of the seeds."""
    out = []
    for label, cfgs in (("plain confirmation", plain_confirmed_growth_configs(profile)),
                        ("with the margin", analysed_growth_configs(profile))):
        rows = [network_row(a) for v in modular_results(profile, cfgs).values() for a in v]
        depth, tau = _trend_classes(rows)
        out.append({
            "generation": label,
            "tau_net rising (per size)": ", ".join(
                f"{m}: {cs.count('up')}/{len(cs)}" for m, cs in depth.items()),
            "tau_net grows with depth": depth_verdict(depth),
            "trained tau trending (per size)": ", ".join(
                f"{m}: {len(cs) - cs.count('flat')}/{len(cs)}" for m, cs in tau.items()),
            "trained tau stays flat": flat_verdict(tau),
            "sizes one seed from the majority": sum(
                _near_majority(cs.count("up"), len(cs)) for cs in depth.values())
            + sum(_near_majority(len(cs) - cs.count("flat"), len(cs)) for cs in tau.values())})
    return out


def _near_majority(k: int, n: int) -> bool:
    """Would one seed more or less change whether k of n is a majority?"""
    return (k + 1 > n / 2) != (k > n / 2) or (k - 1 > n / 2) != (k > n / 2)


def verdicts(profile: Profile) -> list[dict]:
    mod = modular_results(profile)
    rows = [network_row(a) for v in mod.values() for a in v]
    sizes = size_summary(rows)
    non = [nonmodular_row(a) for a in nonmodular_results(profile)]
    by_size, tau_cls = _trend_classes(rows)
    out = [{
        "claim": "tau_net grows with module depth, as along the cortical hierarchy",
        "paper": "question of this book (the authors' unpublished notebook: ~0-1 in the first "
                 "modules, 2-4 in modules 15-27)",
        "this book": "; ".join(
            f"M_m={s['module size']}: tau_net {s['tau_net first']:.2f} / "
            f"{s['tau_net middle']:.2f} / {s['tau_net last']:.2f} (first/middle/last module, "
            f"median over seeds), rising in {s['rising']}/{s['seeds']} seeds "
            f"(rho {s['rho (per seed)']})" for s in sizes),
        "rule": "per network Spearman rho of the module's median neuron tau_net vs depth "
                "(solved modules); a size grows if rho > 0 with p < 0.05 in most seeds; holds: "
                "every size; holds partly: some, none falling",
        "verdict": depth_verdict(by_size),
    }]
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
    taus = [r["tau mean"] for r in non]
    out.append({
        "claim": "mean trained tau stays within 1.2-1.75 (non-modular networks)",
        "paper": "ICLR 2024: 1.2-1.75",
        "this book": f"{min(taus):.2f}-{max(taus):.2f} over {len(taus)} non-modular networks",
        "rule": "holds: every network's mean in [1.2, 1.75]; holds partly: most",
        "verdict": range_verdict(taus, *ICLR_TAU_RANGE),
    })
    t = tm.spearman_trend([r["N"] for r in non], [r["tau_net mean"] for r in non])
    big = [r for r in non if (r["N"] or 0) >= 20]
    out.append({
        "claim": "non-modular tau_net grows with N",
        "paper": "ICLR 2024: mean tau_net ~2 at N = 2, 5-10 at N ~ 30-40",
        "this book": f"Spearman rho {t['rho']:.2f} (p {t['p']:.1g}) over {t['n']} networks, "
                     f"N {min(r['N'] or 0 for r in non)}-{max(r['N'] or 0 for r in non)}; "
                     + (f"mean tau_net at N >= 20: "
                        + ", ".join(f"{r['tau_net mean']:.1f} (N={r['N']})" for r in big)
                        if big else "no network reached N = 20"),
        "rule": "rho of mean neuron tau_net vs N across networks: holds if > 0 with p < 0.05; "
                "suggestive if > 0 otherwise; fails if < 0 with p < 0.05",
        "verdict": trend_verdict(t["rho"], t["p"]),
    })
    nets = [(r["tau_net median"], r["isolated median"]) for r in non] + [
        (statistics.median(_fitted(a)), statistics.median(
            a["neurons"]["isolated"][:a["n_solved"] * a["module_size"]]))
        for v in mod.values() for a in v if a["n_solved"]]
    wins = sum(a > b for a, b in nets)
    out.append({
        "claim": "timescales are network-mediated: tau_net exceeds the isolated neuron's "
                 "-1/ln(1-1/tau)",
        "paper": "ICLR 2024 (tau_net grows while trained tau stays small)",
        "this book": f"median neuron tau_net above the median isolated timescale in {wins} of "
                     f"{len(nets)} networks (modular and non-modular)",
        "rule": "holds: every network; holds partly: most",
        "verdict": share_verdict(wins, len(nets)),
    })
    return out
