"""Chapter 3, the growth curriculum: growth runs per module size, ablations of duplication and
freezing, the scaling run, and the accuracy of every head after growth.

Growth and ablation runs use the confirmed criterion (a passing 10-batch check must pass again on
``confirm_batches`` fresh batches) with the profile's five seeds. The first edition's runs were made
under the single-check criterion (``criterion="check"``: the first passing check ends a stage),
which passes networks below 98 % by luck; they are kept as ``legacy_growth_configs`` for the
fidelity page's false-pass table, and the scaling run (one network to N = 150) is still one of
them, said wherever it is used.
"""

from __future__ import annotations

import math

import numpy as np

from .. import analysis, verdicts as rules
from ..profiles import Profile
from ..store import StoredRun, load_or_compute, load_or_run
from ..training import GrowthConfig
from .spec import Experiment

CHAPTER = "3 curriculum"
# how the first edition's runs were made (see the module docstring)
LEGACY = dict(criterion="check")


def base_config(profile: Profile, **kw) -> GrowthConfig:
    """A modular run at this profile's per-stage budget and check size."""
    return GrowthConfig(**{"max_steps_per_stage": profile.stage_budget,
                           "eval_batches": profile.eval_batches,
                           "confirm_batches": profile.confirm_batches, **kw})


def growth_configs(profile: Profile) -> list[GrowthConfig]:
    """Growth runs for each module size and seed (confirmed criterion with the profile's
    ``growth_confirm_margin``)."""
    return [base_config(profile, module_size=m, seed=s, max_n=profile.max_n(m),
                        confirm_margin=profile.growth_confirm_margin)
            for m in profile.module_sizes for s in profile.seeds]


def plain_confirmed_growth_configs(profile: Profile) -> list[GrowthConfig]:
    """The second edition's growth runs (confirmation without a margin), kept for the fidelity
    page: their final networks show what the margin fixes."""
    return [base_config(profile, module_size=m, seed=s, max_n=profile.max_n(m))
            for m in profile.module_sizes for s in profile.seeds]


def analysed_growth_configs(profile: Profile) -> list[GrowthConfig]:
    """The growth networks whose properties chapters 5 (perturbations) and 6 (timescales)
    analyse: chapter 3's runs, grown with the confirmation margin."""
    return growth_configs(profile)


def legacy_growth_configs(profile: Profile) -> list[GrowthConfig]:
    """The first edition's growth runs (single-check criterion, ``legacy_seeds``)."""
    return [base_config(profile, module_size=m, seed=s, max_n=n, **LEGACY)
            for m, n in profile.legacy_growth_max_n for s in profile.legacy_seeds]


ABLATIONS = {  # keys: profiles.ALL_ABLATIONS
    "duplicate, hard freeze": dict(),
    "random init, hard freeze": dict(duplicate=False),
    "duplicate, soft freeze (gamma=0.5)": dict(gamma=0.5),
    "duplicate, no freeze (gamma=1)": dict(gamma=1.0),
}


def ablation_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """Initialisation of new modules and freezing, module size 10."""
    return {label: [base_config(profile, module_size=10, max_n=profile.ablation_max_n, seed=s,
                                **kw) for s in profile.seeds]
            for label, kw in ABLATIONS.items() if label in profile.ablation_variants}


def read_to(run: StoredRun, n_max: int) -> dict:
    """A run read up to N = ``n_max`` (a higher max_n is only a budget: the run to ``n_max`` is
    exactly its prefix): highest N solved, steps per stage and why it stopped."""
    stages = [s for s in run.stages if s["n"] <= n_max]
    reached = min(run.max_n_reached or run.config.n_start - 1, n_max)
    return {"seed": run.config.seed, "max N": reached, "ns": [s["n"] for s in stages],
            "steps": [s["steps"] for s in stages], "epoch": run.config.steps_per_epoch,
            "stop": "max_n" if reached == n_max else run.history["stop"]}


def read_steps_to(run: dict, n: int) -> int:
    """Steps a run (as ``read_to`` gives it) took to solve every N up to ``n``."""
    return sum(k for m, k in zip(run["ns"], run["steps"]) if m <= n)


def margin_ablation_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """Chapter 3's ablations (module size 10, ``margin_ablation_variants``) under its own
    criterion, margin included, up to ``fixed_max_n``, the N of claim 6's runs: duplicate + hard
    freeze is chapter 3's growth run (read to that N: a higher max_n is only a budget), random
    init + hard freeze is claim 6's random-init control (the same configs), and soft and no
    freezing are run for this comparison."""
    growth = {c.seed: c for c in growth_configs(profile) if c.module_size == 10}
    return {label: [growth[s] if not kw else
                    base_config(profile, module_size=10, seed=s, max_n=profile.fixed_max_n,
                                confirm_margin=profile.growth_confirm_margin, **kw)
                    for s in profile.seeds]
            for label, kw in ABLATIONS.items() if label in profile.margin_ablation_variants}


def margin_ablation_summary(profile: Profile) -> dict:
    """Per variant of ``margin_ablation_configs``, every run read to ``fixed_max_n``: max N and
    total steps per seed; per seed the last N that every variant reached ("common N") and the
    steps each variant took to it ("steps to common N"); against duplicate + hard freeze the
    paired ratio of those steps (geometric mean, t interval, sign test)."""
    from ..stats import paired_log_ratio
    n_max = profile.fixed_max_n
    runs = {label: [read_to(load_or_run(c, progress=False), n_max) for c in cfgs]
            for label, cfgs in margin_ablation_configs(profile).items()}
    common = [min(rs[i]["max N"] for rs in runs.values())
              for i in range(len(profile.seeds))]
    to_common = {label: [read_steps_to(r, c) for r, c in zip(rs, common)]
                 for label, rs in runs.items()}
    ref = to_common["duplicate, hard freeze"]
    return {"n_max": n_max, "seeds": list(profile.seeds), "common N": common,
            "variants": {label: {"max N": [r["max N"] for r in rs],
                                 "total steps": [sum(r["steps"]) for r in rs],
                                 "steps to common N": to_common[label],
                                 "paired": (None if label == "duplicate, hard freeze" else
                                            paired_log_ratio(to_common[label], ref))}
                         for label, rs in runs.items()}}


FREEZE_KINDS = {"duplicate, soft freeze (gamma=0.5)": "soft", "duplicate, no freeze (gamma=1)": "no"}


def _freeze_sentence(paired: dict[str, dict], where: str) -> str:
    """'letting old modules keep learning took ...' from paired ratios (variant / default) of the
    freezing variants present in ``paired``; ``where`` names the runs. It states steps only: what
    they cost in wall time was not measured on one machine."""
    from ..stats import format_interval
    parts = [f"{format_interval((q['ratio'], q['low'], q['high']), '.2f')} times the default's "
             f"steps with {FREEZE_KINDS[k]} freezing ({q['b_larger']} of {q['n']} seeds fewer)"
             for k, q in paired.items() if k in FREEZE_KINDS]
    if not parts:
        return "Soft and no freezing were not run at this scale."
    kinds = " or ".join(FREEZE_KINDS[k] for k in paired if k in FREEZE_KINDS)
    return ("Letting old modules keep learning took " + " and ".join(parts) + f" ({where}; "
            "paired by seed: geometric mean of the ratios, 95 % interval). These are counts of "
            f"SGD steps: a step of {kinds} freezing computes gradients for every module, not "
            "only the newest, so it does more work than a step of hard freezing; wall time per "
            "step was not compared on one machine (the stored wall times come from runs at "
            "different times on shared machines), so what the fewer steps save in time is not "
            "measured.")


def ablation_words(profile: Profile) -> dict[str, str]:
    """Chapter 3's sentences on the ablations: random init against duplication at
    ``fixed_max_n`` with the margin ("dup margin", the verdict's runs) and at ``ablation_max_n``
    without it ("dup plain"), the freezing variants ("freeze": with the margin where run so,
    else the runs without it) and which variants ran with the margin ("margin run")."""
    from ..stats import format_interval, paired_log_ratio
    summ = margin_ablation_summary(profile)["variants"]
    plain = {label: [load_or_run(c, progress=False).total_steps for c in cfgs]
             for label, cfgs in ablation_configs(profile).items()}
    ref = plain["duplicate, hard freeze"]
    plain_pairs = {k: paired_log_ratio(v, ref) for k, v in plain.items()
                   if k != "duplicate, hard freeze"}
    margin_freeze = {k: v["paired"] for k, v in summ.items() if k in FREEZE_KINDS}
    n_plain, n_margin = profile.ablation_max_n, profile.fixed_max_n

    def ratio(q, what):
        if not q:
            return "not run"
        return (format_interval((q["ratio"], q["low"], q["high"]), ".2f") + f" times {what}"
                + ("; the interval includes 1" if q["low"] <= 1 <= q["high"] else ""))
    rnd = summ.get("random init, hard freeze", {}).get("paired")
    return {
        "dup margin": ratio(rnd, "the steps of duplication" + (
            f" ({rnd['a_larger']} of {rnd['n']} seeds slower)" if rnd else "")),
        "dup plain": ratio(plain_pairs.get("random init, hard freeze"), "as many"),
        "freeze": (_freeze_sentence(margin_freeze, f"to N = {n_margin}, with the margin")
                   if margin_freeze else
                   _freeze_sentence(plain_pairs, f"to N = {n_plain}, without the margin")),
        "margin run": "; ".join(summ),
    }


# the scaling run: the first edition's fastest module-size-10 seed at the paper's scale
# (``tests/test_curriculum_review.py`` checks it against the stored first-edition runs)
SCALING_MODULE_SIZE, SCALING_SEED = 10, 2


def scaling_config(profile: Profile) -> GrowthConfig:
    """How far growth goes: the fastest first-edition module-size-10 seed continued (single-check
    criterion)."""
    return base_config(profile, module_size=SCALING_MODULE_SIZE, seed=SCALING_SEED,
                       max_n=profile.scaling_max_n, **LEGACY)


def scaling_choice(profile: Profile) -> dict | None:
    """How the scaling run's seed compares with the first edition's other runs of its module size
    (``legacy_growth_configs``), read from the store only (None until they are all stored): per
    seed the steps to the last N that all of them reached ("common N"), and whether the scaling
    seed is among them and the fastest."""
    from ..store import load_run
    cfg = scaling_config(profile)
    cfgs = [c for c in legacy_growth_configs(profile) if c.module_size == cfg.module_size]
    runs = [load_run(c) for c in cfgs]
    if not runs or any(r is None for r in runs):
        return None
    common = min(r.max_n_reached or 0 for r in runs)
    steps = {c.seed: steps_to(r, common) for c, r in zip(cfgs, runs)}
    return {"seed": cfg.seed, "module size": cfg.module_size, "common N": common,
            "steps": steps, "fastest": cfg.seed in steps and min(steps, key=steps.get) == cfg.seed}


def scaling_choice_words(choice: dict | None) -> str:
    """``scaling_choice`` as a sentence of chapter 3 ("Seed 2 was chosen as the fastest ...")."""
    from ..text import words
    if choice is None:
        return "The first edition's runs this seed was chosen from are not stored at this scale."
    seed, steps, m = choice["seed"], choice["steps"], choice["module size"]
    if seed not in steps:
        return (f"Seed {seed} is not one of this profile's first-edition runs of module size {m} "
                f"(seeds {words(list(steps))}).")
    others = words([f"{v:,}" for v in sorted(v for k, v in steps.items() if k != seed)])
    where = (f"the first edition's {len(steps)} runs of module size {m} ({steps[seed]:,} SGD "
             f"steps to N = {choice['common N']}, against {others})")
    return (f"Seed {seed} was chosen as the fastest of {where}." if choice["fastest"] else
            f"Seed {seed} is not the fastest of {where}.")


def steps_trend(history: dict, parts: int = 3) -> dict:
    """Steps per stage against N over the stages after the first (N > n_start): Spearman's rank
    correlation and its p value, and the median, mean and wall milliseconds per step of the
    first and the last of ``parts`` consecutive groups of stages (equal counts; N ranges
    "first ns", "last ns"). rho and p are nan with fewer than three stages or constant steps;
    the groups are None with fewer stages than ``parts``."""
    from scipy import stats as st
    n0 = history["config"]["n_start"]
    stages = [s for s in history["stages"] if s["n"] > n0]
    ns = np.array([s["n"] for s in stages], float)
    k = np.array([s["steps"] for s in stages], float)
    rho = p = float("nan")
    if len(k) >= 3 and np.ptp(k) > 0:
        res = st.spearmanr(ns, k)
        rho, p = float(res.statistic), float(res.pvalue)
    out = {"rho": rho, "p": p, "stages": len(stages), "first": None, "last": None}
    if len(stages) >= parts:
        groups = np.array_split(np.arange(len(stages)), parts)
        for key, g in (("first", groups[0]), ("last", groups[-1])):
            sub = [stages[i] for i in g]
            steps = sum(s["steps"] for s in sub)
            out[key] = {"ns": (sub[0]["n"], sub[-1]["n"]), "median": float(np.median(k[g])),
                        "mean": float(np.mean(k[g])),
                        "ms per step": 1000 * sum(s["seconds"] for s in sub) / steps}
    return out


def steps_trend_words(trend: dict) -> str:
    """``steps_trend`` in two sentences: the direction of the steps per stage (rise, fall, or no
    monotone trend at p < 0.05), rho and p, the first and last groups of stages; and the wall time
    per step in those groups."""
    if math.isnan(trend["rho"]) or trend["first"] is None:
        return f"Its {trend['stages']} stages after the first are too few to show a trend."
    rho, p = trend["rho"], trend["p"]
    word = ("rise with N" if rho > 0 and p < 0.05 else "fall with N" if rho < 0 and p < 0.05
            else "show no monotone trend with N")
    a, b = trend["first"], trend["last"]
    return (f"Its steps per stage {word} (Spearman rank correlation {rho:.2f}, p = {p:.2g}, "
            f"{trend['stages']} stages after the first): median {a['median']:.0f} and mean "
            f"{a['mean']:.0f} steps for N = {a['ns'][0]}–{a['ns'][1]}, median {b['median']:.0f} "
            f"and mean {b['mean']:.0f} for N = {b['ns'][0]}–{b['ns'][1]}. Its wall time per step "
            f"(one run on one CPU thread) rose from {a['ms per step']:.0f} to "
            f"{b['ms per step']:.0f} ms between the same stages, as expected when every batch "
            f"runs through all modules on sequences that lengthen with N.")


def runs_by_size(configs: list[GrowthConfig]) -> dict[int, list[StoredRun]]:
    """Stored (or freshly computed) runs grouped by module size."""
    out: dict[int, list[StoredRun]] = {}
    for c in configs:
        out.setdefault(c.module_size, []).append(load_or_run(c, progress=False))
    return out


# batches of 256 sequences on which every head of a grown network is measured again (``retention``,
# ``head_accuracy``)
HEAD_BATCHES = 20


def head_accuracy(run: StoredRun, n_batches: int = HEAD_BATCHES, bit_prob=0.5) -> dict[str, float]:
    """Stored accuracy of every head of a grown network at the last stage's sequence lengths
    (``analysis.head_accuracy_after_growth``)."""
    cfg = {"run": run.path.name, "n_batches": n_batches, "bit_prob": bit_prob}
    res = load_or_compute("analysis", f"heads-{run.path.name[:40]}", cfg,
                          lambda: analysis.head_accuracy_after_growth(run.network(), run.config,
                                                                      n_batches, bit_prob))
    return res["data"]


def retention(run: StoredRun, n_batches: int = HEAD_BATCHES) -> dict[str, dict[str, float]]:
    """Every solved head at its own stage's sequence lengths ("own": what it scored when its stage
    ended, measured afresh) and after growth at the last stage's lengths ("final"), training
    distribution of bits."""
    n_heads = (run.max_n_reached or 0) - run.config.n_start + 1
    spec = {"run": run.path.name, "n_batches": n_batches, "n_heads": n_heads}

    def compute():
        return {"own": analysis.head_at_own_stage(run.network(), run.config, n_heads, n_batches)}
    own = load_or_compute("analysis", f"own-{run.path.name[:40]}", spec, compute)["data"]["own"]
    return {"own": own, "final": head_accuracy(run, bit_prob="per_batch")}


def analyse_growth(profile: Profile) -> int:
    """Every head after growth (training distribution and balanced bits) and at its own stage."""
    count = 0
    for c in growth_configs(profile):
        run = load_or_run(c, progress=False)
        head_accuracy(run, bit_prob=0.5)
        retention(run)
        count += 3
    return count


EXPERIMENTS = (
    Experiment("growth", CHAPTER, "growth runs per module size and seed", growth_configs,
               analyse_growth),
    Experiment("ablations", CHAPTER, "duplication and freezing ablations (module size 10)",
               lambda p: [c for cs in ablation_configs(p).values() for c in cs]),
    Experiment("ablations-margin", CHAPTER, "the ablations of margin_ablation_variants under "
               "chapter 3's criterion (margin) to claim 6's N (module size 10; duplicate + hard "
               "freeze is the growth run, random init claim 6's control)",
               lambda p: [c for cs in margin_ablation_configs(p).values() for c in cs]),
    Experiment("scaling", CHAPTER, "one module-size-10 network grown as far as the profile goes",
               lambda p: [scaling_config(p)]),
)


def steps_to(run: StoredRun, n: int) -> int:
    """SGD steps the run spent up to and including stage N = n."""
    return sum(s["steps"] for s in run.stages if s["n"] <= n)


def one_epoch_verdicts(rows: list[dict]) -> dict[int, str]:
    """Module size -> verdict of the one-epoch rows among chapter 3's verdict rows (their claim
    ends with "(M_m = m)", as ``verdicts.curriculum_verdicts`` writes it)."""
    return {int(r["claim"].rsplit("= ", 1)[1].rstrip(")")): r["verdict"] for r in rows
            if r["claim"].startswith("each new N is solved within about one epoch")}


def margin_pairs(strict: list[StoredRun], plain: list[StoredRun]) -> dict:
    """Runs of the same seeds with the confirmation margin (``strict``) and without it
    (``plain``): max N per seed of each, and the paired ratio margin / plain of the steps each
    seed needed to the last N both reached ("paired": ``paired_log_ratio``)."""
    from ..stats import paired_log_ratio
    common = [min(a.max_n_reached or 0, b.max_n_reached or 0) for a, b in zip(strict, plain)]
    pr = paired_log_ratio([steps_to(r, n) for r, n in zip(strict, common)],
                          [steps_to(r, n) for r, n in zip(plain, common)])
    return {"max N, plain": " ".join(str(r.max_n_reached) for r in plain),
            "max N, margin": " ".join(str(r.max_n_reached) for r in strict),
            "steps to common N, margin / plain":
                f"{pr['ratio']:.2f} [{pr['low']:.2f}, {pr['high']:.2f}]",
            "seeds slower with margin": f"{pr['a_larger']} of {pr['n']} "
                                        f"(sign p = {pr['sign_p']:.2f})",
            "paired": pr}


def margin_effect(profile: Profile) -> list[dict]:
    """What the confirmation margin changes, per module size: ``margin_pairs`` of the growth runs
    with and without it, the median steps per stage (N > 2) and the one-epoch verdict under
    each."""
    plain = runs_by_size(plain_confirmed_growth_configs(profile))
    strict = runs_by_size(growth_configs(profile))

    def epoch_verdicts(by_size):
        rs = [r for m in profile.module_sizes for r in by_size[m]]
        return one_epoch_verdicts(rules.curriculum_verdicts(
            [r.history for r in rs], [retention(r) for r in rs], {}))
    before, after = epoch_verdicts(plain), epoch_verdicts(strict)

    def med(rs):
        return float(np.median([s["steps"] for r in rs for s in r.stages
                                if s["n"] > r.config.n_start]))
    rows = []
    for m in profile.module_sizes:
        pairs = margin_pairs(strict[m], plain[m])
        rows.append({"module size": m,
                     "max N, plain": pairs["max N, plain"],
                     "max N, margin": pairs["max N, margin"],
                     "median steps per stage, plain": med(plain[m]),
                     "median steps per stage, margin": med(strict[m]),
                     "steps to common N, margin / plain":
                         pairs["steps to common N, margin / plain"],
                     "seeds slower with margin": pairs["seeds slower with margin"],
                     "one-epoch verdict, plain": before[m],
                     "one-epoch verdict, margin": after[m], "paired": pairs["paired"]})
    return rows


def verdicts(profile: Profile) -> list[dict]:
    """Single-epoch learning, nothing forgotten, duplication (at ``fixed_max_n`` under chapter
    3's own criterion: ``margin_ablation_summary``; growth to N = 200 is chapter 7's row:
    ``beyond.far_verdict``)."""
    runs = [load_or_run(c, progress=False) for c in growth_configs(profile)]
    summary = margin_ablation_summary(profile)
    ablations = {label: v["steps to common N"] for label, v in summary["variants"].items()}
    what = (f"steps to the last N that every variant of a seed reached (N <= {summary['n_max']}, "
            f"chapter 3's criterion with its margin; per seed: "
            f"{', '.join(map(str, summary['common N']))})")
    hists, kept = [r.history for r in runs], [retention(r) for r in runs]
    return rules.curriculum_verdicts(hists, kept, ablations, ablation_what=what,
                                     remeasured=remeasure(hists, kept))


def protocol_values(profile: Profile) -> dict[str, object]:
    """Settings of this chapter's runs that its prose states, read from the configs (glued as
    ``ch3_<key>``): the steps between criterion checks, the duplication noise and the ablations'
    module size and soft-freezing gamma, and the batches of the heads' re-measure."""
    growth = growth_configs(profile)
    ablations = ablation_configs(profile)
    default = ablations["duplicate, hard freeze"]
    soft = ablations.get("duplicate, soft freeze (gamma=0.5)")

    def one(values, what):
        values = set(values)
        if len(values) != 1:
            raise ValueError(f"protocol_values: the runs differ in {what}: {sorted(values)}")
        return values.pop()
    return {"eval_every": one((c.eval_every for c in growth), "eval_every"),
            "noise": one((c.noise for c in default), "noise"),
            "abl_m": one((c.module_size for cs in ablations.values() for c in cs), "module size"),
            "soft_gamma": one((c.gamma for c in soft), "gamma") if soft else ABLATIONS[
                "duplicate, soft freeze (gamma=0.5)"]["gamma"],
            "head_batches": HEAD_BATCHES}


def remeasure(histories: list[dict], retention: list[dict]) -> dict:
    """Every solved head's accuracy at its own stage as measured again on ``HEAD_BATCHES`` fresh
    batches (``retention``'s "own", same order as ``histories``) against the value that ended
    its stage (the newest head's accuracy in the stage's record: the confirmation of
    ``confirm_batches`` batches, or the check of ``eval_batches`` under the single check), on the
    same network, sequence lengths and bits.

    The two measures of a head differ by the noise of both; with the batches' accuracies equally
    spread in both, the variance of the difference is se**2 (1 + b / c) for the standard error se
    of a b-batch mean and c batches in the stage's measure, which gives "se" (pooled over heads,
    in points). "p at bar": the chance that a head truly at the stage's bar (threshold plus the
    confirmation margin) reads at or below the threshold in one b-batch measure (normal
    approximation)."""
    from scipy import stats as st
    own, ended, bars, batches = [], [], set(), set()
    for h, r in zip(histories, retention):
        cfg = h["config"]
        confirmed = cfg["criterion"] == "confirmed"
        bars.add(cfg["threshold"] + (cfg.get("confirm_margin", 0.0) if confirmed else 0.0))
        batches.add(cfg["confirm_batches"] if confirmed else cfg["eval_batches"])
        stage = {str(s["n"]): s["accuracy"][str(s["n"])] for s in h["stages"]}
        for n, a in r["own"].items():
            own.append(a)
            ended.append(stage[n])
    thresholds = {h["config"]["threshold"] for h in histories}
    if len(bars) != 1 or len(batches) != 1 or len(thresholds) != 1:
        raise ValueError("remeasure: the runs differ in their criterion")
    (bar,), (c,), (threshold,) = bars, batches, thresholds
    own, ended = np.array(own), np.array(ended)
    diff = own - ended
    se = float(np.std(diff, ddof=1) / math.sqrt(1 + HEAD_BATCHES / c)) if len(own) > 1 \
        else float("nan")
    return {"heads": len(own), "below": int(np.sum(own <= threshold)),
            "threshold": threshold, "bar": bar, "stage batches": c, "batches": HEAD_BATCHES,
            "ended above bar": int(np.sum(ended > bar)), "lowest ended": float(ended.min()),
            "mean own": float(own.mean()), "mean ended": float(ended.mean()), "se": 100 * se,
            "p at bar": float(st.norm.cdf((threshold - bar) / se)) if se > 0 else float("nan")}


def seed_spread(histories: dict[int, list[dict]]) -> dict[int, dict]:
    """Per module size: the last N that every seed reached ("common N") and the largest over the
    smallest of the seeds' steps to it ("ratio"), so that runs that stopped early are compared
    over the same stages as the others."""
    out = {}
    for m, hs in histories.items():
        common = min(h.get("max_n_reached") or 0 for h in hs)
        steps = [sum(s["steps"] for s in h["stages"] if s["n"] <= common) for h in hs]
        out[m] = {"common N": common, "steps": steps,
                  "ratio": max(steps) / min(steps) if min(steps) > 0 else float("nan")}
    return out


def one_epoch_shares(histories: list[dict], epoch: int = 500) -> dict[int, dict]:
    """Per module size, the stages the one-epoch verdict counts (``verdicts.curriculum_verdicts``:
    every solved stage after the first, and the stage a run stopped on, at its budget): how many
    ("stages"), how many within ``epoch`` steps ("within"), their share and median."""
    out = {}
    for m in sorted({h["config"]["module_size"] for h in histories}):
        hs = [h for h in histories if h["config"]["module_size"] == m]
        steps = ([s["steps"] for h in hs for s in h["stages"][1:]]
                 + [h["config"]["max_steps_per_stage"] for h in hs if h["stop"] == "stage_budget"])
        within = sum(s <= epoch for s in steps)
        out[m] = {"stages": len(steps), "within": within,
                  "share": within / len(steps) if steps else float("nan"),
                  "median": float(np.median(steps)) if steps else float("nan")}
    return out


def epoch_threshold_words(shares: dict[int, dict], threshold: float = 0.8,
                          points: float = 0.05) -> str:
    """The module sizes whose share of stages within one epoch lies within ``points`` of the
    verdict's ``threshold``, and how many stages would carry each across it; "" if none."""
    from ..text import words
    near = {m: v for m, v in shares.items()
            if not math.isnan(v["share"]) and abs(v["share"] - threshold) <= points}
    if not near:
        return ""
    parts = []
    for m, v in near.items():
        need = math.ceil(threshold * v["stages"] - 1e-9)  # stages within an epoch the rule needs
        if v["within"] >= need:
            parts.append(f"{v['within'] - need + 1} fewer stages within an epoch would take "
                         f"module size {m} below it")
        else:
            parts.append(f"{need - v['within']} more would take module size {m} to it")
    sides = {v["within"] >= math.ceil(threshold * v["stages"] - 1e-9) for v in near.values()}
    sizes = words(list(near))
    where = ("sit either side of" if len(sides) == 2 else
             "sit close to" if len(near) > 1 else "sits close to")
    shares_text = words([f"{100 * v['share']:.0f} %" for v in near.values()])
    return (f"Module size{'s' if len(near) > 1 else ''} {sizes} {where} the rule's "
            f"{100 * threshold:.0f} % threshold ({shares_text} of stages within one epoch): "
            + "; ".join(parts) + ", so "
            + ("their verdicts differ by a few stages, not by a firm difference between them."
               if len(near) > 1 else "its verdict turns on a few stages."))
