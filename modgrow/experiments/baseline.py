"""Chapter 4, the non-modular baseline: multi-head networks of several sizes, the ICLR-size
reference, and the generalisation tests at stage N0 (claims 1-3 of FACTS.md)."""

from __future__ import annotations

import statistics

from .. import compare, verdicts as rules
from ..profiles import Profile
from ..store import StoredRun, load_or_compute, load_or_run
from ..training import NONMODULAR_DEFAULTS, GrowthConfig
from .curriculum import LEGACY, growth_configs, margin_pairs, runs_by_size
from .spec import Experiment

CHAPTER = "4 baseline"
GENERALISATION_MODULE_SIZE = 10
# the generalisation tests stop at this many non-modular neurons (compute: the claim-3 verdicts
# compare with the 100-neuron networks, the closest neuron count to the modular network at N0)
GENERALISATION_MAX_NEURONS = 100


def paired_size(sizes) -> int:
    """The non-modular size claims 2 and 3 pair with module size 10: ``GENERALISATION_MAX_NEURONS``
    (the closest neuron count to the modular network at N0) when it was trained, else the largest
    size of ``sizes``."""
    sizes = list(sizes)
    if not sizes:
        raise ValueError("paired_size: no non-modular sizes to pair with")
    return GENERALISATION_MAX_NEURONS if GENERALISATION_MAX_NEURONS in sizes else max(sizes)


def baseline_config(profile: Profile, size: int, seed: int, budget: int,
                    margin: bool = True, max_n: int | None = None) -> GrowthConfig:
    """A non-modular multi-head network (ICLR 2024: lr 0.05) of ``size`` neurons under the
    modular runs' per-stage budget, criterion and whole-run budget ``budget``, up to ``max_n``
    (default ``baseline_max_n``); ``margin=False`` drops the confirmation margin (the second
    edition's baselines, kept to show what it changes)."""
    return GrowthConfig(**NONMODULAR_DEFAULTS, architecture="nonmodular", module_size=size,
                        seed=seed, max_n=max_n or profile.baseline_max_n,
                        eval_batches=profile.eval_batches,
                        confirm_batches=profile.confirm_batches,
                        confirm_margin=profile.growth_confirm_margin if margin else 0.0,
                        max_steps_per_stage=profile.stage_budget, max_total_steps=budget)


def baseline_configs(profile: Profile, margin: bool = True) -> list[GrowthConfig]:
    """Non-modular networks of every size and seed under the whole-run budget that the modular
    numbers they are compared with are counted under, and chapter 3's criterion (margin
    included; ``margin=False``: without it). The curriculum stops at ``baseline_max_n``, above
    what any non-modular network here holds."""
    return [baseline_config(profile, h, s, profile.baseline_total_steps, margin)
            for h in profile.baseline_sizes for s in profile.seeds]


def long_baseline_configs(profile: Profile, margin: bool = True) -> list[GrowthConfig]:
    """The same networks (sizes up to ``long_budget_max_size``) with ``long_budget_factor``
    times the budget and the curriculum's last N raised to ``long_budget_max_n``: where they
    stop, when the longer budget lets them get further."""
    budget = profile.long_budget_factor * profile.baseline_total_steps
    return [baseline_config(profile, h, s, budget, margin, profile.long_budget_max_n)
            for h in profile.baseline_sizes if h <= profile.long_budget_max_size
            for s in profile.seeds]


def iclr_config(profile: Profile) -> GrowthConfig:
    """The ICLR 2024 reference point: a 500-neuron network, trained for what this machine
    affords (one seed, the first edition's single-check criterion)."""
    return GrowthConfig(**{**LEGACY, **NONMODULAR_DEFAULTS},
                        architecture="nonmodular", module_size=profile.iclr_size, seed=0,
                        max_n=profile.baseline_max_n, eval_batches=profile.eval_batches,
                        max_steps_per_stage=profile.stage_budget,
                        max_total_steps=profile.iclr_total_steps)


def generalisation(run: StoredRun, n0: int, factors=(1, 2, 5, 10),
                   checkpoints=(0, 50, 100, 200, 500)) -> dict:
    """Stored length-generalisation and transfer results of ``run`` taken at stage N = n0
    (see ``modgrow.compare``)."""
    key = run.path.name
    spec = {"run": key, "n0": n0, "factors": list(factors), "checkpoints": list(checkpoints)}

    def compute():
        net = run.stage_network(n0)
        return {"length": compare.length_generalisation(net, run.config, factors),
                "transfer": compare.transfer_curve(net, run.config, checkpoints)}
    return load_or_compute("analysis", f"gen-{key[:40]}-n{n0}", spec, compute)["data"]


def generalisation_groups(profile: Profile, margin: bool = True) -> dict:
    """Generalisation results at stage N0, grouped: the modular runs of module size 10 (key
    "modular") and, per size up to ``GENERALISATION_MAX_NEURONS``, every non-modular run
    (``baseline_configs(profile, margin)``) that reached N0 (key = its neuron count)."""
    n0 = profile.n0
    groups: dict = {"modular": [generalisation(load_or_run(c, progress=False), n0)
                                for c in growth_configs(profile)
                                if c.module_size == GENERALISATION_MODULE_SIZE]}
    for c in baseline_configs(profile, margin):
        if c.module_size > GENERALISATION_MAX_NEURONS:
            continue
        run = load_or_run(c, progress=False)
        if (run.max_n_reached or 0) >= n0:
            groups.setdefault(c.module_size, []).append(generalisation(run, n0))
    return groups


def analyse(profile: Profile) -> int:
    return sum(len(v) for v in generalisation_groups(profile).values())


EXPERIMENTS = (
    Experiment("baseline", CHAPTER, "non-modular multi-head networks of several sizes "
               "(and, as analyses, the generalisation tests; needs 'growth' first)",
               baseline_configs, analyse),
    Experiment("baseline-long", CHAPTER, "the non-modular networks of up to "
               "{long_budget_max_size} neurons with {long_budget_factor} times the step budget, "
               "their curriculum extended to N = {long_budget_max_n}",
               long_baseline_configs),
    Experiment("baseline-plain", CHAPTER, "the same non-modular networks, both budgets, "
               "trained without chapter 3's confirmation margin (what the margin changes, "
               "verdict by verdict)",
               lambda p: baseline_configs(p, margin=False) + long_baseline_configs(p, margin=False)),
    Experiment("iclr", CHAPTER, "the ICLR 2024 reference: one 500-neuron non-modular network",
               lambda p: [iclr_config(p)]),
)


def stage_curves(profile: Profile, groups: dict[str, list[GrowthConfig]]
                 ) -> dict[str, dict[int, list[dict]]]:
    """Label -> N -> the learning curve of stage N of every run of ``groups`` (label -> configs;
    chapter 4 shows ``beyond.curve_groups``), from ``curves.stage_curve`` (every criterion
    check, recomputed from the stage checkpoint once and stored), for the stages
    ``profile.curve_ns``."""
    from ..curves import stage_curve
    return {label: {n: [stage_curve(load_or_run(c, progress=False), n) for c in cfgs]
                    for n in profile.curve_ns}
            for label, cfgs in groups.items()}


def curve_table(curves: dict[str, dict[int, list[dict]]]) -> list[dict]:
    """``stage_curves`` per group and N: runs, median steps of the stage, median checks, passing
    checks that the confirmation rejected (all runs), the newest head's median accuracy at the
    first check, and how many recomputed stages reproduced the stored one."""
    rows = []
    for label, by_n in curves.items():
        for n, cs in by_n.items():
            rows.append({
                "network": label, "N": n, "runs": len(cs),
                "median steps": statistics.median(c["steps"] for c in cs),
                "median checks": statistics.median(len(c["checks"]) for c in cs),
                "rejected confirmations": sum(1 for c in cs for r in c["checks"]
                                              if r.get("confirmed") is False),
                "newest head at the first check (median)":
                    f"{statistics.median(c['checks'][0]['newest'] for c in cs):.3f}",
                "reproduced": f"{sum(c['reproduced'] for c in cs)} of {len(cs)}"})
    return rows


def histories(configs: list[GrowthConfig]) -> dict[int, list[dict]]:
    return {m: [r.history for r in rs] for m, rs in runs_by_size(configs).items()}


def verdicts(profile: Profile, margin: bool = True) -> list[dict]:
    """Claims 1-3 of FACTS.md: every modular size against the non-modular networks (capacity);
    module size 10 against the closest non-modular size (speed, generalisation). ``margin=False``:
    against the baselines trained without the confirmation margin."""
    budget = profile.baseline_total_steps
    modular = histories(growth_configs(profile))
    nonmod = histories(baseline_configs(profile, margin))
    neuron_rows = compare.equal_neuron_rows(modular, nonmod, budget)
    long_budget = profile.long_budget_factor * budget
    long_nonmod = histories(long_baseline_configs(profile, margin))
    long_rows = {"neurons": compare.equal_neuron_rows(modular, long_nonmod, long_budget),
                 **{measure: compare.equal_param_rows(modular, long_nonmod, long_budget, measure)
                    for measure in ("total", "trainable")}}
    param_rows = compare.equal_param_rows(modular, nonmod, budget)
    trainable_rows = compare.equal_param_rows(modular, nonmod, budget, "trainable")
    pair = paired_size(nonmod)
    m = GENERALISATION_MODULE_SIZE

    # claim 2 over the N every run of both sides solved (the non-modular runs stop earlier)
    speed_runs = modular[m] + nonmod[pair]
    common_n = min(min(h.get("max_n_reached") or 0 for h in speed_runs), profile.baseline_max_n)

    def per_seed_median(hs):
        return [statistics.median(s["steps"] for s in h["stages"][1:] if s["n"] <= common_n)
                for h in hs if common_n >= 3 and len(h["stages"]) > 1]
    gen = generalisation_groups(profile, margin)
    gen_mod, gen_non = gen["modular"], gen.get(pair, [])

    def drop(r):
        acc = r["length"]["accuracy"]
        return statistics.mean(acc["10"].values()) - statistics.mean(acc["1"].values())

    def after(r, steps):
        return next(c["new_head"] for c in r["transfer"]["curve"] if c["steps"] == steps)
    lrs = {"modular": growth_configs(profile)[0].lr, "non-modular": baseline_configs(profile)[0].lr}
    return rules.baseline_verdicts(
        neuron_rows, param_rows, trainable_rows, per_seed_median(modular[m]),
        per_seed_median(nonmod[pair]),
        {"modular": [drop(r) for r in gen_mod], "non-modular": [drop(r) for r in gen_non]},
        {k: {"modular": [after(r, k) for r in gen_mod],
             "non-modular": [after(r, k) for r in gen_non]} for k in (50, 500)}, lrs,
        long_rows, profile.long_budget_factor,
        speed_scope=f"N = 3-{common_n}, the N every run of both sides solved; module size {m} "
                    f"(10 (N - 1) neurons at stage N, all but the newest frozen) against {pair} "
                    f"non-modular neurons",
        budget=budget, last_n=dict(profile.growth_max_n))


def margin_effect(profile: Profile) -> list[dict]:
    """What chapter 3's confirmation margin changes for the non-modular networks, per size
    (``curriculum.margin_pairs``: max N per seed without and with it, the paired ratio of steps
    to the last N both reached), the mean change of max N, and "pairs": the max N lists (plain,
    margin)."""
    plain = runs_by_size(baseline_configs(profile, margin=False))
    strict = runs_by_size(baseline_configs(profile))
    rows = []
    for h in profile.baseline_sizes:
        rows.append({"neurons": h, **margin_pairs(strict[h], plain[h]),
                     "mean max N, margin - plain": statistics.mean(
                         (a.max_n_reached or 0) - (b.max_n_reached or 0)
                         for a, b in zip(strict[h], plain[h])),
                     "pairs": ([r.max_n_reached or 0 for r in plain[h]],
                               [r.max_n_reached or 0 for r in strict[h]])})
    return rows


def verdict_changes(profile: Profile, book: list[dict] | None = None) -> list[dict]:
    """Each claim-1-3 verdict against the baselines trained without the confirmation margin and
    against those trained with it (the book's: ``book``, else ``verdicts(profile)``), side by
    side."""
    before = {r["claim"]: r["verdict"] for r in verdicts(profile, margin=False)}
    return [{"claim": r["claim"], "baselines without margin": before.get(r["claim"], "not tested"),
             "baselines with margin": r["verdict"],
             "changed": "yes" if before.get(r["claim"]) != r["verdict"] else ""}
            for r in (verdicts(profile) if book is None else book)]
