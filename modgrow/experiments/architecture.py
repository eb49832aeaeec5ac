"""Chapter 2, the architecture: no training runs, verdict rows from parameter counts."""

from __future__ import annotations

from .. import analysis
from ..profiles import Profile

CHAPTER = "2 architecture"
EXPERIMENTS = ()


def verdicts(profile: Profile) -> list[dict]:
    """Parameters at equal neurons; what trains per stage."""
    rows = analysis.parameter_table((5, 10, 15, 20), n=21)
    mod = {r["module_size"]: r for r in rows if r["architecture"] == "modular"}
    non = {r["module_size"]: r for r in rows if r["architecture"] == "nonmodular"}
    ratios = ", ".join(f"{non[m]['total_all'] / mod[m]['total_all']:.1f}x (M_m = {m})"
                       for m in sorted(mod))
    return [
        {"claim": "fewer parameters than a non-modular network with the same neurons",
         "paper": "yes", "this book": f"non-modular / modular totals at N = 21: {ratios}",
         "rule": "holds if every ratio is above 1 (exact counts)",
         "verdict": "holds" if all(non[m]["total_all"] > mod[m]["total_all"] for m in mod)
         else "fails"},
        {"claim": "only the newest module trains",
         "paper": "yes (hard freezing)",
         "this book": "trainable per stage: " + ", ".join(
             f"{mod[m]['trainable_all']} (M_m = {m})" for m in sorted(mod)),
         "rule": "by construction (gamma = 0); tests check frozen parameters stay bit-identical",
         "verdict": "holds"},
    ]
