"""The N-parity task and its curriculum.

A sample is a binary sequence fed one bit per time step; the label for task N is the parity
(sum mod 2) of the last N bits, read at the final step.

Sampling (the book's decision, following the authors' code):

* The sequence length T is drawn once per batch, uniformly from the integers
  ``[n_max + 2, n_max + 2 + floor(1.5 * n_max))`` where ``n_max`` is the largest N in the batch.
* ``bit_prob="per_batch"`` (default, as the authors): one Bernoulli rate p ~ U(0, 1) per batch,
  shared by all its samples. Labels are then *not* balanced within a batch (a batch with p = 0.1 is
  mostly zeros), and over many batches P(parity = 1) = 1/2 - E[(1 - 2p)^N] / 2, which is
  1/2 - 1/(2(N+1)) for even N and exactly 1/2 for odd N.
* ``bit_prob`` a float: every bit is Bernoulli(bit_prob); with 0.5 labels are balanced. The book
  uses 0.5 for generalisation tests, where a p-aware shortcut must not help.
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["parity_batch", "sequence_length_range", "parity_labels", "curriculum"]

LENGTH_SPAN = 1.5


def sequence_length_range(n_max: int) -> tuple[int, int]:
    """Half-open range ``[lo, hi)`` of sequence lengths used when the largest trained N is n_max."""
    lo = n_max + 2
    return lo, lo + max(1, int(LENGTH_SPAN * n_max))


def _check_ns(ns: Sequence[int]) -> list[int]:
    ns = [int(n) for n in ns]
    if not ns:
        raise ValueError("ns is empty: give at least one N for the parity labels")
    bad = [n for n in ns if n < 1]
    if bad:
        raise ValueError(f"every N must be >= 1, got {bad}")
    return ns


def parity_labels(x: torch.Tensor, ns: Sequence[int]) -> torch.Tensor:
    """Parity of the last N bits of each sequence in ``x`` ([B, T, 1] or [B, T]) for each N."""
    ns = _check_ns(ns)
    bits = x.reshape(x.shape[0], x.shape[1]).long()
    if max(ns) > bits.shape[1]:
        raise ValueError(f"sequence length {bits.shape[1]} is shorter than N={max(ns)}")
    # cumulative sums from the end: suffix[:, k] = number of ones among the last k bits
    suffix = torch.cumsum(bits.flip(1), dim=1)
    idx = torch.tensor([n - 1 for n in ns])
    return (suffix[:, idx] % 2).long()


def parity_batch(
    ns: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    seq_len: int | None = None,
    bit_prob: float | str = "per_batch",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one batch of N-parity data.

    Returns ``(x, y)``: ``x`` float [batch, T, 1] of 0/1 bits, ``y`` long [batch, len(ns)] with
    ``y[:, i]`` the parity of the last ``ns[i]`` bits. See the module docstring for the sampling.
    The same generator state gives the same batch.
    """
    ns = _check_ns(ns)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n_max = max(ns)
    if seq_len is None:
        lo, hi = sequence_length_range(n_max)
        seq_len = int(torch.randint(lo, hi, (1,), generator=generator).item())
    elif seq_len < n_max:
        raise ValueError(f"seq_len={seq_len} is shorter than the largest N={n_max}")
    if bit_prob == "per_batch":
        p = float(torch.rand(1, generator=generator).item())
    elif isinstance(bit_prob, (int, float)) and 0.0 <= float(bit_prob) <= 1.0:
        p = float(bit_prob)
    else:
        raise ValueError(f"bit_prob must be 'per_batch' or a probability in [0, 1], got {bit_prob!r}")
    x = (torch.rand(batch_size, seq_len, 1, generator=generator) < p).float()
    return x, parity_labels(x, ns)


def curriculum(n_start: int = 2, n_max: int = 30) -> list[int]:
    """The curriculum of N values: n_start, n_start + 1, ..., n_max."""
    if n_start < 1 or n_max < n_start:
        raise ValueError(f"need 1 <= n_start <= n_max, got n_start={n_start}, n_max={n_max}")
    return list(range(n_start, n_max + 1))
