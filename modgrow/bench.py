"""Speed of one full training step (forward, backward, optimiser step) at a curriculum stage.

Two implementations of the same step are timed in the same process on the same batches:

* ``naive``: the authors' approach, a Python loop over modules inside the time loop, autograd
  through every module, the loss of every head, frozen modules kept in the optimiser with learning
  rate zero and included in gradient clipping.
* ``fast``: this package's engine, all modules advanced by one batched update per step, the frozen
  prefix run once under ``torch.no_grad()``, autograd over the newest module only.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .engine import reference_final_states
from .network import RNN
from .tasks import parity_batch, sequence_length_range
from .training import GrowthConfig, Stage, head_ns, network_at_stage

__all__ = ["BenchResult", "bench_step"]


@dataclass(frozen=True)
class BenchResult:
    module_size: int
    n: int
    batch_size: int
    seq_len: int
    n_modules: int
    repeats: int
    naive_ms: float
    fast_ms: float
    threads: int

    @property
    def speedup(self) -> float:
        return self.naive_ms / self.fast_ms

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["speedup"] = round(self.speedup, 2)
        return d


def _naive_step(net: RNN, opt, clip: float, x, y, generator):
    h0 = net.initial_state(x.shape[0], generator)
    finals = reference_final_states(net, x, h0)
    logits = net.readout(finals)
    loss = sum(F.cross_entropy(logits[i], y[:, i]) for i in range(len(net.heads)))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(net.parameters()), clip)
    opt.step()


def _time(step, batches, warmup: int) -> float:
    for x, y in batches[:warmup]:
        step(x, y)
    times = []
    for x, y in batches[warmup:]:
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def bench_step(module_size: int = 10, n: int = 21, batch_size: int = 256, repeats: int = 10,
               warmup: int = 2, naive: bool = True, seed: int = 0) -> BenchResult:
    """Median milliseconds per training step, naive and fast, at the stage that trains N = n.

    The sequence length is fixed to the middle of the stage's length range, so both
    implementations see identical work.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be >= 1 and warmup >= 0")
    cfg = GrowthConfig(module_size=module_size, max_n=n, batch_size=batch_size, seed=seed)
    g = torch.Generator().manual_seed(seed)
    net = network_at_stage(cfg, n, g)
    ns = head_ns(cfg, len(net.heads))
    lo, hi = sequence_length_range(max(ns))
    seq_len = (lo + hi) // 2
    batches = [parity_batch(ns, batch_size, generator=g, seq_len=seq_len)
               for _ in range(warmup + repeats)]

    stage = Stage(net, cfg)
    fast_ms = _time(lambda x, y: stage.step_on(x, y, g), batches, warmup)

    naive_ms = float("nan")
    if naive:
        net_naive = network_at_stage(cfg, n, torch.Generator().manual_seed(seed))
        newest = net_naive.n_blocks - 1
        frozen = [p for b, _, _, p in net_naive.classified_parameters() if b != newest]
        fresh = [p for b, _, _, p in net_naive.classified_parameters() if b == newest]
        opt_n = torch.optim.SGD([{"params": fresh, "lr": cfg.lr}, {"params": frozen, "lr": 0.0}],
                                lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
        naive_ms = _time(lambda x, y: _naive_step(net_naive, opt_n, cfg.clip, x, y, g), batches,
                         warmup)
    return BenchResult(module_size, n, batch_size, seq_len, net.n_blocks, repeats,
                       round(naive_ms, 2), round(fast_ms, 2), torch.get_num_threads())
