"""Profiles: the scale at which the book's experiments run, as typed objects.

``PAPER`` is the book's published scale (its results are committed under ``results/``);
``QUICK`` runs every experiment in seconds (tests and CI compute it from an empty store). The
active one comes from ``MODGROW_PROFILE`` (default ``paper``). Experiments read their sizes from
the profile instead of branching on its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Profile", "PAPER", "QUICK", "PROFILES", "active", "PROFILE_ENV", "ALL_ABLATIONS"]

PROFILE_ENV = "MODGROW_PROFILE"
# the labels of chapter 3's ablations (``experiments.curriculum.ABLATIONS`` maps them to configs)
ALL_ABLATIONS = ("duplicate, hard freeze", "random init, hard freeze",
                 "duplicate, soft freeze (gamma=0.5)", "duplicate, no freeze (gamma=1)")


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: tuple[int, ...]                 # growth, ablation and baseline seeds
    module_sizes: tuple[int, ...]          # chapter 3's module sizes
    growth_max_n: tuple[tuple[int, int], ...]  # (module size, last N tried)
    stage_budget: int                      # steps per stage before a run stops
    eval_batches: int                      # batches per criterion check
    ablation_max_n: int
    ablation_variants: tuple[str, ...]     # chapter 3's ablations run at this scale (labels)
    margin_ablation_variants: tuple[str, ...]  # ... run under the margin, to fixed_max_n
    scaling_max_n: int                     # the scaling run (module size 10, seed 2)
    baseline_sizes: tuple[int, ...]        # non-modular population sizes
    baseline_max_n: int
    baseline_total_steps: int              # whole-run budget of the capacity comparison
    iclr_size: int
    iclr_total_steps: int
    n0: int                                # curriculum stage of the generalisation tests
    fidelity_seeds: tuple[int, ...]
    fidelity_max_n: int
    fidelity_margin_variants: tuple[str, ...]  # ... run under the margin to fixed_max_n (labels
    #                                            of experiments.fidelity.VARIANTS besides "ours")
    draws: int                             # batches sampled for chapter 1's statistics
    confirm_batches: int                   # batches that confirm a passing check
    growth_confirm_margin: float           # chapter 3's growth runs: confirmation margin
    tau_steps: int                         # chapter 6: scored steps of each recording
    tau_trials: int                        # chapter 6: trials (batch entries), each its own p
    tau_burn_in: int                       # chapter 6: steps discarded before scoring
    # chapter 5
    perturb_n: int                         # common solved N of the robustness comparison
    perturb_eps_points: int                # eps grid: {0} U geomspace(1e-2, 10, this many)
    perturb_trials: int                    # trials per eps (new xi and new input each)
    perturb_warmup: int                    # streaming measure: unscored warm-up steps
    perturb_steps: int                     # streaming measure: scored steps
    perturb_batch: int                     # end-of-sequence measure: sequences per trial
    fixed_seeds: tuple[int, ...]           # claim 6 (fixed within-module weights)
    fixed_max_n: int
    # the first edition's single-check runs (kept for the fidelity page's false-pass table)
    legacy_seeds: tuple[int, ...]
    legacy_growth_max_n: tuple[tuple[int, int], ...]
    long_budget_factor: int                # long-budget baselines: this many times the budget
    long_budget_max_size: int              # ... for non-modular sizes up to this many neurons
    long_budget_max_n: int                 # ... with the curriculum's last N raised to this (a
    #                                        budget, so that chapter 4's N = 30 does not stop them)
    dms_max_n: int                         # beyond parity: last N of the DMS runs
    gated_budgets: tuple[str, ...]         # beyond parity: budgets whose gated networks run
    extra_module_sizes: tuple[int, ...]    # chapter 7: module sizes beyond chapter 3's
    noise_sigmas: tuple[float, ...]        # chapter 7: duplication noise sigmas (the default too)
    far_target_n: int                      # chapter 7: one network (module size 10) grown to this N
    far_runs: tuple[tuple[int, int], ...]  # ... (seed, N it is stored up to, <= far_target_n)
    orders: tuple[str, ...]                # chapter 7: curriculum orders beside the sequential one
    curve_ns: tuple[int, ...]              # chapter 4: stages whose learning curves are shown

    def __post_init__(self):
        for field in ("ablation_variants", "margin_ablation_variants"):
            variants = getattr(self, field)
            if set(variants) - set(ALL_ABLATIONS) or "duplicate, hard freeze" not in variants:
                raise ValueError(f"profile {self.name}: {field} must include the default "
                                 f"'duplicate, hard freeze' and only {ALL_ABLATIONS}; got "
                                 f"{variants}")

        if not self.far_runs or not all(2 <= n <= self.far_target_n for _, n in self.far_runs):
            raise ValueError(f"profile {self.name}: far_runs needs (seed, N) pairs with "
                             f"2 <= N <= far_target_n ({self.far_target_n}); got {self.far_runs}")
        if self.long_budget_max_n < self.baseline_max_n:
            raise ValueError(f"profile {self.name}: long_budget_max_n ({self.long_budget_max_n}) "
                             f"must be at least baseline_max_n ({self.baseline_max_n})")
        budgets = {"modular M_m=10"} | {f"non-modular {h}" for h in self.baseline_sizes}
        if not set(self.gated_budgets) <= budgets:
            raise ValueError(f"profile {self.name}: gated_budgets must be among "
                             f"{sorted(budgets)}; got {self.gated_budgets}")

    def max_n(self, module_size: int) -> int:
        return dict(self.growth_max_n)[module_size]

    @property
    def out_of_scope(self) -> frozenset[str]:
        """The registry experiments this profile deliberately runs no configs of (its scope,
        said in the book and the README), derived from the fields that cut them. Every other
        experiment runs at least one config (``tests/test_store.py`` checks both ways)."""
        cut = {"baseline-long": self.long_budget_max_size < min(self.baseline_sizes)}
        return frozenset(name for name, empty in cut.items() if empty)


# Scope of this edition (compute on a 2-core machine, said in the book where it matters): the
# confirmed-criterion growth runs cover module sizes 5, 10, 15 and 20 to N = 30 (the first
# edition's single-check runs, legacy_growth_max_n, are kept for the fidelity page), the
# ablations (duplication against random initialisation, hard against soft and no freezing) run
# to N = 12 without the margin and to N = 20 with it, the fidelity departures to N = 12 without
# the margin and, those of fidelity_margin_variants, to N = 20 with it, and the non-modular
# networks of up to long_budget_max_size neurons (all four sizes) were also trained with the long
# budget.
PAPER = Profile(
    name="paper", seeds=(0, 1, 2, 3, 4), module_sizes=(5, 10, 15, 20),
    growth_max_n=((5, 30), (10, 30), (15, 30), (20, 30)),
    stage_budget=10_000, eval_batches=10, ablation_max_n=12, scaling_max_n=150,
    ablation_variants=ALL_ABLATIONS, margin_ablation_variants=ALL_ABLATIONS,
    baseline_sizes=(20, 50, 100, 150), baseline_max_n=30, baseline_total_steps=10_000,
    iclr_size=500, iclr_total_steps=6_000, n0=10,
    fidelity_seeds=(0, 1, 2, 3, 4), fidelity_max_n=12,
    fidelity_margin_variants=("single check", "epoch test", "clip all", "copy untrained",
                              "old taus train", "copy head", "p = 0.5", "authors"),
    draws=4000, confirm_batches=100,
    growth_confirm_margin=0.003,
    tau_steps=10_000, tau_trials=10, tau_burn_in=500,  # chapter 6
    # chapter 5
    perturb_n=11, perturb_eps_points=10, perturb_trials=10, perturb_warmup=100,
    perturb_steps=1000, perturb_batch=64, fixed_seeds=(0, 1, 2, 3, 4), fixed_max_n=20,
    legacy_seeds=(0, 1, 2), legacy_growth_max_n=((5, 50), (10, 60), (15, 50), (20, 50)),
    long_budget_factor=5, long_budget_max_size=150, long_budget_max_n=60,
    dms_max_n=30, gated_budgets=("modular M_m=10", "non-modular 50"), extra_module_sizes=(30,),
    noise_sigmas=(0.0, 0.01, 0.05, 0.1, 0.2, 0.5), far_target_n=200,
    far_runs=((1, 200), (4, 83)), orders=("step2", "shuffled"), curve_ns=(6, 12))

QUICK = Profile(
    name="quick", seeds=(0,), module_sizes=(5, 10), growth_max_n=((5, 3), (10, 3)),
    stage_budget=20_000, eval_batches=4, ablation_max_n=3, scaling_max_n=4,
    ablation_variants=ALL_ABLATIONS, margin_ablation_variants=ALL_ABLATIONS,
    baseline_sizes=(20, 30), baseline_max_n=3, baseline_total_steps=10_000, iclr_size=40,
    iclr_total_steps=2_000, n0=2, fidelity_seeds=(0,), fidelity_max_n=3,
    fidelity_margin_variants=("single check", "clip all", "copy untrained", "authors"), draws=200,
    confirm_batches=8, growth_confirm_margin=0.003,
    tau_steps=2_000, tau_trials=4, tau_burn_in=500,  # chapter 6
    # chapter 5
    perturb_n=3, perturb_eps_points=4, perturb_trials=2, perturb_warmup=20, perturb_steps=100,
    perturb_batch=16, fixed_seeds=(0,), fixed_max_n=3,
    legacy_seeds=(0,), legacy_growth_max_n=((5, 3), (10, 3)), long_budget_factor=2,
    long_budget_max_size=20, long_budget_max_n=4,
    dms_max_n=3, gated_budgets=("non-modular 20",), extra_module_sizes=(30,),
    noise_sigmas=(0.0, 0.05, 0.5), far_target_n=4, far_runs=((1, 4),),
    orders=("step2", "shuffled"),
    curve_ns=(3,))

PROFILES = {p.name: p for p in (PAPER, QUICK)}


def active() -> Profile:
    """The profile named by ``MODGROW_PROFILE`` (default ``paper``)."""
    name = os.environ.get(PROFILE_ENV, "paper")
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r}: must be one of {sorted(PROFILES)}")
    return PROFILES[name]
