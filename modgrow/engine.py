"""The dynamics: the neuron update, written once, and the one scan that runs it.

For module d with state h_d (M_m neurons), input bit x(t) and the previous module's state h_{d-1}:

    h_d(t+1) = (1 - 1/tau_d) h_d(t)
               + phi( W_rec,d h_d(t) + W_ff,d h_{d-1}(t) + W_in,d x(t) + b_d ) / tau_d

phi is the leaky ReLU (slope ``LEAK_SLOPE``), tau is clamped to >= 1, the diagonal of W_rec is
masked (no self-connections) and b_d = b_in + b_rec + b_ff. The feed-forward term uses the
previous module's state at the previous step, so all modules advance together: the network is
one RNN with a block lower-bidiagonal recurrent matrix, and one batched product per time step
updates every module.

``run`` is the single entry point for training, evaluation, recording and perturbation: any block
range, optionally the per-step states of chosen blocks, optionally with replacement weights.
Three loops implement the update (one block; several blocks with autograd; several blocks
without autograd, in place): they differ in speed, not in arithmetic order per product, and the
tests check each against ``reference_final_states``, a deliberately naive per-module loop.

Reproduction policy: a stored run recomputed on the same platform (same torch version, CPU type
and thread count) matches bit for bit; on another platform float reductions differ in the last
bits, which can change a step count at the criterion's edge, so only statistics are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch.nn import functional as F

from .network import RNN

__all__ = ["LEAK_SLOPE", "Scan", "run", "final_states", "logits", "reference_final_states"]

LEAK_SLOPE = 0.01
_NAMES = ("w_rec", "w_ff", "b_in", "b_rec", "b_ff", "w_in", "tau")


@dataclass
class Scan:
    """What ``run`` returns for blocks lo..hi-1 over a sequence of T steps (B samples, M neurons
    per block, R recorded blocks)."""

    finals: torch.Tensor              # [hi-lo, B, M] states after the last step
    feed: torch.Tensor | None         # [T, B, M] block hi-1 before each step (drives block hi)
    states: torch.Tensor | None       # [T, R, B, M] recorded blocks after each step


def _param(net: RNN, weights: Mapping[str, torch.Tensor] | None, block: int, name: str):
    """Parameter ``name`` of ``block``, or its replacement from ``weights`` (state-dict names,
    e.g. ``"blocks.3.w_rec"``)."""
    key = f"blocks.{block}.{name}"
    if weights is not None and key in weights:
        return weights[key]
    return getattr(net.blocks[block], name)


def _stack(net: RNN, lo: int, hi: int, weights=None):
    """Stacked, masked parameters of blocks lo..hi-1 for the batched update."""
    m = net.module_size
    dev = net.blocks[lo].w_rec.device
    off_diag = 1 - torch.eye(m, device=dev)
    zeros_mm = torch.zeros(m, m, device=dev)
    zeros_m = torch.zeros(m, device=dev)
    p = {name: [_param(net, weights, i, name) for i in range(lo, hi)] for name in _NAMES}
    w_rec = torch.stack([w * off_diag for w in p["w_rec"]])  # [K, M, M]
    w_ff = torch.stack([w if w is not None else zeros_mm for w in p["w_ff"]])
    bias = torch.stack([a + b + (c if c is not None else zeros_m)
                        for a, b, c in zip(p["b_in"], p["b_rec"], p["b_ff"])])  # [K, M]
    w_in = torch.stack(p["w_in"])  # [K, M]
    tau = torch.stack(p["tau"]).clamp(min=1.0)  # [K, M]
    return w_rec, w_ff, bias, w_in, tau


def run(net: RNN, x: torch.Tensor, h0: torch.Tensor, lo: int = 0, hi: int | None = None, *,
        ff_in: torch.Tensor | None = None, keep_feed: bool = False, record: Sequence[int] = (),
        weights: Mapping[str, torch.Tensor] | None = None) -> Scan:
    """Run blocks lo..hi-1 of ``net`` over the whole sequence.

    x: [B, T, 1] input bits; h0: [hi-lo, B, M] initial states of these blocks; ff_in: [T, B, M]
    the states h_{lo-1}(t), t = 0..T-1, of the block feeding block lo (required when lo > 0,
    e.g. the ``feed`` of a run over the blocks below). ``keep_feed`` keeps the trajectory of block
    hi-1 before each step; ``record`` lists (absolute) blocks whose states after every step are
    returned; ``weights`` replaces parameters by name (``"blocks.K.w_rec"``...) without touching
    the network, e.g. for perturbations. Autograd flows when it is enabled.
    """
    hi = net.n_blocks if hi is None else hi
    if not 0 <= lo < hi <= net.n_blocks:
        raise ValueError(f"bad block range [{lo}, {hi}) for {net.n_blocks} blocks")
    if lo > 0 and ff_in is None:
        raise ValueError("ff_in is required when the scan does not start at block 0")
    bad = [b for b in record if not lo <= b < hi]
    if bad:
        raise ValueError(f"recorded blocks {bad} are outside the range [{lo}, {hi})")
    if weights is not None:
        unknown = sorted(set(weights) - set(dict(net.named_parameters())))
        if unknown:
            raise ValueError(f"replacement weights for unknown parameters: {unknown}")
    # blocks whose state before each step is kept: the recorded ones and, for the feed, the last
    keep = sorted({b - lo for b in record} | ({hi - 1 - lo} if keep_feed else set()))
    w_rec, w_ff, bias, w_in, tau = _stack(net, lo, hi, weights)
    decay, gain = 1 - 1 / tau, 1 / tau  # [K, M]
    if hi - lo == 1:
        finals, before = _scan_one(x, h0[0], w_rec[0], w_ff[0], bias[0], w_in[0], decay[0],
                                   gain[0], ff_in if lo > 0 else None, bool(keep))
    else:
        # states laid out [K, M, B] (batch last: [M, 2M+2] x [2M+2, B] products are several
        # times faster than [B, M] x [M, M] ones on a CPU). Per block [W_rec | W_ff | w_in | b]
        # multiplies [h_d; h_{d-1}; x(t); 1].
        w_cat = torch.cat([w_rec, w_ff, w_in[:, :, None], bias[:, :, None]], dim=2)
        xs = x[..., 0].t()  # [T, B]
        ff_t = ff_in.transpose(1, 2) if lo > 0 else None  # [T, M, B]
        loop = _loop_blocks if torch.is_grad_enabled() else _loop_blocks_inplace
        h, before = loop(xs, h0.transpose(1, 2), w_cat, decay[:, :, None], gain[:, :, None],
                         ff_t, keep)
        finals = h.transpose(1, 2)
        if before is not None:
            before = before.transpose(2, 3)  # [T, len(keep), B, M]
    feed = states = None
    if keep_feed:
        feed = before[:, keep.index(hi - 1 - lo)]
    if record:
        idx = [keep.index(b - lo) for b in record]
        rel = [b - lo for b in record]
        states = torch.cat([before[1:, idx], finals[rel][None]], dim=0)
    return Scan(finals, feed, states)


def _scan_one(x, h, w_rec, w_ff, bias, w_in, decay, gain, ff_in, keep):
    """One block, layout [B, M]: the whole external drive in one product, then the loop."""
    pre = x * w_in + bias  # [B, T, M]
    pre = pre.transpose(0, 1)  # [T, B, M]
    if ff_in is not None:
        pre = pre + torch.matmul(ff_in, w_ff.t())
    w = w_rec.t()
    traj = []
    for t in range(pre.shape[0]):
        if keep:
            traj.append(h)
        act = F.leaky_relu(torch.addmm(pre[t], h, w), LEAK_SLOPE)
        h = torch.addcmul(h * decay, act, gain)
    return h[None], (torch.stack(traj)[:, None] if keep else None)


def _loop_blocks(xs, h, w_cat, decay, gain, ff_t, keep):
    k, _, bsz = h.shape
    ones = torch.ones(1, 1, bsz, dtype=h.dtype, device=h.device).expand(k, 1, bsz)
    pad = torch.zeros_like(h[:1])
    traj = []
    for t in range(xs.shape[0]):
        if keep:
            traj.append(h[keep])
        below = torch.cat([ff_t[t][None] if ff_t is not None else pad, h[:-1]], dim=0)
        xt = xs[t][None, None].expand(k, 1, bsz)
        drive = torch.bmm(w_cat, torch.cat([h, below, xt, ones], dim=1))
        h = torch.addcmul(h * decay, F.leaky_relu(drive, LEAK_SLOPE), gain)
    return h, (torch.stack(traj) if keep else None)


def _loop_blocks_inplace(xs, h0, w_cat, decay, gain, ff_t, keep):
    k, m, bsz = h0.shape
    stacked = torch.zeros(k, 2 * m + 2, bsz, dtype=h0.dtype, device=h0.device)
    stacked[:, 2 * m + 1] = 1.0
    h = stacked[:, :m]  # a view: updating h in place updates the product's right side
    h.copy_(h0)
    stacked[1:, m:2 * m].copy_(h[:-1])
    drive = torch.empty(k, m, bsz, dtype=h0.dtype, device=h0.device)
    traj = []
    for t in range(xs.shape[0]):
        if keep:
            traj.append(h[keep])  # advanced indexing copies
        if ff_t is not None:
            stacked[0, m:2 * m].copy_(ff_t[t])
        stacked[:, 2 * m].copy_(xs[t].expand(k, bsz))
        torch.bmm(w_cat, stacked, out=drive)
        F.leaky_relu_(drive, LEAK_SLOPE)
        h.mul_(decay).addcmul_(drive, gain)
        stacked[1:, m:2 * m].copy_(h[:-1])
    return h.clone(), (torch.stack(traj) if keep else None)


def final_states(net: RNN, x: torch.Tensor, generator: torch.Generator | None = None,
                 weights: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Final states [n_blocks, B, M] of the whole network from a fresh initial state."""
    h0 = net.initial_state(x.shape[0], generator, x.device)
    return run(net, x, h0, weights=weights).finals


def logits(net: RNN, x: torch.Tensor, generator: torch.Generator | None = None,
           weights: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Logits [n_heads, B, 2] of every head at the end of the sequence x: [B, T, 1]."""
    return net.readout(final_states(net, x, generator, weights))


def reference_final_states(net: RNN, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Naive reference: loop over time, then over modules, one matrix-vector map per connection,
    exactly as the equation reads. Autograd flows through every module. Slow on purpose."""
    hs = [h0[d] for d in range(net.n_blocks)]
    m = net.module_size
    mask = 1 - torch.eye(m)
    for t in range(x.shape[1]):
        new = []
        for d, b in enumerate(net.blocks):
            drive = F.linear(hs[d], b.w_rec * mask, b.b_rec) + F.linear(x[:, t], b.w_in[:, None], b.b_in)
            if d > 0:
                drive = drive + F.linear(hs[d - 1], b.w_ff, b.b_ff)
            tau = b.tau.clamp(min=1.0)
            new.append((1 - 1 / tau) * hs[d] + F.leaky_relu(drive, LEAK_SLOPE) / tau)
        hs = new
    return torch.stack(hs)
