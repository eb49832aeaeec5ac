"""Chapter 5, perturbations: robustness of modular and non-modular networks (claim 4), between-
against within-module sensitivity and conservation of within-module weights (claim 5), and growth
with fixed within-module weights (claim 6)."""

from __future__ import annotations

import math
import os

import numpy as np

from .. import perturbation as pt, verdicts as rules
from ..drift import module_drift
from ..network import count_parameters
from ..profiles import Profile
from ..stats import bootstrap_ci, geo_mean_ci, paired_log_ratio
from ..store import NO_COMPUTE_ENV, StoredRun, load_or_compute, load_or_run, load_run
from ..training import GrowthConfig, head_ns
from .baseline import baseline_configs, iclr_config
from .curriculum import (LEGACY, ablation_configs, analysed_growth_configs, base_config,
                         growth_configs, read_steps_to, read_to)
from .spec import Experiment

CHAPTER = "5 perturbations"
FIXED_MODULE_SIZE = 10
PER_MODULE_SIZE = 10        # module size whose networks are also perturbed one module at a time
SEED = 5                    # base seed of the perturbation draws and inputs

# claim 6: label -> (config changes, what the variant is)
FIXED_VARIANTS = {
    "fixed random": (dict(fix_within=True, duplicate=False),
                     "within-module weights fixed at a fresh random draw in every module; the "
                     "other weights of a new module random"),
    "fixed copy of module 0": (dict(within_from_first=True),
                               "module 0 trains its within-module weights at N = 2; later modules "
                               "take an exact copy and never train them (other weights duplicated)"),
    "full training": ({}, "every new module trains all its weights (duplicated from the previous "
                          "module)"),
    "full training, random init": (dict(duplicate=False),
                                   "every new module trains all its weights, initialised at "
                                   "random (the control for 'fixed random')"),
}
FULL = "full training"
# the order the fixed-within experiment computes them in (the random-init control before the
# copy variant: the drift analysis of claim 5 reads it)
FIXED_RUN_ORDER = ("fixed random", "full training, random init", "fixed copy of module 0", FULL)


def fixed_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """Claim 6 under chapter 3's criterion (confirmed, with ``growth_confirm_margin``): module
    size 10, ``fixed_seeds``, the chapter-3 budget per stage, growth to ``fixed_max_n``. Full
    training is chapter 3's own growth run of module size 10 (same config but a higher max_n,
    which is only a budget: ``fixed_summary`` reads it to ``fixed_max_n``)."""
    growth = {c.seed: c for c in growth_configs(profile) if c.module_size == FIXED_MODULE_SIZE}
    return {label: [growth[s] if label == FULL else
                    base_config(profile, module_size=FIXED_MODULE_SIZE, seed=s,
                                max_n=profile.fixed_max_n,
                                confirm_margin=profile.growth_confirm_margin, **kw)
                    for s in profile.fixed_seeds]
            for label, (kw, _) in FIXED_VARIANTS.items()}


def legacy_fixed_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """The first edition's claim-6 runs: the same variants under the single-check criterion
    (kept to show what the criterion changes; full training of seeds 0-2 are the first edition's
    ablation runs)."""
    return {label: [base_config(profile, module_size=FIXED_MODULE_SIZE, seed=s,
                                max_n=profile.fixed_max_n, **LEGACY, **kw)
                    for s in profile.fixed_seeds]
            for label, (kw, _) in FIXED_VARIANTS.items()}


# ----- robustness sweeps (claims 4 and 5) ---------------------------------------------------------

def solved_heads(run: StoredRun) -> int:
    """Heads of the stages the run solved (its stored network holds exactly these)."""
    return (run.max_n_reached or run.config.n_start - 1) - run.config.n_start + 1


def at_n(run: StoredRun, n: int):
    """The run's network restricted to heads N = n_start..n (modular: exactly the network that
    solved N = n; non-modular: the final network, read by those heads)."""
    k = n - run.config.n_start + 1
    if solved_heads(run) < k:
        raise ValueError(f"{run.path.name} did not solve N = {n}")
    return pt.truncate(run.network(), k), head_ns(run.config, k)


def groups_for(net, modular: bool, per_module: bool, classes=None) -> dict[str, list[str]]:
    classes = classes or (pt.CLASSES if modular else ("hidden", "input"))
    groups = {c: pt.matrix_names(net, c) for c in classes}
    if per_module:
        for k in range(net.n_blocks):
            groups[f"within@{k}"] = pt.matrix_names(net, "within", [k])
            if k:
                groups[f"between@{k}"] = pt.matrix_names(net, "between", [k])
    return groups


def sweep(run: StoredRun, profile: Profile, classes=None) -> dict:
    """Stored eps sweep of ``run`` at N = perturb_n: every matrix class (and, at module size
    ``PER_MODULE_SIZE``, every module alone)."""
    modular = run.config.architecture == "modular"
    per_module = modular and run.config.module_size == PER_MODULE_SIZE
    n = profile.perturb_n
    spec = {"analysis": "eps sweep", "run": run.path.name, "n": n,
            "eps": pt.eps_grid(profile.perturb_eps_points), "trials": profile.perturb_trials,
            "warmup": profile.perturb_warmup, "steps": profile.perturb_steps,
            "batch": profile.perturb_batch, "seed": SEED, "per_module": per_module,
            "classes": list(classes) if classes else None}

    def compute():
        net, ns = at_n(run, n)
        groups = groups_for(net, modular, per_module, classes)
        res = pt.sweep(net, ns, groups, spec["eps"], trials=spec["trials"],
                       warmup=spec["warmup"], steps=spec["steps"], batch=spec["batch"], seed=SEED)
        return {"neurons": net.n_neurons, "modules": net.n_blocks,
                "parameters": count_parameters(net)["total"]["all"], "ns": ns, "groups": res}
    stored = load_or_compute("analysis", f"perturb-{run.path.name[:40]}", spec, compute)
    return {**stored["data"], "eps": stored["config"]["eps"]}


def robustness_runs(profile: Profile, margin: bool = True) -> dict:
    """The networks of claim 4 that solved N = perturb_n: modular by module size, non-modular by
    size (chapter 4's baselines; ``margin=False``: those trained without the confirmation
    margin), and the ICLR-size network."""
    n = profile.perturb_n
    out = {"modular": {}, "nonmodular": {}, "iclr": None}
    for c in analysed_growth_configs(profile):
        r = load_or_run(c, progress=False)
        if solved_heads(r) >= n - c.n_start + 1:
            out["modular"].setdefault(c.module_size, []).append(r)
    for c in baseline_configs(profile, margin):
        r = load_or_run(c, progress=False)
        if solved_heads(r) >= n - c.n_start + 1:
            out["nonmodular"].setdefault(c.module_size, []).append(r)
    r = load_or_run(iclr_config(profile), progress=False)
    if solved_heads(r) >= n - r.config.n_start + 1:
        out["iclr"] = r
    return out


def robustness(profile: Profile, margin: bool = True) -> dict:
    """Sweeps of every claim-4 network: {"modular": {size: [sweep]}, "nonmodular": {...},
    "iclr": sweep or None}, each sweep tagged with its seed (``margin``: ``robustness_runs``)."""
    runs = robustness_runs(profile, margin)

    def tagged(r, **kw):
        return {"seed": r.config.seed, "run": r.path.name, **sweep(r, profile, **kw)}
    return {"modular": {m: [tagged(r) for r in rs] for m, rs in runs["modular"].items()},
            "nonmodular": {h: [tagged(r) for r in rs] for h, rs in runs["nonmodular"].items()},
            "iclr": tagged(runs["iclr"], classes=("hidden",)) if runs["iclr"] else None}


def _log_eps50(v: float) -> float:
    """log eps50, censored to the grid (an eps50 beyond the grid counts as its end)."""
    return math.log(min(max(v, 1e-2), 10.0)) if v == v else math.nan


def partners(rob: dict) -> dict:
    """For each modular size: the non-modular size with the nearest neuron count and the one
    with the nearest parameter count (log scale)."""
    sizes = sorted(rob["nonmodular"])
    out = {}
    for m, sw in rob["modular"].items():
        neurons, params = sw[0]["neurons"], sw[0]["parameters"]
        by_n = min(sizes, key=lambda h: abs(math.log(h / neurons)))
        by_p = min(sizes, key=lambda h: abs(math.log(rob["nonmodular"][h][0]["parameters"]
                                                        / params)))
        out[m] = {"neurons": (by_n, neurons), "parameters": (by_p, params)}
    return out


def paired_eps50(rob: dict, measure: str = "stream") -> list[dict]:
    """Per modular size and matching rule: paired (by seed) log eps50 differences, modular minus
    non-modular, hidden-to-hidden perturbation."""
    rows = []
    for m, p in sorted(partners(rob).items()):
        for rule, (h, count) in p.items():
            mod = {s["seed"]: _log_eps50(s["groups"]["hidden"][measure]["eps50"])
                   for s in rob["modular"][m]}
            non = {s["seed"]: _log_eps50(s["groups"]["hidden"][measure]["eps50"])
                   for s in rob["nonmodular"][h]}
            seeds = sorted(set(mod) & set(non))
            d = [mod[s] - non[s] for s in seeds]
            mean, lo, hi = bootstrap_ci(d)
            rows.append({"module size": m, "match": rule, "modular": count,
                         "non-modular neurons": h, "seeds": seeds, "diff": d,
                         "ratio": math.exp(mean), "low": math.exp(lo), "high": math.exp(hi),
                         "modular ahead": sum(x > 0 for x in d),
                         "non-modular ahead": sum(x < 0 for x in d)})
    return rows


def eps50_table(rob: dict, measure: str = "stream") -> list[dict]:
    """Median and range of eps50 (hidden-to-hidden) per architecture."""
    rows = []
    groups = [(f"modular M_m={m}", sw) for m, sw in sorted(rob["modular"].items())]
    groups += [(f"non-modular {h}", sw) for h, sw in sorted(rob["nonmodular"].items())]
    if rob["iclr"]:
        groups.append((f"non-modular {rob['iclr']['neurons']} (ICLR size)", [rob["iclr"]]))
    for label, sw in groups:
        v = [s["groups"]["hidden"][measure]["eps50"] for s in sw]
        g, lo, hi = bootstrap_ci(np.log(np.clip(v, 1e-2, 10.0)), stat=np.median)
        rows.append({"architecture": label, "networks": len(v), "eps50": [round(x, 3) for x in v],
                     "median": math.exp(g), "low": math.exp(lo) if lo == lo else math.nan,
                     "high": math.exp(hi) if hi == hi else math.nan,
                     "acc0": float(np.mean([s["groups"]["hidden"][measure]["acc0"] for s in sw]))})
    return rows


def ff_vs_rec(rob: dict, measure: str = "stream") -> dict:
    """Claim 5, whole network: eps50 of within-module against between-module perturbations,
    paired over every modular network (ratio within / between)."""
    w, b = [], []
    for sw in rob["modular"].values():
        for s in sw:
            w.append(min(max(s["groups"]["within"][measure]["eps50"], 1e-2), 10.0))
            b.append(min(max(s["groups"]["between"][measure]["eps50"], 1e-2), 10.0))
    return {"within": w, "between": b, **paired_log_ratio(w, b)}


def downstream_eps50(sweep_: dict, group: str, first_head: int, measure: str = "stream") -> float:
    """eps50 of the mean accuracy over heads ``first_head``.. (the heads a perturbation of one
    module can reach), from the stored per-head accuracies."""
    acc = np.asarray(sweep_["groups"][group][measure]["per_head"])[:, first_head:].mean(axis=1)
    return pt.eps50(sweep_["eps"], pt.relative(acc, float(acc[0])))


def per_module(rob: dict, measure: str = "stream") -> dict:
    """eps50 of each module's within- and between-module matrices alone (module size
    PER_MODULE_SIZE), per network, measured on the heads that module reaches (its own and
    later ones): {"within": [[...]], "between": [[...]]}."""
    out = {"within": [], "between": []}
    for s in rob["modular"].get(PER_MODULE_SIZE, []):
        k = s["modules"]
        out["within"].append([downstream_eps50(s, f"within@{i}", i, measure) for i in range(k)])
        out["between"].append([math.nan] + [downstream_eps50(s, f"between@{i}", i, measure)
                                            for i in range(1, k)])
    return out


# ----- conservation (claim 5) ----------------------------------------------------------------------

CONSERVATION_LABELS = {"duplicate": "duplicate, hard freeze", "random init": "random init, hard freeze"}


def conservation_runs(profile: Profile) -> dict[str, list[StoredRun]]:
    ab = ablation_configs(profile)
    return {k: [load_or_run(c, progress=False) for c in ab[v]]
            for k, v in CONSERVATION_LABELS.items()}


def similarity(run: StoredRun) -> dict:
    """Mean correlation between modules' within-module and between-module matrices (modules
    1.., which have both), over all pairs and over neighbours."""
    net = run.network()
    k = solved_heads(run)  # modules that solved their N
    mods = list(range(1, k))
    out = {}
    for cls, param in (("within", "w_rec"), ("between", "w_ff")):
        if len(mods) < 2:
            out[cls] = {"all pairs": math.nan, "neighbours": math.nan, "by lag": []}
            continue
        c = pt.module_similarity(net, param, mods)
        iu = np.triu_indices(len(mods), 1)
        out[cls] = {"all pairs": float(c[iu].mean()),
                    "neighbours": float(np.mean(np.diag(c, 1))),
                    "by lag": [float(np.mean(np.diag(c, d))) for d in range(1, len(mods))]}
    return out


def transplant_pairs(k: int) -> list[tuple[int, int]]:
    """(target, donor) among modules 1..k-1: each target with its neighbour and with the module
    half-way round."""
    mods = list(range(1, k))
    if len(mods) < 2:
        return []
    pairs = []
    for i, t in enumerate(mods):
        pairs.append((t, mods[i + 1] if i + 1 < len(mods) else mods[i - 1]))
        far = mods[(i + len(mods) // 2) % len(mods)]
        if far != t and (t, far) not in pairs:
            pairs.append((t, far))
    return pairs


def transplant(run: StoredRun, profile: Profile) -> dict:
    """Stored transplant test: r (streaming and end of sequence) after one module's within-module
    (then between-module) weights are replaced by another module's."""
    k = solved_heads(run)
    pairs = transplant_pairs(k)
    spec = {"analysis": "transplant", "run": run.path.name, "pairs": [list(p) for p in pairs],
            "trials": max(2, profile.perturb_trials // 2), "warmup": profile.perturb_warmup,
            "steps": profile.perturb_steps, "batch": profile.perturb_batch, "seed": SEED}

    def compute():
        net, ns = at_n(run, run.config.n_start + k - 1)
        variants = pt.transplants(net, "w_rec", pairs) + pt.transplants(net, "w_ff", pairs)[1:]
        res = pt.evaluate_variants(net, ns, lambda g: variants, trials=spec["trials"],
                                   warmup=spec["warmup"], steps=spec["steps"],
                                   batch=spec["batch"], seed=SEED)
        out = {}
        for m in ("stream", "eos"):
            mean = res[m].mean(axis=2)  # [trials, P]
            acc0 = float(mean[:, 0].mean())
            r = pt.relative(mean, acc0).mean(axis=0)
            out[m] = {"acc0": acc0, "within": r[1:1 + len(pairs)].round(4).tolist(),
                      "between": r[1 + len(pairs):].round(4).tolist()}
        return out
    return load_or_compute("analysis", f"perturb-{run.path.name[:40]}", spec, compute)["data"]


def conservation(profile: Profile) -> dict:
    return {label: [{"seed": r.config.seed, "similarity": similarity(r),
                     "transplant": transplant(r, profile)} for r in rs]
            for label, rs in conservation_runs(profile).items()}


# drift from initialisation: label -> the claim-6 variant whose runs are read (module size 10,
# chapter 3's criterion; "full training" is chapter 3's own growth runs)
DRIFT_LABELS = {"duplicate": FULL, "random init": "full training, random init"}


def drift_runs(profile: Profile) -> dict[str, list[StoredRun]]:
    cfgs = fixed_configs(profile)
    return {label: [r for r in map(_stored_or_run, cfgs[variant]) if r is not None]
            for label, variant in DRIFT_LABELS.items()}


def drift_summary(profile: Profile) -> dict[str, list[dict]]:
    """Per initialisation and seed: the drift of every module's within-module, between-module and
    input weights from where its stage began (``drift.module_drift``), for the modules of
    N <= ``fixed_max_n``, and the median over modules of within / between (modules 1..)."""
    out = {}
    for label, runs in drift_runs(profile).items():
        rows = []
        for r in runs:
            k = min(len(r.stages), profile.fixed_max_n - r.config.n_start + 1)
            d = {c: v[:k] for c, v in module_drift(r)["drift"].items()}
            ratio = [w / b for w, b in zip(d["within"][1:], d["between"][1:]) if b]
            rows.append({"seed": r.config.seed, "modules": k, "drift": d,
                         "within / between": float(np.median(ratio)) if ratio else math.nan})
        out[label] = rows
    return out


# ----- claim 6 --------------------------------------------------------------------------------------

def _stored_or_run(cfg: GrowthConfig) -> StoredRun | None:
    """The stored run; computed when missing, except under MODGROW_NO_COMPUTE=1, where a run
    still being computed is left out (and counted as missing)."""
    if os.environ.get(NO_COMPUTE_ENV) == "1":
        return load_run(cfg)
    return load_or_run(cfg, progress=False)


def _read_variants(profile: Profile, configs: dict[str, list[GrowthConfig]]
                   ) -> dict[str, dict[int, dict]]:
    """Per variant, seed -> its stored run read to ``fixed_max_n`` (``read_to``)."""
    return {label: {r.config.seed: read_to(r, profile.fixed_max_n)
                    for r in map(_stored_or_run, cfgs) if r is not None}
            for label, cfgs in configs.items()}


def fixed_summary(profile: Profile, configs: dict[str, list[GrowthConfig]] | None = None) -> dict:
    """Per variant of ``configs`` (default: ``fixed_configs``, the book's criterion): max N per
    seed and total steps, every run read to ``fixed_max_n``; against full training (paired by
    seed) the ratio of the steps to the last N both reached."""
    runs = {label: list(by_seed.values()) for label, by_seed in
            _read_variants(profile, fixed_configs(profile) if configs is None else configs).items()}
    full = {r["seed"]: r for r in runs[FULL]}
    out = {}
    for label, rs in runs.items():
        row = {"change": FIXED_VARIANTS[label][1], "seeds": [r["seed"] for r in rs],
               "missing seeds": [s for s in profile.fixed_seeds
                                 if s not in [r["seed"] for r in rs]],
               "max N": [r["max N"] for r in rs],
               "total steps": [sum(r["steps"]) for r in rs],
               "stop": [r["stop"] for r in rs],
               "steps per N": [r["steps"] for r in rs]}
        if label != FULL:
            pairs = [(r, full[r["seed"]]) for r in rs if r["seed"] in full]
            common = [min(a["max N"], b["max N"]) for a, b in pairs]
            a = [read_steps_to(a, n) for (a, _), n in zip(pairs, common)]
            b = [read_steps_to(b, n) for (_, b), n in zip(pairs, common)]
            ok = [i for i in range(len(a)) if a[i] > 0 and b[i] > 0]
            row["paired"] = paired_log_ratio([a[i] for i in ok], [b[i] for i in ok]) if ok else None
            row["common N"] = common
        out[label] = row
    return out


def fixed_criterion_effect(profile: Profile) -> list[dict]:
    """What the criterion changes in claim 6: per variant, max N per seed under the first
    edition's single check and under the book's criterion, and (paired by seed) the ratio of the
    steps each needed to the last N both reached."""
    runs = {"book": _read_variants(profile, fixed_configs(profile)),
            "check": _read_variants(profile, legacy_fixed_configs(profile))}
    rows = []
    for label in FIXED_VARIANTS:
        book, check = runs["book"][label], runs["check"][label]
        seeds = sorted(set(book) & set(check))
        common = [min(book[s]["max N"], check[s]["max N"]) for s in seeds]
        a = [read_steps_to(book[s], n) for s, n in zip(seeds, common)]
        b = [read_steps_to(check[s], n) for s, n in zip(seeds, common)]
        pr = paired_log_ratio(a, b) if seeds and min(a + b) > 0 else None
        rows.append({"variant": label, "seeds": seeds,
                     "max N, single check": [check[s]["max N"] for s in seeds],
                     "max N, book": [book[s]["max N"] for s in seeds],
                     "steps book / single check": pr["ratio"] if pr else math.nan,
                     "low": pr["low"] if pr else math.nan, "high": pr["high"] if pr else math.nan,
                     "seeds slower": f"{pr['a_larger']} of {pr['n']}" if pr else "", "paired": pr})
    return rows


def analysed_configs(profile: Profile) -> list[GrowthConfig]:
    """The stored runs the perturbation analyses read."""
    ab = ablation_configs(profile)
    return (analysed_growth_configs(profile) + baseline_configs(profile) + [iclr_config(profile)]
            + [c for v in CONSERVATION_LABELS.values() for c in ab[v]]
            + fixed_configs(profile)[DRIFT_LABELS["random init"]])


def analyse(profile: Profile) -> int:
    rob = robustness(profile)
    cons = conservation(profile)
    drift = drift_summary(profile)
    return (sum(len(v) for v in rob["modular"].values())
            + sum(len(v) for v in rob["nonmodular"].values()) + (rob["iclr"] is not None)
            + sum(len(v) for v in cons.values()) + sum(len(v) for v in drift.values()))


EXPERIMENTS = (
    Experiment("fixed-within", CHAPTER, "growth with fixed within-module weights (fresh random, "
               "a copy of module 0) against full training (chapter 3's runs, and with random "
               "init), module size 10, chapter 3's criterion",
               lambda p: [c for label in FIXED_RUN_ORDER for c in fixed_configs(p)[label]]),
    Experiment("fixed-within-check", CHAPTER, "the same four variants under the first edition's "
               "single-check criterion (what the criterion changes)",
               lambda p: [c for cs in legacy_fixed_configs(p).values() for c in cs]),
    Experiment("perturbations", CHAPTER, "eps sweeps of the stored growth, baseline and ICLR "
               "networks at N = perturb_n, module by module at size 10, the conservation tests "
               "on the ablation networks and the drift of module size 10's weights (its "
               "configs: the runs it analyses; drift needs their stage checkpoints)",
               lambda p: analysed_configs(p), analyse),
)


def _mean(v) -> float:
    return float(np.mean(v)) if len(v) else math.nan


def pair_verdict(row: dict) -> str:
    """One paired comparison of log eps50 (modular minus non-modular): with >= 5 seeds, holds
    (fails) if the interval excludes 0 and >= 4 of 5 seeds favour the modular (non-modular)
    network; with fewer seeds at most suggestive (every seed in favour, interval above 0)."""
    n = len(row["diff"])
    up = row["low"] > 1 and row["modular ahead"] >= 0.8 * n
    down = row["high"] < 1 and row["non-modular ahead"] >= 0.8 * n
    if n >= 5:
        return "holds" if up else "fails" if down else "not distinguishable"
    return "suggestive" if up and row["modular ahead"] == n else "not distinguishable"


def combine(words: list[str]) -> str:
    """One verdict over the module sizes' verdicts: the common word when they agree; "holds
    partly" when some size holds and none fails; "fails" when more than half of the sizes fail
    and none holds; "not distinguishable" otherwise (few sizes decide, or sizes point in
    opposite directions)."""
    if words and all(w == words[0] for w in words):
        return words[0]
    held, failed = "holds" in words, words.count("fails")
    if held and not failed:
        return "holds partly"
    if failed > len(words) / 2 and not held:
        return "fails"
    return "not distinguishable"


def claim4_verdicts(profile: Profile, rob: dict) -> list[dict]:
    """Claim 4's two rows (equal neurons, equal parameters) from the sweeps ``rob``."""
    rows = []
    pairs = paired_eps50(rob)
    short = sorted({(r["module size"], len(r["diff"])) for r in pairs if len(r["diff"]) < 5})
    few = (" " + "; ".join(f"M_m={m}: only {k} networks reached N = {profile.perturb_n}"
                           for m, k in short)
           + ": the rule needs 5 seeds, so that size's strongest verdict is 'suggestive'."
           if short else "")
    for key, title in (("neurons", "equal neurons"), ("parameters", "equal parameters")):
        rs = [r for r in pairs if r["match"] == key]
        rows.append({
            "claim": f"4. robustness to connectivity perturbations ({title})",
            "paper": "modular networks degrade more slowly (Fig. 3a)",
            "this book": f"N = {profile.perturb_n}, eps50 ratio modular / non-modular (paired by "
                         f"seed, 95% CI): " + "; ".join(
                             f"M_m={r['module size']} vs {r['non-modular neurons']} neurons: "
                             f"{r['ratio']:.2f} [{r['low']:.2f}, {r['high']:.2f}], modular ahead "
                             f"in {r['modular ahead']}/{len(r['diff'])}" for r in rs)
                         + f". Over all pairs the modular network is more robust in "
                           f"{sum(r['modular ahead'] for r in rs)} and less robust in "
                           f"{sum(r['non-modular ahead'] for r in rs)} of "
                           f"{sum(len(r['diff']) for r in rs)}." + few,
            "rule": "per module size: holds if the interval of the paired log-eps50 difference "
                    "excludes 0 and >= 4 of 5 seeds agree (fails: the same against); < 5 seeds: "
                    "at most suggestive; over sizes: holds partly if some size holds and none "
                    "fails, fails if more than half of the sizes fail and none holds",
            "verdict": combine([pair_verdict(r) for r in rs]),
        })
    return rows


def claim4_without_margin(profile: Profile) -> list[dict]:
    """Claim 4's rows against chapter 4's baselines trained without the confirmation margin
    (their stored sweeps): what the baselines' criterion changes."""
    return claim4_verdicts(profile, robustness(profile, margin=False))


def verdicts(profile: Profile) -> list[dict]:
    """Claims 4-6 of FACTS.md."""
    rob = robustness(profile)
    rows = claim4_verdicts(profile, rob)
    fr = ff_vs_rec(rob)
    ok = fr["low"] > 1 and fr["a_larger"] >= 0.8 * fr["n"]
    rows.append({
        "claim": "5a. between-module weights are more sensitive than within-module weights",
        "paper": "between-module perturbations hurt more",
        "this book": f"eps50 within / between, paired over {fr['n']} modular networks: "
                     f"{fr['ratio']:.2f} [{fr['low']:.2f}, {fr['high']:.2f}]; within more "
                     f"robust in {fr['a_larger']}/{fr['n']}",
        "rule": "holds if the ratio's interval is above 1 and >= 80% of networks agree; fails if "
                "below 1 likewise; else not distinguishable",
        "verdict": "holds" if ok else ("fails" if fr["high"] < 1 and fr["b_larger"] >= 0.8 * fr["n"]
                                       else "not distinguishable"),
    })
    cons = conservation(profile)
    n_cons = min(len(v) for v in cons.values())
    cap = "" if n_cons >= 5 else f" {n_cons} seeds per condition: at most 'suggestive'."
    for tag, what, paper, measure in (
            ("5b", "within-module weights are conserved across modules (more alike than "
                   "between-module weights)", "recurrent weights conserved", "similarity"),
            ("5c", "between-module weights are task-specific: a module's within-module weights "
                   "can be swapped for another's with less loss than its between-module weights",
             "feed-forward weights task-specific", "transplant")):
        parts, favour, nets_favour, total = [], {}, 0, 0
        for label, nets in cons.items():
            if measure == "similarity":
                per = [(n["similarity"]["within"]["all pairs"],
                        n["similarity"]["between"]["all pairs"]) for n in nets]
                name = "mean correlation across modules"
            else:
                per = [(_mean(n["transplant"]["stream"]["within"]),
                        _mean(n["transplant"]["stream"]["between"])) for n in nets]
                name = "mean r after transplant"
            w, b = _mean([p[0] for p in per]), _mean([p[1] for p in per])
            favour[label] = None if w != w or b != b else w > b
            nets_favour += sum(p[0] > p[1] for p in per)
            total += len(per)
            parts.append(f"{label} ({len(nets)} nets): {name} within {w:.2f}, between {b:.2f}")
        if any(v is None for v in favour.values()):
            verdict = "not distinguishable"  # too few modules to compare (quick profile)
        elif all(favour.values()) and nets_favour == total:
            verdict = "holds" if n_cons >= 5 else "suggestive"
        elif not any(favour.values()):
            verdict = "fails" if n_cons >= 5 else "not distinguishable"
        else:
            verdict = "holds partly" if favour.get("random init") else "not distinguishable"
        rows.append({
            "claim": f"{tag}. {what}", "paper": paper,
            "this book": "; ".join(parts) + f"; within ahead in {nets_favour}/{total} networks."
                         + cap,
            "rule": "with and without duplication, within ahead on average and in every "
                    "network: holds (< 5 seeds: suggestive); behind on average in both: fails "
                    "(< 5 seeds: not distinguishable); "
                    "ahead only without duplication (which alone makes modules alike): holds "
                    "partly; else not distinguishable",
            "verdict": verdict,
        })
    rows.append(drift_verdict(drift_summary(profile), profile.fixed_max_n))
    rows.append(claim6_verdict(profile, fixed_summary(profile)))
    return rows


def claim6_verdict(profile: Profile, fx: dict) -> dict:
    """Claim 6's ledger row from ``fixed_summary``: the best fixed variant's mean max N as a share
    of full training's (every run read to ``fixed_max_n``, so at the cap both are equal), with
    the paired steps to the common N; fewer than 5 seeds in either makes 'holds' 'suggestive'."""
    fixed = [k for k in ("fixed random", "fixed copy of module 0") if fx[k]["max N"]]
    if not fixed or not fx[FULL]["max N"]:
        frac, best = math.nan, None
    else:
        best = max(fixed, key=lambda k: np.mean(fx[k]["max N"]))
        frac = float(np.mean(fx[best]["max N"])) / float(np.mean(fx[FULL]["max N"]))
    seeds = min([len(fx[k]["max N"]) for k in (FULL, *fixed)] or [0])

    def rule(hold: float, partly: float) -> str:
        word = ("not distinguishable" if frac != frac else
                "holds" if frac >= hold else "holds partly" if frac >= partly else "fails")
        return "suggestive" if seeds < 5 and word in ("holds", "holds partly") else word
    verdict = rule(0.8, 0.5)
    capped = best is not None and all(n == profile.fixed_max_n for n in fx[best]["max N"])
    paired = fx[best].get("paired") if best else None
    text = ("; ".join(f"{k}: max N {v['max N']}" + (f" (seeds {v['missing seeds']} not stored)"
                                                    if v["missing seeds"] else "")
                      for k, v in fx.items())
            + (f". Best fixed variant ({best}) reaches {100 * frac:.0f}% of full training's mean "
               f"max N" if best else ". No fixed-variant run stored")
            + (f" (every run reached the cap N = {profile.fixed_max_n}: the comparison cannot "
               f"separate them above it)" if capped else "")
            + next((f", on the rule's {100 * t:.0f}% threshold (the verdict turns with it)"
                    for t in (0.8, 0.5) if abs(frac - t) <= 0.025), "")
            + (f"; steps to the common N {paired['ratio']:.2f}x full training "
               f"[{paired['low']:.2f}, {paired['high']:.2f}], more in {paired['a_larger']} of "
               f"{paired['n']} seeds" if paired else "")
            + f". Chapter 3's criterion (confirmed, margin {profile.growth_confirm_margin}).")
    return {
        "claim": "6. training only the other weights, within-module weights fixed, performs well",
        "paper": "performs well",
        "this book": text,
        "rule": "holds if a fixed variant reaches >= 80% of full training's max N (mean over "
                f"seeds, growth to N = {profile.fixed_max_n}); holds partly if >= 50%; fails "
                "otherwise; < 5 seeds: at most suggestive; " + rules.sensitivity(rule, 0.8, 0.5),
        "verdict": verdict,
    }


def drift_ratios(summary: dict[str, list[dict]]) -> dict[str, dict | None]:
    """Per initialisation: the geometric mean over networks of each network's median (over
    modules) within-module / between-module drift, its bootstrap interval, and how many networks
    have the within-module weights drifting less (None: no networks)."""
    out = {}
    for label, rows in summary.items():
        ratios = [r["within / between"] for r in rows if r["within / between"] > 0]
        if not ratios:
            out[label] = None
            continue
        m, lo, hi = geo_mean_ci(ratios)
        out[label] = {"ratio": m, "low": lo, "high": hi, "n": len(ratios),
                      "below": sum(x < 1 for x in ratios)}
    return out


def drift_verdict(summary: dict[str, list[dict]], n_max: int) -> dict:
    """Claim 5 by drift (``drift_ratios``): within-module weights drift less than between-module
    ones, with and without duplication."""
    parts, side = [], {}
    for label, d in drift_ratios(summary).items():
        if d is None:
            parts.append(f"{label}: no networks stored")
            side[label] = "missing"
            continue
        parts.append(f"{label} ({d['n']} nets): within / between drift {d['ratio']:.2f} "
                     f"[{d['low']:.2f}, {d['high']:.2f}], within smaller in {d['below']}/{d['n']}")
        enough = d["n"] >= 5
        side[label] = ("less" if enough and d["high"] < 1 and d["below"] >= 0.8 * d["n"] else
                       "more" if enough and d["low"] > 1 and d["n"] - d["below"] >= 0.8 * d["n"]
                       else None)
    sides = list(side.values())
    verdict = ("not distinguishable" if "missing" in sides else
               "holds" if sides and all(v == "less" for v in sides) else
               "fails" if sides and all(v == "more" for v in sides) else
               "holds partly" if "less" in sides and "more" not in sides else
               "not distinguishable")
    return {
        "claim": "5d. within-module weights stay closer to where their module started than "
                 "between-module weights (drift ||W - W0|| / ||W0||)",
        "paper": "recurrent weights conserved",
        "this book": "; ".join(parts) + f" (module size {FIXED_MODULE_SIZE}, the modules of N <= {n_max}).",
        "rule": "per initialisation (>= 5 networks): within drifts less if the interval of the "
                "ratio is below 1 and >= 80% of networks agree (more: the same above 1); holds "
                "if less with and without duplication, fails if more in both, holds partly if "
                "less in one and more in neither; else not distinguishable",
        "verdict": verdict,
    }
