"""Analyses behind the chapters: task statistics, parameter counts, summaries of curriculum runs."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from . import engine
from .network import RNN, count_parameters
from .tasks import task_batch
from .training import GrowthConfig, evaluate, head_ns, lr_multiplier, network_at_stage

__all__ = ["label_balance", "best_accuracy_seeing", "simulate_best_accuracy", "parameter_table",
           "full_recurrent_matrix", "run_summary", "head_accuracy_after_growth",
           "mean_ci"]


# ----- the task --------------------------------------------------------------------------------

def label_balance(n: int) -> float:
    """P(parity of N bits = 1) when each batch draws one p ~ U(0,1):
    1/2 - E[(1-2p)^N]/2, with E[(1-2p)^N] = 1/(N+1) for even N and 0 for odd N."""
    return 0.5 - (1 / (n + 1) if n % 2 == 0 else 0.0) / 2


def best_accuracy_seeing(n: int, k: int, bit_prob: str | float = "per_batch") -> float:
    """Accuracy of the best predictor of N-parity that sees only k of the last N bits (and knows
    the batch's Bernoulli rate p). The unseen N-k bits have parity 1 with probability
    (1 - (1-2p)^(N-k))/2, so the best guess is right with probability 1/2 + |1-2p|^(N-k)/2:
    1/2 + 1/(2(N-k+1)) averaged over p ~ U(0,1); exactly 1/2 for p = 1/2 and k < N."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if k == n:
        return 1.0
    if bit_prob == "per_batch":
        return 0.5 + 1 / (2 * (n - k + 1))
    return 0.5 + abs(1 - 2 * float(bit_prob)) ** (n - k) / 2


def simulate_best_accuracy(n: int, k: int, n_samples: int = 200_000, seed: int = 0,
                           bit_prob: str | float = "per_batch") -> float:
    """Monte Carlo check of ``best_accuracy_seeing``: draw p and N bits per sample, predict
    parity(seen bits) XOR (most likely parity of the unseen bits given p)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n_samples, 1, generator=g) if bit_prob == "per_batch" else \
        torch.full((n_samples, 1), float(bit_prob))
    bits = (torch.rand(n_samples, n, generator=g) < p).long()
    truth = bits.sum(1) % 2
    seen = bits[:, :k].sum(1) % 2
    # unseen parity is more likely 1 iff (1-2p)^(n-k) < 0, i.e. p > 1/2 with n-k odd
    guess_unseen = ((p[:, 0] > 0.5) & ((n - k) % 2 == 1)).long()
    return ((seen ^ guess_unseen) == truth).float().mean().item()


# ----- the architecture --------------------------------------------------------------------------

def full_recurrent_matrix(net: RNN) -> torch.Tensor:
    """The whole network's recurrent matrix [K*M, K*M] (row: receiving neuron): within-module
    blocks on the diagonal (self-connections zero), feed-forward blocks below it."""
    m, k = net.module_size, net.n_blocks
    w = torch.zeros(k * m, k * m)
    off_diag = 1 - torch.eye(m)
    with torch.no_grad():
        for d, b in enumerate(net.blocks):
            w[d * m:(d + 1) * m, d * m:(d + 1) * m] = b.w_rec * off_diag
            if b.has_ff:
                w[d * m:(d + 1) * m, (d - 1) * m:d * m] = b.w_ff
    return w


def parameter_table(module_sizes=(5, 10, 15, 20), n: int = 21) -> list[dict]:
    """Parameter counts by connection class at the stage training N = n: each modular network
    (n-1 modules) against a non-modular network with the same number of neurons and heads.
    'trainable' is what the optimiser updates at that stage (hard freezing)."""
    rows = []
    for m in module_sizes:
        for arch, size in (("modular", m), ("nonmodular", m * (n - 1))):
            cfg = GrowthConfig(architecture=arch, module_size=size, max_n=n)
            net = network_at_stage(cfg, n, torch.Generator().manual_seed(0))
            counts = count_parameters(
                net, lambda b, cls, name: lr_multiplier(cfg, net.n_blocks, b, cls) > 0)
            rows.append({"architecture": arch, "module_size": m, "neurons": net.n_neurons,
                         "n": n, **{f"total_{c}": v for c, v in counts["total"].items()},
                         "trainable_all": counts["trainable"]["all"]})
    return rows


# ----- curriculum runs ---------------------------------------------------------------------------

def mean_ci(values, z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width of a normal-approximation 95% interval (t-quantile for small n)."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return (values[0] if values else math.nan), math.nan
    t = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57}.get(len(values), z)
    return statistics.mean(values), t * statistics.stdev(values) / math.sqrt(len(values))


def run_summary(history: dict, steps_per_epoch: int = 500) -> dict:
    """One row per run: how far it got, how long it took, how many stages took one epoch."""
    cfg = history["config"]
    stages = history["stages"][1:]  # N = n_start trains the first module from scratch
    steps = [s["steps"] for s in stages]
    return {
        "architecture": cfg["architecture"], "module_size": cfg["module_size"],
        "seed": cfg["seed"], "status": history["status"],
        "max_n": history.get("max_n_reached"),
        "total_steps": sum(s["steps"] for s in history["stages"]),
        "wall_seconds": round(sum(s["seconds"] for s in history["stages"]), 1),
        "median_steps": statistics.median(steps) if steps else math.nan,
        "one_epoch_fraction": (sum(s <= steps_per_epoch for s in steps) / len(steps))
        if steps else math.nan,
        "end": end_reason(history),
    }


def end_reason(history: dict) -> str:
    """Why a run ended, in a few words (from its typed stop reason)."""
    stop = history.get("stop")
    if stop == "complete":
        return "reached max N"
    if stop == "total_budget":
        return "run budget spent"
    if stop == "stage_budget":
        return f"stage budget spent at N={history['stages'][-1]['n'] + 1 if history['stages'] else history['config']['n_start']}"
    return history["status"]


@torch.no_grad()
def head_accuracy_after_growth(net: RNN, cfg: GrowthConfig, n_batches: int = 20,
                               bit_prob: str | float = 0.5, seed: int = 1234) -> dict:
    """Accuracy of every head of a grown network on fresh batches with balanced bits, at the
    sequence lengths of the last stage: was anything forgotten?"""
    ns = head_ns(cfg, len(net.heads))
    g = torch.Generator().manual_seed(seed)
    acc = evaluate(net, ns, n_batches, 256, g, bit_prob, task=cfg.task)
    return {str(n): round(a, 5) for n, a in zip(ns, acc)}


@dataclass(frozen=True)
class AnswerRow:
    n: int
    label: int
    answer: int
    confidence: float


@torch.no_grad()
def answers(net: RNN, cfg: GrowthConfig, x: torch.Tensor, seed: int = 0) -> list[AnswerRow]:
    """The answer of every head of ``net`` to one sequence x [T] (0/1 bits)."""
    from .tasks import task_labels
    ns = head_ns(cfg, len(net.heads))
    xx = x.reshape(1, -1, 1).float()
    probs = torch.softmax(engine.logits(net, xx, torch.Generator().manual_seed(seed))[:, 0], -1)
    labels = task_labels(cfg.task, xx, ns)[0]
    return [AnswerRow(n, int(labels[i]), int(probs[i].argmax()), float(probs[i].max()))
            for i, n in enumerate(ns)]


@torch.no_grad()
def head_at_own_stage(net: RNN, cfg: GrowthConfig, n_heads: int | None = None,
                      n_batches: int = 20, bit_prob: str | float = "per_batch",
                      seed: int = 1234) -> dict[str, float]:
    """Accuracy of every head of a hard-frozen modular network at the sequence lengths of its own
    stage, with only the modules up to its own run: exactly what the head scored when its stage
    ended (modules below a head never change afterwards), measured on fresh batches.
    ``n_heads`` limits the heads (a stopped run's last head never solved its stage)."""
    if cfg.architecture != "modular" or cfg.gamma != 0:
        raise ValueError("own-stage accuracy is exact only for hard-frozen modular networks")
    ns = head_ns(cfg, n_heads or len(net.heads))
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, n in enumerate(ns):
        block = net.head_blocks[k]
        correct = 0.0
        for _ in range(n_batches):
            x, y = task_batch(cfg.task, ns[:k + 1], 256, generator=g, bit_prob=bit_prob)
            h0 = net.initial_state(x.shape[0], g)[:block + 1]
            finals = engine.run(net, x, h0, 0, block + 1).finals
            correct += float((net.readout(finals, [k])[0].argmax(-1) == y[:, k]).float().sum())
        out[str(n)] = round(correct / (256 * n_batches), 5)
    return out
