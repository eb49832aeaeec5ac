"""Chapter 1, the N-parity task: no training runs, two verdict rows from task statistics."""

from __future__ import annotations

from .. import analysis
from ..profiles import Profile

CHAPTER = "1 task"
EXPERIMENTS = ()


def verdicts(profile: Profile) -> list[dict]:
    """The task needs all N bits; chance under the authors' sampling."""
    n = 8
    blind = analysis.simulate_best_accuracy(n, n - 1, 200_000, bit_prob=0.5)
    balanced = analysis.simulate_best_accuracy(2, 0, 200_000, bit_prob=0.5)
    per_batch = analysis.best_accuracy_seeing(2, 0)
    return [
        {"claim": "N-parity needs memory of all N bits", "paper": "implied by the task",
         "this book": f"best accuracy from {n - 1} of the last {n} bits with p = 0.5: "
                      f"{blind:.3f} simulated, 0.5 in theory",
         "rule": "holds if the simulated best accuracy is within 0.01 of 0.5",
         "verdict": "holds" if abs(blind - 0.5) < 0.01 else "fails"},
        {"claim": "chance level is 50%", "paper": "not stated",
         "this book": f"{balanced:.3f} simulated with balanced bits (no bit seen, N = 2); under one "
                      f"p ~ U(0,1) per batch (the authors' sampling) a network that knows p but "
                      f"no bit scores 1/2 + 1/(2(N+1)): {per_batch:.3f} at N = 2 (an upper bound "
                      f"for one that must estimate p from the sequence)",
         "rule": "holds if chance is within 0.01 of 0.5 under both samplings; holds partly: "
                 "under balanced bits only",
         "verdict": chance_word(balanced, per_batch)},
    ]


def chance_word(balanced: float, per_batch: float, tol: float = 0.01) -> str:
    """Chance at 50 %: holds under both samplings, holds partly under balanced bits only."""
    if abs(balanced - 0.5) < tol and abs(per_batch - 0.5) < tol:
        return "holds"
    return "holds partly" if abs(balanced - 0.5) < tol else "fails"
