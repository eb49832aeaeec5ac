"""Each chapter's verdict rows, computed from stored results; the claims ledger shows them all.

A verdict is one of: "holds", "holds partly", "fails", "not tested". The rule that decides it is
written in the row, next to the numbers.
"""

from __future__ import annotations

import statistics

from .analysis import mean_ci, run_summary

__all__ = ["curriculum_verdicts", "single_epoch_rule"]


def single_epoch_rule(median_steps: float, one_epoch_fraction: float, epoch: int = 500) -> str:
    """holds: median stage within one epoch and >= 80% of stages too; holds partly: median
    within one epoch; fails otherwise."""
    if median_steps <= epoch and one_epoch_fraction >= 0.8:
        return "holds"
    if median_steps <= epoch:
        return "holds partly"
    return "fails"


def curriculum_verdicts(histories: list[dict], head_accuracy: dict[str, dict[str, float]],
                        ablation_steps: dict[str, list[int]]) -> list[dict]:
    """Chapter 3. ``histories``: growth runs; ``head_accuracy``: per run, accuracy of every head
    after growth; ``ablation_steps``: per variant, total steps to the ablation's last N per seed."""
    rows = []
    sizes = sorted({h["config"]["module_size"] for h in histories})
    for m in sizes:
        sums = [run_summary(h) for h in histories if h["config"]["module_size"] == m]
        med = statistics.median(s["median_steps"] for s in sums)
        frac = statistics.mean(s["one_epoch_fraction"] for s in sums)
        reached = [s["max_n"] for s in sums]
        rows.append({
            "claim": f"each new N is solved within about one epoch (M_m = {m})",
            "paper": "within one epoch (500 steps)",
            "this book": f"median {med:.0f} steps per N; {100 * frac:.0f}% of stages within "
                         f"500 steps; max N {min(reached)}–{max(reached)} over {len(sums)} seeds",
            "verdict": single_epoch_rule(med, frac),
        })
    accs = [a for run in head_accuracy.values() for a in run.values()]
    below = sum(a <= 0.98 for a in accs)
    rows.append({
        "claim": "old tasks are kept while the network grows (frozen modules)",
        "paper": "all heads stay above criterion",
        "this book": f"{len(accs) - below}/{len(accs)} heads above 98% after growth "
                     f"(balanced bits, last stage's sequence lengths); lowest {min(accs):.3f}",
        "verdict": "holds" if below == 0 else ("holds partly" if below / len(accs) < 0.1
                                               else "fails"),
    })
    if ablation_steps:
        parts = []
        for label, steps in ablation_steps.items():
            m, ci = mean_ci(steps)
            parts.append(f"{label}: {m:.0f} ± {ci:.0f}")
        dup = statistics.mean(ablation_steps.get("duplicate, hard freeze", [float("nan")]))
        rnd = statistics.mean(ablation_steps.get("random init, hard freeze", [float("nan")]))
        rows.append({
            "claim": "duplicating the trained previous module speeds up learning",
            "paper": "duplication used (with noise); benefit stated, not quantified",
            "this book": "total steps to the last N (mean ± 95% CI over seeds): " + "; ".join(parts),
            "verdict": "holds" if dup < rnd else "fails",
        })
    return rows
