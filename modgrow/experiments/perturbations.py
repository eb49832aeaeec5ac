"""Chapter 5, perturbations: robustness of modular and non-modular networks (claim 4), between-
against within-module sensitivity and conservation of within-module weights (claim 5), and growth
with fixed within-module weights (claim 6)."""

from __future__ import annotations

from ..profiles import Profile
from ..training import GrowthConfig
from .curriculum import base_config
from .spec import Experiment

CHAPTER = "5 perturbations"
FIXED_MODULE_SIZE = 10

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


def fixed_configs(profile: Profile) -> dict[str, list[GrowthConfig]]:
    """Claim 6: module size 10, growth to ``fixed_max_n``, ``fixed_seeds``, the chapter-3 budget
    per stage and criterion (so the full-training runs of seeds 0-2 are chapter 3's ablation
    runs)."""
    return {label: [base_config(profile, module_size=FIXED_MODULE_SIZE, seed=s,
                                max_n=profile.fixed_max_n, **kw) for s in profile.fixed_seeds]
            for label, (kw, _) in FIXED_VARIANTS.items()}


EXPERIMENTS = (
    Experiment("fixed-within", CHAPTER, "growth with fixed within-module weights: fresh random, "
               "a copy of module 0, full training (module size 10)",
               lambda p: [c for cs in fixed_configs(p).values() for c in cs]),
)


def verdicts(profile: Profile) -> list[dict]:
    return []
