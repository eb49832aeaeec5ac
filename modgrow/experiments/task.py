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
    return [
        {"claim": "N-parity needs memory of all N bits", "paper": "implied by the task",
         "this book": f"best accuracy from {n - 1} of the last {n} bits with p = 0.5: "
                      f"{blind:.3f} simulated, 0.5 in theory",
         "rule": "holds if the simulated best accuracy is within 0.01 of 0.5",
         "verdict": "holds" if abs(blind - 0.5) < 0.01 else "fails"},
        {"claim": "chance level is 50%", "paper": "not stated",
         "this book": "50% with balanced bits; under one p ~ U(0,1) per batch (the authors' "
                      f"sampling) a network that only estimates p scores 1/2 + 1/(2(N+1)): "
                      f"{analysis.best_accuracy_seeing(2, 0):.3f} at N = 2",
         "rule": "holds partly: true for balanced bits only",
         "verdict": "holds partly"},
    ]
