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

Two further paths serve long runs at large N (both opt-in, see ``GrowthConfig.prefix_pool`` and
``GrowthConfig.manual_bptt``); they agree with the paths above up to float rounding, not bit for
bit:

* ``pool_tasks``: several batches of a frozen prefix at once, without autograd, in one fused
  product per step (the gain 1/tau > 0 is folded into the weights, since
  phi(g z) = g phi(z) for g > 0, and the block below is read through an overlapping view instead of
  being copied). Batches of different lengths share a scan right-aligned (each batch's initial
  state is written in at its first step), and only the states that the requested output needs are
  computed: for the feed of block hi, block d is not advanced during the last hi - 1 - d steps.
* ``manual_bptt=True`` in ``run``: one trainable block, with the same forward arithmetic and a
  hand-written backward pass through time (three operations per step instead of autograd's graph).

Reproduction policy: a stored run recomputed on the same platform (same torch version, CPU type
and thread count) matches bit for bit; on another platform float reductions differ in the last
bits, which can change a step count at the criterion's edge, so only statistics are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import torch
from torch.nn import functional as F

from .network import RNN

__all__ = ["LEAK_SLOPE", "Scan", "Stacked", "run", "stack_parameters", "final_states", "logits",
           "reference_final_states", "fused_weights", "pool_tasks", "pool_feeds", "pool_finals",
           "POOL_CHUNK"]

LEAK_SLOPE = 0.01
_NAMES = ("w_rec", "w_ff", "b_in", "b_rec", "b_ff", "w_in", "tau")


@dataclass
class Scan:
    """What ``run`` returns for blocks lo..hi-1 over a sequence of T steps (B samples, M neurons
    per block, R recorded blocks)."""

    finals: torch.Tensor              # [hi-lo, B, M] states after the last step
    feed: torch.Tensor | None         # [T, B, M] block hi-1 before each step (drives block hi)
    states: torch.Tensor | None       # [T, R, B, M] recorded blocks after each step


class Stacked(NamedTuple):
    """Stacked, masked parameters of K consecutive blocks for the batched update."""

    w_rec: torch.Tensor  # [K, M, M], diagonal masked
    w_ff: torch.Tensor   # [K, M, M], zero where a block has no feed-forward input
    bias: torch.Tensor   # [K, M], b_in + b_rec + b_ff
    w_in: torch.Tensor   # [K, M]
    tau: torch.Tensor    # [K, M], clamped to >= 1


def _check_weights(net: RNN, weights: Mapping[str, torch.Tensor]) -> None:
    """Replacement weights must name parameters of ``net`` (state-dict names)."""
    unknown = []
    for key in weights:
        part = key.split(".")
        if (len(part) == 3 and part[0] == "blocks" and part[1].isdigit()
                and int(part[1]) < net.n_blocks and part[2] in _NAMES):
            if getattr(net.blocks[int(part[1])], part[2]) is not None:
                continue
        unknown.append(key)
    if unknown:  # not a block parameter: the slow path decides (e.g. head weights)
        names = set(dict(net.named_parameters()))
        unknown = sorted(k for k in unknown if k not in names)
    if unknown:
        raise ValueError(f"replacement weights for unknown parameters: {unknown}")


def stack_parameters(net: RNN, lo: int = 0, hi: int | None = None,
                     weights: Mapping[str, torch.Tensor] | None = None) -> Stacked:
    """Stacked parameters of blocks lo..hi-1, each replaced by ``weights[name]`` where given
    (state-dict names, e.g. ``"blocks.3.w_rec"``). ``run`` computes this itself; a caller that
    scans the same blocks in several pieces (the perturbation analysis) passes it once instead."""
    hi = net.n_blocks if hi is None else hi
    if not 0 <= lo < hi <= net.n_blocks:
        raise ValueError(f"bad block range [{lo}, {hi}) for {net.n_blocks} blocks")
    if weights:
        _check_weights(net, weights)
    m = net.module_size
    blocks = list(net.blocks)[lo:hi]
    dev = blocks[0].w_rec.device
    off_diag = 1 - torch.eye(m, device=dev)
    zeros_mm = torch.zeros(m, m, device=dev)
    zeros_m = torch.zeros(m, device=dev)
    p = {name: [getattr(b, name) for b in blocks] for name in _NAMES}
    if weights:
        for key, w in weights.items():
            part = key.split(".")
            if part[0] == "blocks" and lo <= int(part[1]) < hi and part[2] in p:
                p[part[2]][int(part[1]) - lo] = w
    w_rec = torch.stack([w * off_diag for w in p["w_rec"]])  # [K, M, M]
    w_ff = torch.stack([w if w is not None else zeros_mm for w in p["w_ff"]])
    bias = torch.stack([a + b + (c if c is not None else zeros_m)
                        for a, b, c in zip(p["b_in"], p["b_rec"], p["b_ff"])])  # [K, M]
    w_in = torch.stack(p["w_in"])  # [K, M]
    tau = torch.stack(p["tau"]).clamp(min=1.0)  # [K, M]
    return Stacked(w_rec, w_ff, bias, w_in, tau)


def run(net: RNN, x: torch.Tensor, h0: torch.Tensor, lo: int = 0, hi: int | None = None, *,
        ff_in: torch.Tensor | None = None, keep_feed: bool = False, record: Sequence[int] = (),
        weights: Mapping[str, torch.Tensor] | None = None, stacked: Stacked | None = None,
        manual_bptt: bool = False) -> Scan:
    """Run blocks lo..hi-1 of ``net`` over the whole sequence.

    x: [B, T, 1] input bits; h0: [hi-lo, B, M] initial states of these blocks; ff_in: [T, B, M]
    the states h_{lo-1}(t), t = 0..T-1, of the block feeding block lo (required when lo > 0,
    e.g. the ``feed`` of a run over the blocks below). ``keep_feed`` keeps the trajectory of block
    hi-1 before each step; ``record`` lists (absolute) blocks whose states after every step are
    returned; ``weights`` replaces parameters by name (``"blocks.K.w_rec"``...) without touching
    the network, e.g. for perturbations; ``stacked`` (``stack_parameters(net, lo, hi, weights)``,
    instead of ``weights``) skips stacking them again. Autograd flows when it is enabled.
    ``manual_bptt``: a one-block run with autograd enabled and nothing kept backpropagates
    through time by a hand-written loop (``_ScanOne``; same forward, gradients equal up to float
    rounding).
    """
    hi = net.n_blocks if hi is None else hi
    if not 0 <= lo < hi <= net.n_blocks:
        raise ValueError(f"bad block range [{lo}, {hi}) for {net.n_blocks} blocks")
    if lo > 0 and ff_in is None:
        raise ValueError("ff_in is required when the scan does not start at block 0")
    bad = [b for b in record if not lo <= b < hi]
    if bad:
        raise ValueError(f"recorded blocks {bad} are outside the range [{lo}, {hi})")
    if stacked is None:
        stacked = stack_parameters(net, lo, hi, weights)
    elif weights is not None:
        raise ValueError("pass replacement weights or stacked parameters, not both")
    elif stacked.w_rec.shape[0] != hi - lo:
        raise ValueError(f"stacked parameters of {stacked.w_rec.shape[0]} blocks for the block "
                         f"range [{lo}, {hi})")
    # blocks whose state before each step is kept: the recorded ones and, for the feed, the last
    keep = sorted({b - lo for b in record} | ({hi - 1 - lo} if keep_feed else set()))
    w_rec, w_ff, bias, w_in, tau = stacked
    decay, gain = 1 - 1 / tau, 1 / tau  # [K, M]
    if hi - lo == 1:
        finals, before = _scan_one(x, h0[0], w_rec[0], w_ff[0], bias[0], w_in[0], decay[0],
                                   gain[0], ff_in if lo > 0 else None, bool(keep),
                                   manual_bptt and torch.is_grad_enabled())
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
    where = {b: i for i, b in enumerate(keep)}  # block (relative) -> its row in ``before``
    if keep_feed:
        feed = before[:, where[hi - 1 - lo]]
    if record:
        idx = [where[b - lo] for b in record]
        rel = [b - lo for b in record]
        states = torch.cat([before[1:, idx], finals[rel][None]], dim=0)
    return Scan(finals, feed, states)


def _scan_one(x, h, w_rec, w_ff, bias, w_in, decay, gain, ff_in, keep, manual=False):
    """One block, layout [B, M]: the whole external drive in one product, then the loop."""
    pre = x * w_in + bias  # [B, T, M]
    pre = pre.transpose(0, 1)  # [T, B, M]
    if ff_in is not None:
        pre = pre + torch.matmul(ff_in, w_ff.t())
    w = w_rec.t()
    if manual and not keep:
        return _ScanOne.apply(pre, h, w, decay, gain)[None], None
    traj = []
    # unbind, not pre[t]: indexing's backward would allocate and add a zero [T, B, M] tensor
    # per step (quadratic in T); unbind's stacks the step gradients once (the same values)
    for pre_t in pre.unbind(0):  # [B, M] each
        if keep:
            traj.append(h)
        act = F.leaky_relu(torch.addmm(pre_t, h, w), LEAK_SLOPE)
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
    rows = torch.tensor(keep, dtype=torch.long, device=h0.device)  # a list would be converted
    traj = []                                                     # at every step
    for t in range(xs.shape[0]):
        if keep:
            traj.append(h.index_select(0, rows))  # a copy
        if ff_t is not None:
            stacked[0, m:2 * m].copy_(ff_t[t])
        stacked[:, 2 * m].copy_(xs[t].expand(k, bsz))
        torch.bmm(w_cat, stacked, out=drive)
        F.leaky_relu_(drive, LEAK_SLOPE)
        h.mul_(decay).addcmul_(drive, gain)
        stacked[1:, m:2 * m].copy_(h[:-1])
    return h.clone(), (torch.stack(traj) if keep else None)


class _ScanOne(torch.autograd.Function):
    """The one-block loop of ``_scan_one`` (same operations, so the same forward values bit for
    bit) with a hand-written backward pass through time.

    Forward: z_t = pre_t + h_t w, a_t = phi(z_t), h_{t+1} = decay h_t + gain a_t. Backward, with
    g_{t+1} = dL/dh_{t+1}: dz_t = g_{t+1} gain phi'(z_t) and g_t = decay g_{t+1} + dz_t w^T, three
    operations per step; the parameter gradients are then sums over all steps at once:
    dL/dw = sum_t h_t^T dz_t, dL/ddecay = sum g_{t+1} h_t, dL/dgain = sum g_{t+1} a_t,
    dL/dpre_t = dz_t."""

    @staticmethod
    def forward(ctx, pre, h, w, decay, gain):
        hs, acts = [], []
        for t in range(pre.shape[0]):
            hs.append(h)
            act = F.leaky_relu(torch.addmm(pre[t], h, w), LEAK_SLOPE)
            acts.append(act)
            h = torch.addcmul(h * decay, act, gain)
        ctx.save_for_backward(w, decay, gain, torch.stack(hs), torch.stack(acts))
        return h

    @staticmethod
    def backward(ctx, grad):
        w, decay, gain, hs, acts = ctx.saved_tensors
        steps, m = hs.shape[0], hs.shape[-1]
        # dz_t = g_{t+1} * gain * phi'(z_t); a_t > 0 exactly where z_t > 0
        slope = torch.where(acts > 0, gain, gain * LEAK_SLOPE)  # [T, B, M]
        g = torch.empty_like(hs)  # g[t] = dL/dh_{t+1}
        dz = torch.empty_like(hs)
        g[steps - 1] = grad
        wt = w.t()
        dh = None
        for t in range(steps - 1, -1, -1):
            torch.mul(g[t], slope[t], out=dz[t])
            if t > 0:
                torch.addmm(g[t] * decay, dz[t], wt, out=g[t - 1])
            elif ctx.needs_input_grad[1]:
                dh = torch.addmm(g[0] * decay, dz[0], wt)
        dw = hs.reshape(-1, m).t() @ dz.reshape(-1, m) if ctx.needs_input_grad[2] else None
        ddecay = (g * hs).sum((0, 1)) if ctx.needs_input_grad[3] else None
        dgain = (g * acts).sum((0, 1)) if ctx.needs_input_grad[4] else None
        return dz, dh, dw, ddecay, dgain


# ----- pooled scans without autograd -----------------------------------------------------------

# Columns (samples) per pooled scan on the CPU: with about 200 modules of 10 neurons a scan's state
# then stays near a core's L2 cache; wider scans are slower per sample on the CPU (measured in
# ``bench_large``). ``None`` scans all columns of a pool at once (the choice for a GPU).
POOL_CHUNK = 128


def fused_weights(net: RNN, hi: int | None = None, weights=None):
    """The parameters of blocks 0..hi-1 laid out for ``pool_tasks``: per block
    gain * [W_ff | w_in | b | W_rec] ([K, M, 2M+2]; gain = 1/tau) and decay = 1 - 1/tau
    ([K, M, 1]). Built once per network state and shared by every task (read only)."""
    hi = net.n_blocks if hi is None else hi
    with torch.no_grad():
        w_rec, w_ff, bias, w_in, tau = stack_parameters(net, 0, hi, weights)
        gain = 1 / tau
        decay = 1 - gain
        w = torch.cat([w_ff, w_in[:, :, None], bias[:, :, None], w_rec], dim=2)
        return (w * gain[:, :, None]).contiguous(), decay[:, :, None].contiguous()


def _fused_scan(w, decay, pieces, feed: bool):
    """One no-grad scan of blocks 0..K-1 over ``pieces`` [(x [b, T_i] bits, h0 [K, M, b])] laid
    side by side and right-aligned to the longest T; per piece, its feed [T_i, b, M] (the last
    block before each of its steps) or its finals [K, b, M].

    Layout: ``hs`` [K+1, M+2, B] holds in hs[j] the rows [h_{j-1}; x(t); 1] (hs[0]: the zero
    block below block 0), so block k's right-hand side [h_{k-1}; x; 1; h_k] is a window of 2M+2
    rows starting at hs[k], contiguous in memory; the windows of neighbouring blocks overlap, and
    one bmm over that strided view drives every block, with no copy of the block below.
    """
    k, m, width = w.shape
    lengths = [x.shape[1] for x, _ in pieces]
    steps = max(lengths)
    cols = sum(x.shape[0] for x, _ in pieces)
    kw = dict(dtype=w.dtype, device=w.device)
    hs = torch.zeros(k + 1, m + 2, cols, **kw)
    hs[:, m + 1] = 1.0
    window = hs.as_strided((k, width, cols), ((m + 2) * cols, cols, 1))
    h = hs[1:, :m]
    drive = torch.empty(k, m, cols, **kw)
    xs = torch.zeros(steps, cols, **kw)
    starts: dict[int, list] = {}
    spans = []
    c = 0
    for (x, h0), length in zip(pieces, lengths):
        b = x.shape[0]
        xs[steps - length:, c:c + b] = x.t()
        starts.setdefault(steps - length, []).append((c, c + b, h0))
        spans.append((c, c + b, steps - length))
        c += b
    out = torch.empty(steps, m, cols, **kw) if feed else None
    for t in range(steps):
        for c0, c1, h0 in starts.get(t, ()):
            h[:, :, c0:c1] = h0
        lo = 0
        if feed:
            out[t] = hs[k, :m]
            # the feed at steps > t needs block d at step t only if d >= t + k + 1 - steps
            lo = max(0, t + k + 1 - steps)
            if lo >= k:
                break
        hs[lo:k, m] = xs[t]
        torch.bmm(w[lo:], window[lo:], out=drive[lo:])
        F.leaky_relu_(drive[lo:], LEAK_SLOPE)
        torch.addcmul(drive[lo:], h[lo:], decay[lo:], out=h[lo:])
    if feed:
        return [out[s:, :, c0:c1].permute(0, 2, 1).contiguous() for c0, c1, s in spans]
    return [h[:, :, c0:c1].transpose(1, 2).contiguous() for c0, c1, _ in spans]


def pool_tasks(fused, xs: Sequence[torch.Tensor], h0s: Sequence[torch.Tensor], *,
               feed: bool, chunk: int | None = POOL_CHUNK):
    """Split the no-grad scan of several batches into independent tasks.

    fused: ``fused_weights(net, hi)`` for blocks 0..hi-1; xs: batches [B_i, T_i, 1] (lengths may
    differ); h0s: their initial states [>= hi, B_i, M] (blocks 0..hi-1 are used). Each batch's
    samples are cut into scans of at most ``chunk`` columns; ``None`` lays every batch side by side
    in one scan, right-aligned, the shorter ones padded at the start. Returns ``(tasks, assemble)``:
    ``tasks`` are zero-argument callables, independent of each other and safe to run on other
    threads (each works on its own buffers); ``assemble(results)``, with the tasks' results in
    order, gives per batch its feed [T_i, B_i, M] (block hi-1 before each step, what
    ``run(..., keep_feed=True).feed`` gives) when ``feed``, else its final states [hi, B_i, M].
    With a ``chunk`` every batch is cut on its own (scans never mix batches), so a batch's numbers
    do not depend on the rest of the pool.
    """
    w, decay = fused
    hi = w.shape[0]
    if len(xs) != len(h0s):
        raise ValueError(f"{len(xs)} batches but {len(h0s)} initial states")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be >= 1 or None, got {chunk}")
    groups = []  # per scan: [(batch, x [b, T] bits, h0 [hi, M, b])]
    for i, (x, h0) in enumerate(zip(xs, h0s)):
        if h0.shape[0] < hi or h0.shape[1] != x.shape[0]:
            raise ValueError(f"batch {i}: initial state {tuple(h0.shape)} does not fit "
                             f"{hi} blocks and {x.shape[0]} samples")
        bits = x[..., 0]
        state = h0[:hi].transpose(1, 2)
        if chunk is None:
            groups.append((i, bits, state))
        else:
            groups += [[(i, bits[c:c + chunk], state[:, :, c:c + chunk])]
                       for c in range(0, x.shape[0], chunk)]
    if chunk is None:
        groups = [groups]

    def task(group):
        return lambda: _fused_scan(w, decay, [(x, h0) for _, x, h0 in group], feed)

    def assemble(results):
        per_batch: list[list] = [[] for _ in xs]
        for group, res in zip(groups, results):
            for (i, _, _), r in zip(group, res):
                per_batch[i].append(r)
        return [parts[0] if len(parts) == 1 else torch.cat(parts, dim=1) for parts in per_batch]

    return [task(g) for g in groups], assemble


def pool_feeds(net: RNN, xs, h0s, hi: int, chunk: int | None = POOL_CHUNK) -> list[torch.Tensor]:
    """Feeds [T_i, B_i, M] of block hi-1 for several batches (``pool_tasks`` run in turn)."""
    with torch.no_grad():
        tasks, assemble = pool_tasks(fused_weights(net, hi), xs, h0s, feed=True, chunk=chunk)
        return assemble([t() for t in tasks])


def pool_finals(net: RNN, xs, h0s, chunk: int | None = POOL_CHUNK) -> list[torch.Tensor]:
    """Final states [n_blocks, B_i, M] of the whole network for several batches."""
    with torch.no_grad():
        tasks, assemble = pool_tasks(fused_weights(net), xs, h0s, feed=False, chunk=chunk)
        return assemble([t() for t in tasks])


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
