"""Each chapter's verdict rows, computed from stored results; the claims ledger shows them all.

A verdict is one of: "holds", "holds partly", "fails", "not tested". The rule that decides it is
written in the row, next to the numbers.
"""

from __future__ import annotations

import statistics

from .analysis import mean_ci, run_summary

__all__ = ["curriculum_verdicts", "single_epoch_rule", "baseline_verdicts"]


def single_epoch_rule(median_steps: float, one_epoch_fraction: float, epoch: int = 500) -> str:
    """holds: median stage within one epoch and >= 80% of stages too; holds partly: median
    within one epoch; fails otherwise."""
    if median_steps <= epoch and one_epoch_fraction >= 0.8:
        return "holds"
    if median_steps <= epoch:
        return "holds partly"
    return "fails"


def _forgetting_rule(accs: list[float]) -> str:
    """holds: at least 95% of heads still above 98%; holds partly: every head still >= 95%;
    fails otherwise."""
    if sum(a > 0.98 for a in accs) >= 0.95 * len(accs):
        return "holds"
    return "holds partly" if min(accs) >= 0.95 else "fails"


def curriculum_verdicts(histories: list[dict], head_accuracy: list[dict[str, float]],
                        ablation_steps: dict[str, list[int]]) -> list[dict]:
    """Chapter 3. ``histories``: growth runs; ``head_accuracy``: for each run in the same order, accuracy of every head
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
            "rule": "holds: median <= 500 steps and >= 80% of stages within 500; holds partly: "
                    "median <= 500",
            "verdict": single_epoch_rule(med, frac),
        })
    accs = [a for run in head_accuracy for a in run.values()]
    below = sum(a <= 0.98 for a in accs)
    drops = []
    for h, run in zip(histories, head_accuracy, strict=True):
        at_criterion = {str(s["n"]): s["accuracy"][str(s["n"])] for s in h["stages"]}
        drops += [at_criterion[n] - a for n, a in run.items() if n in at_criterion]
    median_drop = statistics.median(drops) if drops else float("nan")
    rows.append({
        "claim": "old tasks are kept while the network grows (frozen modules)",
        "paper": "all heads stay above criterion",
        "this book": f"after growth {len(accs) - below}/{len(accs)} heads above 98%, lowest "
                     f"{min(accs):.3f}; median drop {100 * median_drop:.1f} points from the "
                     f"check that ended each head's stage (training distribution of bits, at the "
                     f"last stage's longer sequences)",
        "rule": "holds: >= 95% of heads above 98%; holds partly: every head >= 95%",
        "verdict": _forgetting_rule(accs),
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
            "rule": "holds if the duplicate mean is below the random-init mean",
            "verdict": "holds" if dup < rnd else "fails",
        })
    return rows


def _beats(a: list[float], b: list[float]) -> bool:
    """a beats b: a's mean above the upper end of b's 95% interval (b's mean if one value)."""
    from .analysis import mean_ci
    ma, _ = mean_ci(a)
    mb, cb = mean_ci(b)
    return ma > mb + (0 if cb != cb else cb)


def _share(wins: int, total: int) -> str:
    if total and wins == total:
        return "holds"
    return "holds partly" if wins else "fails"


def baseline_verdicts(neuron_rows: list[dict], param_rows: list[dict], module_size: int,
                      steps_modular: list[float], steps_nonmodular: list[float],
                      length10: dict[str, list[float]], transfer50: dict[str, list[float]]
                      ) -> list[dict]:
    """Chapter 4, claims 1-3 of FACTS.md, for modular networks of ``module_size``."""
    key = f"modular M_m={module_size}"
    rows = []
    wins = [_beats(r[key], r["non-modular"]) for r in neuron_rows]
    rows.append({
        "claim": "1a. higher N than a non-modular network with the same neurons",
        "paper": "modular higher",
        "this book": "; ".join(f"{r['neurons']} neurons: modular {sum(r[key]) / len(r[key]):.1f} "
                               f"vs non-modular {sum(r['non-modular']) / len(r['non-modular']):.1f}"
                               for r in neuron_rows),
        "rule": "holds if the modular mean is above the non-modular 95% interval at every "
                "size; holds partly at some",
        "verdict": _share(sum(wins), len(wins)),
    })
    wins = [_beats(r[key], [r["non-modular"]]) for r in param_rows]
    rows.append({
        "claim": "1b. higher N than a non-modular network with the same parameters",
        "paper": "modular higher",
        "this book": f"modular ahead for {sum(wins)} of {len(wins)} non-modular networks "
                     f"({min(r['parameters'] for r in param_rows):,} to "
                     f"{max(r['parameters'] for r in param_rows):,} parameters)",
        "rule": "holds if ahead of every non-modular network; holds partly if of some",
        "verdict": _share(sum(wins), len(wins)),
    })
    med_m, med_n = statistics.median(steps_modular), statistics.median(steps_nonmodular)
    rows.append({
        "claim": "2. faster training: each new N within about an epoch",
        "paper": "modular faster",
        "this book": f"median steps per N (N >= 3): modular {med_m:.0f}, non-modular {med_n:.0f}",
        "rule": "holds if the modular median is lower",
        "verdict": "holds" if med_m < med_n else "fails",
    })
    for name, data, what in (("3a. better length generalisation", length10,
                              "mean accuracy over heads at 10x the trained length"),
                             ("3b. better transfer to the next N", transfer50,
                              "new head's accuracy after 50 steps")):
        mod, non = data["modular"], data["non-modular"]
        verdict = "holds" if _beats(mod, non) else ("fails" if _beats(non, mod) else
                                                    "not distinguishable")
        rows.append({"claim": name, "paper": "modular better",
                     "this book": f"{what}: modular {sum(mod) / len(mod):.3f} "
                                  f"({len(mod)} nets), non-modular {sum(non) / len(non):.3f} "
                                  f"({len(non)} nets)",
                     "rule": "holds/fails if one mean is above the other's 95% interval",
                     "verdict": verdict})
    return rows
