"""How often the curriculum criterion passes a network that is below its threshold.

A check passes when, on k fresh batches, the mean accuracy over heads and the newest head's
accuracy both exceed the threshold. For a fixed network the chance of that is estimated two ways:

* ``binomial_pass`` (theory, newest head only): k x 256 independent answers, each correct with the
  network's true accuracy a: P(Binomial(256 k, a) > 256 k t);
* ``normal_pass`` (theory with batch heterogeneity): the mean of k batch accuracies, each with the
  spread ``batch_sd`` measured on real networks: P(N(a, batch_sd^2 / k) > t);
* ``resampled_pass`` (simulation on a real network): per-batch accuracies of every head on many
  fresh batches, resampled k at a time, with the whole criterion applied. Bits are drawn with one
  p per batch, so batches differ in difficulty and the spread is wider than binomial.

A stage with C checks passes by luck with probability 1 - (1 - P(one check))^C under the
single-check criterion; the confirmed criterion multiplies P(one check) by the chance that the
confirmation on further fresh batches passes too.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats as _st

from .network import RNN
from .training import batch_correct

__all__ = ["binomial_pass", "normal_pass", "batch_accuracies", "resampled_pass", "stage_pass"]


def binomial_pass(accuracy: float, batches: int, threshold: float = 0.98,
                  batch_size: int = 256) -> float:
    """P(observed accuracy > threshold) for ``batches`` x ``batch_size`` independent answers."""
    n = batches * batch_size
    return float(_st.binom.sf(np.floor(threshold * n), n, accuracy))


def normal_pass(accuracy, batches: int, batch_sd: float, threshold: float = 0.98):
    """P(mean of ``batches`` batch accuracies > threshold) when batch accuracies have mean
    ``accuracy`` and standard deviation ``batch_sd`` (vectorised over ``accuracy``)."""
    z = (np.asarray(accuracy, dtype=float) - threshold) / (batch_sd / np.sqrt(batches))
    return _st.norm.cdf(z)


@torch.no_grad()
def batch_accuracies(net: RNN, ns: list[int], n_batches: int, seed: int = 0,
                     bit_prob="per_batch", batch_size: int = 256,
                     task: str = "parity") -> np.ndarray:
    """Accuracy of every head on each of ``n_batches`` fresh batches of ``task``:
    [n_batches, len(ns)]."""
    g = torch.Generator().manual_seed(seed)
    rows = [c / batch_size for c in batch_correct(net, ns, n_batches, batch_size, g, bit_prob,
                                                  task=task)]
    return torch.stack(rows).numpy()


def resampled_pass(acc: np.ndarray, batches: int, threshold: float = 0.98, draws: int = 20_000,
                   seed: int = 0) -> float:
    """P(one check on ``batches`` fresh batches passes), from ``acc`` ([n_batches, heads]: the
    per-batch accuracies of a fixed network): ``draws`` checks, each ``batches`` rows drawn with
    replacement (the empirical distribution stands for the network's batch distribution)."""
    if acc.ndim != 2 or acc.shape[0] < 2:
        raise ValueError(f"acc must be [n_batches >= 2, heads], got shape {acc.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, acc.shape[0], (draws, batches))
    means = acc[idx].mean(axis=1)  # [draws, heads]
    ok = (means.mean(axis=1) > threshold) & (means[:, -1] > threshold)
    return float(ok.mean())


def stage_pass(p_check, checks: int, p_confirm=1.0):
    """P(at least one of ``checks`` checks ends the stage) for a network that does not change
    (vectorised over the probabilities)."""
    out = 1 - (1 - np.asarray(p_check) * np.asarray(p_confirm)) ** checks
    return float(out) if out.ndim == 0 else out
