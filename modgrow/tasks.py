"""The tasks of the curriculum: N-parity (the book's task) and delayed match-to-sample (DMS).

A sample is a binary sequence fed one bit per time step (0/1, input size 1); every head answers
at the final step. For N-parity the label of task N is the parity (sum mod 2) of the last N bits.

Parity sampling (the book's decision, following the authors' code):

* The sequence length T is drawn once per batch, uniformly from the integers
  ``[n_max + 2, n_max + 2 + floor(1.5 * n_max))`` where ``n_max`` is the largest N in the batch.
* ``bit_prob="per_batch"`` (default, as the authors): one Bernoulli rate p ~ U(0, 1) per batch,
  shared by all its samples. Labels are then *not* balanced within a batch (a batch with p = 0.1 is
  mostly zeros), and over many batches P(parity = 1) = 1/2 - E[(1 - 2p)^N] / 2, which is
  1/2 - 1/(2(N+1)) for even N and exactly 1/2 for odd N.
* ``bit_prob`` a float: every bit is Bernoulli(bit_prob); with 0.5 labels are balanced. The book
  uses 0.5 where a p-aware shortcut must not help (chapter 1's chance levels, chapter 3's heads
  after growth on balanced bits); its length-generalisation and transfer tests draw bits as in
  training, so that only the length or the stage changes.

DMS (the authors' definition, FACTS.md): the label of task N is 1 when the last bit equals the
bit N - 1 steps before it (N - 2 bits in between; 0-based ``x[T-N] == x[T-1]``), else 0; N >= 2
(N = 1 would compare the last bit with itself). Every bit is Bernoulli(0.5) and ``dms_batch``
takes no ``bit_prob``: that is the authors' task, and the only rate at which its classes are
balanced (with rate p, P(match) = p^2 + (1 - p)^2 > 1/2 for p != 1/2). The sequence length is
drawn once per batch, uniformly from the integers ``[n_max + 2, 4 n_max + 2)``.

``task_batch``, ``task_labels`` and ``length_range`` choose between the tasks by name
(``TASKS``), so that the trainer and the analyses draw batches of whichever task a run trains.
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["parity_batch", "sequence_length_range", "parity_labels", "curriculum", "TASKS",
           "dms_batch", "dms_labels", "dms_length_range", "task_batch", "task_labels",
           "length_range"]

LENGTH_SPAN = 1.5
TASKS = ("parity", "dms")
DMS_LENGTH_FACTOR = 4
# the smallest N of each task (a DMS task with N = 1 compares the last bit with itself)
MIN_N = {"parity": 1, "dms": 2}


def sequence_length_range(n_max: int) -> tuple[int, int]:
    """Half-open range ``[lo, hi)`` of sequence lengths used when the largest trained N is n_max."""
    lo = n_max + 2
    return lo, lo + max(1, int(LENGTH_SPAN * n_max))


def _check_ns(ns: Sequence[int], task: str = "parity") -> list[int]:
    ns = [int(n) for n in ns]
    if not ns:
        raise ValueError(f"ns is empty: give at least one N for the {task} labels")
    lowest = MIN_N[task]
    bad = [n for n in ns if n < lowest]
    if bad:
        raise ValueError(f"every N of the {task} task must be >= {lowest}, got {bad}")
    return ns


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def _draw_length(lo: int, hi: int, generator: torch.Generator | None) -> int:
    """One sequence length, uniform over the integers [lo, hi)."""
    return int(torch.randint(lo, hi, (1,), generator=generator).item())


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
    _check_batch_size(batch_size)
    n_max = max(ns)
    if seq_len is None:
        seq_len = _draw_length(*sequence_length_range(n_max), generator)
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


def dms_length_range(n_max: int) -> tuple[int, int]:
    """Half-open range ``[lo, hi)`` of DMS sequence lengths when the largest trained N is n_max:
    ``[n_max + 2, 4 n_max + 2)`` (the authors')."""
    return n_max + 2, DMS_LENGTH_FACTOR * n_max + 2


def dms_labels(x: torch.Tensor, ns: Sequence[int]) -> torch.Tensor:
    """DMS labels [B, len(ns)] of ``x`` ([B, T, 1] or [B, T]): 1 where the last bit equals the
    bit N - 1 steps earlier (``x[:, T-N] == x[:, T-1]``), for each N."""
    ns = _check_ns(ns, "dms")
    bits = x.reshape(x.shape[0], x.shape[1]).long()  # [B, T]
    t = bits.shape[1]
    if max(ns) > t:
        raise ValueError(f"sequence length {t} is shorter than N={max(ns)}")
    sample = bits[:, [t - n for n in ns]]  # [B, len(ns)]
    return (sample == bits[:, -1:]).long()


def dms_batch(
    ns: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    seq_len: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one batch of delayed match-to-sample data.

    Returns ``(x, y)``: ``x`` float [batch, T, 1] of Bernoulli(0.5) 0/1 bits, ``y`` long
    [batch, len(ns)] with ``y[:, i]`` = 1 when the last bit matches the bit ``ns[i] - 1`` steps
    earlier. T is ``seq_len`` or drawn from ``dms_length_range(max(ns))``. The same generator
    state gives the same batch.
    """
    ns = _check_ns(ns, "dms")
    _check_batch_size(batch_size)
    n_max = max(ns)
    if seq_len is None:
        seq_len = _draw_length(*dms_length_range(n_max), generator)
    elif seq_len < n_max:
        raise ValueError(f"seq_len={seq_len} is shorter than the largest N={n_max}")
    x = (torch.rand(batch_size, seq_len, 1, generator=generator) < 0.5).float()
    return x, dms_labels(x, ns)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def length_range(task: str, n_max: int) -> tuple[int, int]:
    """Half-open range of the sequence lengths of ``task`` when the largest trained N is n_max."""
    _check_task(task)
    return sequence_length_range(n_max) if task == "parity" else dms_length_range(n_max)


def task_labels(task: str, x: torch.Tensor, ns: Sequence[int]) -> torch.Tensor:
    """Labels [B, len(ns)] of ``task`` for the sequences ``x``."""
    _check_task(task)
    return parity_labels(x, ns) if task == "parity" else dms_labels(x, ns)


def task_batch(
    task: str,
    ns: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    seq_len: int | None = None,
    bit_prob: float | str = "per_batch",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of ``task`` (``"parity"`` or ``"dms"``): ``parity_batch`` or ``dms_batch``.

    ``bit_prob`` is parity's sampling; DMS bits are always Bernoulli(0.5), so for DMS it must be
    0.5 (a run's config says so explicitly) and anything else is an error rather than ignored.
    """
    _check_task(task)
    if task == "parity":
        return parity_batch(ns, batch_size, generator=generator, seq_len=seq_len,
                            bit_prob=bit_prob)
    if bit_prob != 0.5 or isinstance(bit_prob, bool):
        raise ValueError(f"DMS bits are Bernoulli(0.5): bit_prob must be 0.5, got {bit_prob!r}")
    return dms_batch(ns, batch_size, generator=generator, seq_len=seq_len)


def curriculum(n_start: int = 2, n_max: int = 30) -> list[int]:
    """The curriculum of N values: n_start, n_start + 1, ..., n_max."""
    if n_start < 1 or n_max < n_start:
        raise ValueError(f"need 1 <= n_start <= n_max, got n_start={n_start}, n_max={n_max}")
    return list(range(n_start, n_max + 1))
