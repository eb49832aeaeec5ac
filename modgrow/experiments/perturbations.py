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
from ..stats import bootstrap_ci, geo_mean_ci, mean_ci, paired_log_ratio
from ..store import NO_COMPUTE_ENV, StoredRun, load_or_compute, load_or_run, load_run
from ..training import GrowthConfig, head_ns
from .baseline import baseline_configs, iclr_config
from .curriculum import (LEGACY, analysed_growth_configs, base_config, growth_configs,
                         margin_ablation_configs, read_steps_to, read_to)
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


# a count within this factor of a non-modular network's counts as equal (rounding only)
SAME_COUNT = 1.01


def count_partner(count: float, sizes: dict[int, float]) -> dict:
    """How a modular network with ``count`` neurons (or parameters) is matched among the
    non-modular sizes ``{size: count}``: "equal" to one size (within ``SAME_COUNT``),
    "interpolated" between the two sizes that bracket it (weight ``w`` of the larger, linear in
    log count), or "none" when it lies outside their range ("nearest": the closest size and its
    count relative to the modular network's)."""
    by = sorted(sizes, key=lambda h: sizes[h])
    near = min(by, key=lambda h: abs(math.log(sizes[h] / count)))
    if abs(math.log(sizes[near] / count)) <= math.log(SAME_COUNT):
        return {"kind": "equal", "sizes": (near,), "w": 0.0}
    for a, b in zip(by, by[1:]):
        if sizes[a] < count < sizes[b]:
            w = math.log(count / sizes[a]) / math.log(sizes[b] / sizes[a])
            return {"kind": "interpolated", "sizes": (a, b), "w": w}
    return {"kind": "none", "sizes": (), "w": math.nan,
            "nearest": (near, sizes[near] / count)}


def paired_eps50(rob: dict, measure: str = "stream") -> list[dict]:
    """Per modular size and matching rule (equal neurons, equal parameters): paired (by seed) log
    eps50 differences, modular minus non-modular, hidden-to-hidden perturbation. The non-modular
    side has the modular network's count: a size with that count, or the log eps50 of the two
    sizes that bracket it interpolated linearly in log count (same seed). A modular network
    outside the non-modular sizes' range has no partner (no seeds, no verdict)."""
    rows = []
    le = {h: {s["seed"]: _log_eps50(s["groups"]["hidden"][measure]["eps50"]) for s in sw}
          for h, sw in rob["nonmodular"].items()}
    for m, sw in sorted(rob["modular"].items()):
        mod = {s["seed"]: _log_eps50(s["groups"]["hidden"][measure]["eps50"]) for s in sw}
        for rule in ("neurons", "parameters"):
            sizes = {h: v[0][rule] for h, v in rob["nonmodular"].items()}
            count = sw[0][rule]
            p = count_partner(count, sizes)
            seeds = sorted(set(mod).intersection(*(le[h] for h in p["sizes"]))) \
                if p["sizes"] else []
            if p["kind"] == "equal":
                non = {s: le[p["sizes"][0]][s] for s in seeds}
                label = f"{p['sizes'][0]} neurons"
            elif p["kind"] == "interpolated":
                a, b = p["sizes"]
                non = {s: (1 - p["w"]) * le[a][s] + p["w"] * le[b][s] for s in seeds}
                label = f"interpolated {a}–{b} neurons"
            else:
                h, rel = p["nearest"]
                non, label = {}, (f"none in range (nearest: {h} neurons, "
                                  f"{100 * (rel - 1):+.0f} % {rule})")
            d = [mod[s] - non[s] for s in seeds]
            mean, lo, hi = mean_ci(d)
            rows.append({"module size": m, "match": rule, "modular": count,
                         "non-modular": label, "partner": p["kind"], "seeds": seeds, "diff": d,
                         "ratio": math.exp(mean) if d else math.nan,
                         "low": math.exp(lo) if lo == lo else math.nan,
                         "high": math.exp(hi) if hi == hi else math.nan,
                         "modular ahead": sum(x > 0 for x in d),
                         "non-modular ahead": sum(x < 0 for x in d)})
    return rows


def on_the_line(row: dict) -> bool:
    """Whether an end of the row's interval of the eps50 ratio sits on 1: the rule every paired
    verdict uses (``verdicts.ratio_on_line``, within ``verdicts.EDGE``); no interval, no flag."""
    low, high = row["low"], row["high"]
    return low == low and high == high and rules.ratio_on_line(low, high)


def start_accuracy(rob: dict, measure: str = "stream") -> dict:
    """Unperturbed accuracy (mean over heads) of every network of claim 4: per architecture the
    mean, the lowest and the highest, and how many modular networks start below the lowest
    non-modular one."""
    acc = {k: [s["groups"]["hidden"][measure]["acc0"] for sw in rob[k].values() for s in sw]
           for k in ("modular", "nonmodular")}
    out = {k: {"mean": _mean(v), "min": min(v, default=math.nan), "max": max(v, default=math.nan),
               "n": len(v)} for k, v in acc.items()}
    out["modular below"] = sum(a < out["nonmodular"]["min"] for a in acc["modular"])
    return out


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


def sensitivity_word(fr: dict, agree: float = rules.AGREE) -> str:
    """Claim 5a's rule on ``ff_vs_rec``: holds if the ratio's interval is above 1 and at least
    ``agree`` of the networks have the within-module weights the more robust; fails if below 1
    likewise; else not distinguishable."""
    if fr["low"] > 1 and fr["a_larger"] >= agree * fr["n"]:
        return "holds"
    if fr["high"] < 1 and fr["b_larger"] >= agree * fr["n"]:
        return "fails"
    return "not distinguishable"


def conservation_pairs(nets: list[dict], measure: str) -> list[tuple[float, float]]:
    """Per network of ``conservation``: (within, between) of ``measure``: "similarity" (mean
    correlation across modules, all pairs) or "transplant" (mean r after a swap, streaming)."""
    if measure == "similarity":
        return [(n["similarity"]["within"]["all pairs"], n["similarity"]["between"]["all pairs"])
                for n in nets]
    return [(_mean(n["transplant"]["stream"]["within"]),
             _mean(n["transplant"]["stream"]["between"])) for n in nets]


def conservation_side(pairs: list[tuple[float, float]]) -> str | None:
    """One initialisation: "ahead" when the within-module value is the larger on average and
    in >= 80 % of the networks, "behind" likewise the other way, None otherwise (no clear side),
    "missing" when there is nothing to compare (too few modules)."""
    if not pairs or any(w != w or b != b for w, b in pairs):
        return "missing"
    w, b = _mean([p[0] for p in pairs]), _mean([p[1] for p in pairs])
    ahead = sum(p[0] > p[1] for p in pairs)
    if w > b and ahead >= rules.AGREE * len(pairs):
        return "ahead"
    if w < b and len(pairs) - ahead >= rules.AGREE * len(pairs):
        return "behind"
    return None


def conservation_verdict(cons: dict, measure: str, claim: str, paper: str, n_max: int) -> dict:
    """Claims 5b (``measure`` "similarity") and 5c ("transplant") from ``conservation``: within
    ahead with and without duplication, in every network: holds (< 5 networks per condition:
    suggestive); behind in both: fails (< 5: not distinguishable); ahead only with random
    initialisation (duplication alone makes modules alike): holds partly; else not
    distinguishable."""
    n_cons = min((len(v) for v in cons.values()), default=0)
    parts, side, nets_favour, total = [], {}, 0, 0
    name = "mean correlation across modules" if measure == "similarity" else \
        "mean r after transplant"
    for label, nets in cons.items():
        per = conservation_pairs(nets, measure)
        side[label] = conservation_side(per)
        nets_favour += sum(p[0] > p[1] for p in per)
        total += len(per)
        w, b = _mean([p[0] for p in per]), _mean([p[1] for p in per])
        parts.append(f"{label} ({len(nets)} nets): {name} within {w:.2f}, between {b:.2f}, "
                     f"within ahead in {sum(p[0] > p[1] for p in per)}/{len(per)}")
    sides = list(side.values())
    if not sides or "missing" in sides:
        verdict = "not distinguishable"  # too few modules to compare (quick profile)
    elif all(v == "ahead" for v in sides) and nets_favour == total:
        verdict = "holds" if n_cons >= rules.MIN_SEEDS else "suggestive"
    elif all(v == "behind" for v in sides):
        verdict = "fails" if n_cons >= rules.MIN_SEEDS else "not distinguishable"
    elif side.get("random init") == "ahead":
        verdict = "holds partly"
    else:
        verdict = "not distinguishable"
    cap = "" if n_cons >= rules.MIN_SEEDS else \
        f" {n_cons} seeds per condition: at most 'suggestive'."
    return {
        "claim": claim, "paper": paper,
        "this book": "; ".join(parts) + f"; within ahead in {nets_favour}/{total} networks "
                     f"(chapter 3's criterion with its margin, module size "
                     f"{FIXED_MODULE_SIZE}, the modules of N <= {n_max})." + cap,
        "rule": "per initialisation, within ahead (or behind) on average and in >= 80% of its "
                "networks; ahead with and without duplication and in every network: holds "
                "(< 5 seeds: suggestive); behind in both: fails (< 5 seeds: not "
                "distinguishable); ahead only with random initialisation (duplication alone "
                "makes modules alike): holds partly; else not distinguishable",
        "verdict": verdict,
    }


def claim5a_verdict(stream: dict, eos: dict) -> dict:
    """Claim 5a's row: the verdict of the authors' streaming measure (``ff_vs_rec``), with how
    it moves with the agreement threshold and what the end-of-sequence measure says."""
    word = sensitivity_word(stream)
    need = rules.AGREE * stream["n"]
    agreeing = stream["a_larger"] if word == "holds" else stream["b_larger"]
    edge = (f"; {agreeing} agree where the rule needs {need:.1f}: on the threshold (one "
            f"network fewer and the verdict turns)"
            if word != "not distinguishable" and agreeing - 1 < need else "")
    return {
        "claim": "5a. between-module weights are more sensitive than within-module weights",
        "paper": "between-module perturbations hurt more",
        "this book": f"eps50 within / between, paired over {stream['n']} modular networks "
                     f"(streaming measure): {stream['ratio']:.2f} [{stream['low']:.2f}, "
                     f"{stream['high']:.2f}]; within more robust in "
                     f"{stream['a_larger']}/{stream['n']}{edge}. End-of-sequence measure: "
                     f"{eos['ratio']:.2f} [{eos['low']:.2f}, {eos['high']:.2f}], within more "
                     f"robust in {eos['a_larger']}/{eos['n']}, which reads "
                     f"'{sensitivity_word(eos)}'",
        "rule": "streaming measure (the authors'): holds if the ratio's interval is above 1 and "
                ">= 80% of networks agree; fails if below 1 likewise; else not distinguishable; "
                + rules.sensitivity(lambda a: sensitivity_word(stream, a), rules.AGREE),
        "verdict": word,
    }


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


def conservation_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """The networks of claims 5b and 5c: chapter 3's ablations under its own criterion, margin
    included (the runs of ``ablations-margin``): duplicate + hard freeze is chapter 3's growth run
    of module size 10, random init + hard freeze claim 6's random-init control. Both are read to
    N = ``fixed_max_n`` (``conservation``), the modules the drift analysis (5d) reads."""
    ab = margin_ablation_configs(profile)
    return {k: ab[v] for k, v in CONSERVATION_LABELS.items()}


def conservation_runs(profile: Profile) -> dict[str, list[StoredRun]]:
    return {k: [load_or_run(c, progress=False) for c in cfgs]
            for k, cfgs in conservation_configs(profile).items()}


def modules_to(run: StoredRun, n_max: int | None = None) -> int:
    """Modules that solved their N, counting only those of N <= ``n_max`` (None: all)."""
    k = solved_heads(run)
    return k if n_max is None else max(0, min(k, n_max - run.config.n_start + 1))


def similarity(run: StoredRun, n_max: int | None = None) -> dict:
    """Mean correlation between modules' within-module and between-module matrices (modules
    1.., which have both, up to N = ``n_max``), over all pairs and over neighbours."""
    net = run.network()
    k = modules_to(run, n_max)  # modules that solved their N
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


def transplant(run: StoredRun, profile: Profile, n_max: int | None = None) -> dict:
    """Stored transplant test: r (streaming and end of sequence) after one module's within-module
    (then between-module) weights are replaced by another module's (modules up to N =
    ``n_max``; None: all the run solved)."""
    k = modules_to(run, n_max)
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
    """Similarity and transplants of ``conservation_runs``, modules of N <= ``fixed_max_n``."""
    n = profile.fixed_max_n
    return {label: [{"seed": r.config.seed, "modules": modules_to(r, n),
                     "similarity": similarity(r, n), "transplant": transplant(r, profile, n)}
                    for r in rs]
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
            row["paired"], row["common N"] = _paired_steps(rs, full)
            row["control"] = CONTROLS[label]
            row["paired control"] = (row["paired"] if CONTROLS[label] == FULL else
                                     _paired_steps(rs, {r["seed"]: r for r in
                                                        runs.get(CONTROLS[label], [])})[0])
        out[label] = row
    return out


# each variant's own control: the full training that differs from it only in the fixed weights
CONTROLS = {"fixed random": "full training, random init", "fixed copy of module 0": FULL,
            "full training, random init": FULL}


def _paired_steps(rs: list[dict], ref: dict[int, dict]) -> tuple[dict | None, list[int]]:
    """Paired by seed against ``ref`` (seed -> run read by ``read_to``): the ratio of the steps
    each needed to the last N both reached (``paired_log_ratio``), and those N."""
    pairs = [(r, ref[r["seed"]]) for r in rs if r["seed"] in ref]
    common = [min(a["max N"], b["max N"]) for a, b in pairs]
    a = [read_steps_to(a, n) for (a, _), n in zip(pairs, common)]
    b = [read_steps_to(b, n) for (_, b), n in zip(pairs, common)]
    ok = [i for i in range(len(a)) if a[i] > 0 and b[i] > 0]
    return (paired_log_ratio([a[i] for i in ok], [b[i] for i in ok]) if ok else None), common


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
    return (analysed_growth_configs(profile) + baseline_configs(profile) + [iclr_config(profile)]
            + [c for cs in conservation_configs(profile).values() for c in cs]
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
               "networks at N = perturb_n, module by module at size 10, and the conservation "
               "tests (similarity, transplants, drift) of module size 10's networks with and "
               "without duplication, margin included (its configs: the runs it analyses; drift "
               "needs their stage checkpoints)",
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
    """Claim 4's two rows (equal neurons, equal parameters) from the sweeps ``rob``: per module
    size the paired comparison of ``paired_eps50`` (sizes without a non-modular partner in range
    are named and left out), combined over sizes."""
    rows = []
    pairs = paired_eps50(rob)
    acc = start_accuracy(rob)
    start = (f" Unperturbed accuracy (streaming): modular {acc['modular']['mean']:.3f} "
             f"({acc['modular']['min']:.3f}–{acc['modular']['max']:.3f}), non-modular "
             f"{acc['nonmodular']['mean']:.4f} ({acc['nonmodular']['min']:.4f}–"
             f"{acc['nonmodular']['max']:.4f}); {acc['modular below']} of {acc['modular']['n']} "
             f"modular networks start below every non-modular one (the paper has them start "
             f"higher; eps50 is relative to each network's own start).")

    def part(r):
        head = f"M_m={r['module size']} ({r['modular']:,} {r['match']})"
        if r["partner"] == "none":
            return f"{head}: {r['non-modular']}, left out"
        return (f"{head} vs {r['non-modular']}: {r['ratio']:.2f} [{r['low']:.2f}, "
                f"{r['high']:.2f}], modular ahead in {r['modular ahead']}/{len(r['diff'])}"
                + (", the interval's end on 1 (the verdict turns with it)"
                   if on_the_line(r) else ""))
    for key, title in (("neurons", "equal neurons"), ("parameters", "equal parameters")):
        rs = [r for r in pairs if r["match"] == key]
        used = [r for r in rs if r["partner"] != "none"]
        short = [(r["module size"], len(r["diff"])) for r in used if len(r["diff"]) < 5]
        few = (" " + "; ".join(f"M_m={m}: only {k} networks reached N = {profile.perturb_n}"
                               for m, k in short)
               + ": the rule needs 5 seeds, so that size's strongest verdict is 'suggestive'."
               if short else "")
        rows.append({
            "claim": f"4. robustness to connectivity perturbations ({title})",
            "paper": "modular networks degrade more slowly (Fig. 3a)",
            "this book": f"N = {profile.perturb_n}, eps50 ratio modular / non-modular at equal "
                         f"{key} (paired by seed, 95% CI; a count between two non-modular sizes: "
                         f"their log eps50 interpolated in log {key}): "
                         + "; ".join(part(r) for r in rs)
                         + f". Over the compared pairs the modular network is more robust in "
                           f"{sum(r['modular ahead'] for r in used)} and less robust in "
                           f"{sum(r['non-modular ahead'] for r in used)} of "
                           f"{sum(len(r['diff']) for r in used)}." + few + start,
            "rule": "per module size with a non-modular partner at its count (equal, or "
                    "interpolated between the two sizes around it; outside their range: left "
                    "out): holds if the interval of the paired log-eps50 difference excludes 0 "
                    "and >= 4 of 5 seeds agree (fails: the same against); < 5 seeds: at most "
                    "suggestive; over sizes: holds partly if some size holds and none fails, "
                    "fails if more than half of the sizes fail and none holds",
            "verdict": combine([pair_verdict(r) for r in used]),
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
    rows.append(claim5a_verdict(ff_vs_rec(rob), ff_vs_rec(rob, "eos")))
    cons = conservation(profile)
    for tag, what, paper, measure in (
            ("5b", "within-module weights are conserved across modules (more alike than "
                   "between-module weights)", "recurrent weights conserved", "similarity"),
            ("5c", "between-module weights are task-specific: a module's within-module weights "
                   "can be swapped for another's with less loss than its between-module weights",
             "feed-forward weights task-specific", "transplant")):
        rows.append(conservation_verdict(cons, measure, f"{tag}. {what}", paper,
                                         profile.fixed_max_n))
    rows.append(drift_verdict(drift_summary(profile), profile.fixed_max_n))
    rows.append(claim6_verdict(profile, fixed_summary(profile), full_reach(profile)))
    return rows


FIXED_HEADLINE = "fixed random"   # the paper's wording: connectivity within modules fixed
FIXED_THRESHOLDS = (0.8, 0.5)     # share of full training's mean max N: holds, holds partly


def full_reach(profile: Profile) -> dict | None:
    """Full training beyond claim 6's cap: chapter 3's growth runs of module size 10 (claim 6's
    full training) read to their own max_n ("cap"): max N per seed (None: none stored or no
    higher cap)."""
    runs = [r for r in map(_stored_or_run, fixed_configs(profile)[FULL]) if r is not None]
    if not runs:
        return None
    cap = min(r.config.max_n for r in runs)
    if cap <= profile.fixed_max_n:
        return None
    return {"cap": cap, "max N": [read_to(r, cap)["max N"] for r in runs]}


def fixed_share(fixed: list[int], full: list[int], cap: int, reach: dict | None = None) -> dict:
    """A fixed variant's mean max N as a share of full training's, both grown to N = ``cap``.
    When every full-training run reached the cap the share is an upper bound (raising the cap
    can only lower it while full training keeps up): ``capped``. With ``reach`` (full training
    read to a higher cap, ``full_reach``) the share at that cap lies in [low, high]: low counts
    the fixed runs as they are, high lets every fixed run that reached ``cap`` reach the higher
    cap too (a run stopped below ``cap`` stops at the same N under any higher cap)."""
    if not fixed or not full:
        return {"share": math.nan, "capped": False, "low": math.nan, "high": math.nan,
                "cap": cap, "reach cap": None}
    share = float(np.mean(fixed)) / float(np.mean(full))
    capped = all(n >= cap for n in full)
    low = high = share
    top = None
    if capped and reach and reach["max N"]:
        top, ref = reach["cap"], float(np.mean(reach["max N"]))
        low = float(np.mean(fixed)) / ref
        high = float(np.mean([top if n >= cap else n for n in fixed])) / ref
    return {"share": share, "capped": capped, "low": low, "high": high, "cap": cap,
            "reach cap": top}


def share_word(sh: dict, seeds: int, hold: float = FIXED_THRESHOLDS[0],
               partly: float = FIXED_THRESHOLDS[1]) -> str:
    """Claim 6's word for one variant from ``fixed_share``: holds at a share >= ``hold``, holds
    partly at >= ``partly``, fails below. Against capped full training the share is an upper
    bound: with a higher cap known the word must hold over the whole interval [low, high] (holds
    partly when it spans holds and holds partly, not distinguishable when it reaches fails);
    without one, 'holds' becomes 'holds partly'. < 5 seeds: at most suggestive."""
    def rule(x):
        return "holds" if x >= hold else "holds partly" if x >= partly else "fails"
    if sh["share"] != sh["share"]:
        return "not distinguishable"
    if sh["reach cap"]:
        a, b = rule(sh["low"]), rule(sh["high"])
        word = a if a == b else "not distinguishable" if "fails" in (a, b) else "holds partly"
    else:
        word = rule(sh["share"])
        if sh["capped"] and word == "holds":
            word = "holds partly"
    return "suggestive" if seeds < rules.MIN_SEEDS and word != "fails" and \
        word != "not distinguishable" else word


def on_threshold(x: float) -> str:
    """" (on the rule's T% threshold)" when the share ``x`` is within 2.5 points of one of claim
    6's thresholds (the verdict turns with it), else ""."""
    return next((f" (on the rule's {100 * t:.0f}% threshold)" for t in FIXED_THRESHOLDS
                 if x == x and abs(x - t) <= 0.025), "")


def claim6_shares(profile: Profile, fx: dict, reach: dict | None = None) -> dict[str, dict]:
    """Per fixed variant of ``fixed_summary``: ``fixed_share`` against full training (with
    ``reach``: ``full_reach``), the seeds compared and the word of ``share_word``."""
    full = fx[FULL]["max N"]
    out = {}
    for label in ("fixed random", "fixed copy of module 0"):
        ns = fx[label]["max N"]
        sh = fixed_share(ns, full, profile.fixed_max_n, reach)
        seeds = min(len(ns), len(full))
        out[label] = {**sh, "seeds": seeds, "word": share_word(sh, seeds)}
    return out


def fixed_table(fx: dict) -> list[dict]:
    """Claim 6's table: per variant max N per seed, how many runs stopped on the stage budget,
    total steps and, paired by seed, the steps against its own control (``CONTROLS``)."""
    rows = []
    for k, v in fx.items():
        pr = v.get("paired control") or {}
        rows.append({"variant": k, "max N": v["max N"],
                     "stage budget hit": sum(s == "stage_budget" for s in v["stop"]),
                     "total steps": v["total steps"], "control": v.get("control", ""),
                     "steps vs control": pr.get("ratio", math.nan),
                     "low": pr.get("low", math.nan), "high": pr.get("high", math.nan)})
    return rows


def claim6_verdict(profile: Profile, fx: dict, reach: dict | None = None) -> dict:
    """Claim 6's ledger row from ``fixed_summary`` (and ``full_reach``): per fixed variant the
    share of full training's mean max N (``fixed_share``) and its word (``share_word``), the
    steps to the common N against the variant's own control. The row's verdict is that of
    fixed random weights, the paper's wording; the copy variant is reported beside it, not
    chosen for being better."""
    cap = profile.fixed_max_n
    shares = claim6_shares(profile, fx, reach)
    words = {k: v["word"] for k, v in shares.items()}
    parts = []
    for label, sh in shares.items():
        v = fx[label]
        if not v["max N"]:
            parts.append(f"{label}: no run stored")
            continue
        budget = sum(st == "stage_budget" for st in v.get("stop", []))
        text = (f"{label}: max N {v['max N']}" + (f" ({budget} stopped on the stage budget)"
                                                   if budget else "")
                + f", {100 * sh['share']:.0f}% of full training's mean max N"
                + on_threshold(sh["share"]))
        if sh["capped"]:
            text += f", an upper bound (every full-training run reached the cap N = {cap})"
            if sh["reach cap"]:
                top = sh["reach cap"]
                text += (f"; against chapter 3's full-training runs read to N = {top}"
                         + (" (all reach it)" if all(n >= top for n in reach["max N"]) else "")
                         + f": {100 * sh['low']:.0f}–{100 * sh['high']:.0f}%"
                         + (f" ({v['control']} was not grown past N = {cap})"
                            if v.get("control", FULL) != FULL else ""))
        pr, ctrl = v.get("paired control"), v.get("control", FULL)
        if pr:
            text += (f"; steps to the common N {pr['ratio']:.2f}x its control ({ctrl}) "
                     f"[{pr['low']:.2f}, "
                     f"{pr['high']:.2f}], more in {pr['a_larger']} of {pr['n']} seeds")
        parts.append(text + f": {words[label]}")
    missing = "; ".join(f"{k}: seeds {v['missing seeds']} not stored" for k, v in fx.items()
                        if v.get("missing seeds"))
    verdict = words[FIXED_HEADLINE]
    text = ("; ".join(parts) + (f" ({missing})" if missing else "")
            + f". The verdict is that of {FIXED_HEADLINE} (the paper's wording), not the better "
              f"of the two variants. Unlike the paper (only between-module connections trained), "
              f"a new module's input weights, timescales and readout train too. Chapter 3's "
              f"criterion (confirmed, margin {profile.growth_confirm_margin}).")
    sh, n = shares[FIXED_HEADLINE], shares[FIXED_HEADLINE]["seeds"]
    return {
        "claim": "6. training only the other weights, within-module weights fixed, performs well",
        "paper": "performs well",
        "this book": text,
        "rule": "per fixed variant: share of full training's mean max N (growth to N = "
                f"{cap}); holds if >= 80%, holds partly if >= 50%, fails otherwise; when every "
                "full-training run reached the cap the share is an upper bound: the word must "
                "hold for the share against full training read to its higher cap (holds "
                "partly when that interval spans holds and holds partly), else at most holds "
                "partly; < 5 seeds: at most suggestive; the row is fixed random's; "
                + rules.sensitivity(lambda h, p: share_word(sh, n, h, p), *FIXED_THRESHOLDS),
        "verdict": verdict,
    }


def drift_ratios(summary: dict[str, list[dict]]) -> dict[str, dict | None]:
    """Per initialisation: the geometric mean over networks of each network's median (over
    modules) within-module / between-module drift, its t interval (of the log mean), and how many networks
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


DRIFT_HEADLINE = "duplicate"   # the paper's protocol: new modules start as copies


def drift_side(d: dict | None) -> str:
    """One initialisation's verdict from ``drift_ratios``: holds (within-module weights drift
    less: interval below 1, >= 80 % of >= 5 networks), fails (more, likewise), else not
    distinguishable; no networks: not tested."""
    if d is None:
        return "not tested"
    if d["n"] >= rules.MIN_SEEDS and d["high"] < 1 and d["below"] >= rules.AGREE * d["n"]:
        return "holds"
    if (d["n"] >= rules.MIN_SEEDS and d["low"] > 1
            and d["n"] - d["below"] >= rules.AGREE * d["n"]):
        return "fails"
    return "not distinguishable"


def drift_verdict(summary: dict[str, list[dict]], n_max: int) -> dict:
    """Claim 5 by drift (``drift_ratios``): within-module weights drift less than between-module
    ones. A verdict per initialisation; the row's verdict is that of the paper's protocol
    (duplication), the other initialisation's is reported beside it."""
    parts, side = [], {}
    for label, d in drift_ratios(summary).items():
        side[label] = drift_side(d)
        if d is None:
            parts.append(f"{label}: no networks stored")
            continue
        parts.append(f"{label} ({d['n']} nets): within / between drift {d['ratio']:.2f} "
                     f"[{d['low']:.2f}, {d['high']:.2f}], within smaller in {d['below']}/{d['n']}"
                     f": {side[label]}")
    head = side.get(DRIFT_HEADLINE, "not tested")
    verdict = "not distinguishable" if head == "not tested" else head
    return {
        "claim": "5d. within-module weights stay closer to where their module started than "
                 "between-module weights (drift ||W - W0|| / ||W0||)",
        "paper": "recurrent weights conserved",
        "this book": "; ".join(parts) + f" (module size {FIXED_MODULE_SIZE}, the modules of N "
                     f"<= {n_max}). The verdict is that of duplication, the paper's protocol"
                     + "; ".join(f"; with {k}: {v}" for k, v in side.items()
                                 if k != DRIFT_HEADLINE) + ".",
        "rule": "per initialisation (>= 5 networks): holds if the interval of the ratio "
                "within / between is below 1 and >= 80% of networks agree, fails if above 1 "
                "likewise, else not distinguishable; the row's verdict is duplication's (the "
                "paper's protocol), the other initialisation's is stated beside it",
        "verdict": verdict,
    }
