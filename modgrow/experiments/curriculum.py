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


def scaling_config(profile: Profile) -> GrowthConfig:
    """How far growth goes: the fastest first-edition module-size-10 seed continued (single-check
    criterion)."""
    return base_config(profile, module_size=10, seed=2, max_n=profile.scaling_max_n, **LEGACY)


def runs_by_size(configs: list[GrowthConfig]) -> dict[int, list[StoredRun]]:
    """Stored (or freshly computed) runs grouped by module size."""
    out: dict[int, list[StoredRun]] = {}
    for c in configs:
        out.setdefault(c.module_size, []).append(load_or_run(c, progress=False))
    return out


def head_accuracy(run: StoredRun, n_batches: int = 20, bit_prob=0.5) -> dict[str, float]:
    """Stored accuracy of every head of a grown network at the last stage's sequence lengths
    (``analysis.head_accuracy_after_growth``)."""
    cfg = {"run": run.path.name, "n_batches": n_batches, "bit_prob": bit_prob}
    res = load_or_compute("analysis", f"heads-{run.path.name[:40]}", cfg,
                          lambda: analysis.head_accuracy_after_growth(run.network(), run.config,
                                                                      n_batches, bit_prob))
    return res["data"]


def retention(run: StoredRun, n_batches: int = 20) -> dict[str, dict[str, float]]:
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


def margin_effect(profile: Profile) -> list[dict]:
    """What the confirmation margin changes, per module size: max N per seed, median steps per
    stage (N > 2) and the one-epoch verdict under the plain confirmation and with the margin, and
    the paired ratio (margin / plain) of the steps each seed needed to the last N both reached."""
    from ..stats import paired_log_ratio
    plain = runs_by_size(plain_confirmed_growth_configs(profile))
    strict = runs_by_size(growth_configs(profile))

    def epoch_verdicts(by_size):
        rs = [r for m in profile.module_sizes for r in by_size[m]]
        return one_epoch_verdicts(rules.curriculum_verdicts(
            [r.history for r in rs], [retention(r) for r in rs], {}))
    before, after = epoch_verdicts(plain), epoch_verdicts(strict)
    rows = []
    for m in profile.module_sizes:
        common = [min(a.max_n_reached or 0, b.max_n_reached or 0)
                  for a, b in zip(strict[m], plain[m])]
        steps = lambda rs: [steps_to(r, n) for r, n in zip(rs, common)]  # noqa: E731
        pr = paired_log_ratio(steps(strict[m]), steps(plain[m]))
        med = lambda rs: float(np.median([s["steps"] for r in rs for s in r.stages  # noqa: E731
                                          if s["n"] > r.config.n_start]))
        rows.append({"module size": m,
                     "max N, plain": " ".join(str(r.max_n_reached) for r in plain[m]),
                     "max N, margin": " ".join(str(r.max_n_reached) for r in strict[m]),
                     "median steps per stage, plain": med(plain[m]),
                     "median steps per stage, margin": med(strict[m]),
                     "steps to common N, margin / plain":
                         f"{pr['ratio']:.2f} [{pr['low']:.2f}, {pr['high']:.2f}]",
                     "seeds slower with margin": f"{pr['a_larger']} of {pr['n']} "
                                                 f"(sign p = {pr['sign_p']:.2f})",
                     "one-epoch verdict, plain": before[m],
                     "one-epoch verdict, margin": after[m], "paired": pr})
    return rows


def verdicts(profile: Profile) -> list[dict]:
    """Single-epoch learning, nothing forgotten, duplication (growth to N = 200 is chapter 7's
    row: ``beyond.far_verdict``)."""
    runs = [load_or_run(c, progress=False) for c in growth_configs(profile)]
    ablations = {label: [load_or_run(c, progress=False).total_steps for c in cfgs]
                 for label, cfgs in ablation_configs(profile).items()}
    return rules.curriculum_verdicts([r.history for r in runs], [retention(r) for r in runs],
                                     ablations)
