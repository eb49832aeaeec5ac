"""One leaky rate RNN for both architectures.

The neuron model (FACTS.md), for module d with state h_d (M_m neurons):

    h_d(t+1) = (1 - 1/tau_d) h_d(t)
               + phi( W_rec,d h_d(t) + W_ff,d h_{d-1}(t) + W_in,d x(t) + b_d ) / tau_d

with tau clamped to >= 1 inside the update, phi the leaky ReLU (slope 0.01), zero self-connections
(the diagonal of W_rec is masked in every forward pass, so it never receives a gradient), and the
initial state h(0) = 0.1 * U(0, 1) per neuron and sample, drawn afresh on every forward pass. Each
of W_rec, W_ff and W_in has its own bias, as in the authors' code (b_d above is their sum).

The feed-forward term uses the previous module's state at the previous step, so all modules advance
together: the network is one RNN whose recurrent matrix is block lower-bidiagonal. The *modular*
network has one block per module and one readout head per module; the *non-modular* network is the
case of a single block with every head reading it. Structure is data (how many blocks, which block
each head reads), not a second class.

``scan`` is the single implementation of the update used for training and evaluation;
``reference_final_states`` is a deliberately naive per-module, per-step implementation kept as an
independent check (tests) and as the slow baseline of the speed benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LEAK_SLOPE",
    "Block",
    "RNN",
    "CONNECTION_CLASSES",
    "reference_final_states",
]

LEAK_SLOPE = 0.01
H0_SCALE = 0.1
CONNECTION_CLASSES = ("input", "within", "between", "readout", "tau")


def _uniform(shape, bound: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


class Block(nn.Module):
    """Parameters of one module: input, within-module (recurrent), between-module (feed-forward)
    connections and per-neuron timescales. Initialised like ``nn.Linear`` (U(+-1/sqrt(fan_in)))
    with tau = 1 + U(0, 1)."""

    def __init__(self, size: int, has_ff: bool, generator: torch.Generator | None = None):
        super().__init__()
        if size < 1:
            raise ValueError(f"module size must be >= 1, got {size}")
        m, g = size, generator
        k = 1.0 / math.sqrt(m)
        self.size = m
        self.w_in = nn.Parameter(_uniform((m,), 1.0, g))
        self.b_in = nn.Parameter(_uniform((m,), 1.0, g))
        self.w_rec = nn.Parameter(_uniform((m, m), k, g))
        self.b_rec = nn.Parameter(_uniform((m,), k, g))
        if has_ff:
            self.w_ff = nn.Parameter(_uniform((m, m), k, g))
            self.b_ff = nn.Parameter(_uniform((m,), k, g))
        else:
            self.register_parameter("w_ff", None)
            self.register_parameter("b_ff", None)
        self.tau = nn.Parameter(1.0 + torch.rand(m, generator=g))

    @property
    def has_ff(self) -> bool:
        return self.w_ff is not None

    def classified(self):
        """(connection class, name, parameter) for every parameter of the block."""
        yield "input", "w_in", self.w_in
        yield "input", "b_in", self.b_in
        yield "within", "w_rec", self.w_rec
        yield "within", "b_rec", self.b_rec
        if self.has_ff:
            yield "between", "w_ff", self.w_ff
            yield "between", "b_ff", self.b_ff
        yield "tau", "tau", self.tau


def _effective_count(cls: str, name: str, p: torch.Tensor) -> int:
    """Number of free values: the masked diagonal of W_rec is not a parameter."""
    if name == "w_rec":
        m = p.shape[0]
        return m * m - m
    return p.numel()


@dataclass(frozen=True)
class Structure:
    """What is needed to rebuild an RNN before loading its state dict."""

    module_size: int
    n_blocks: int
    head_blocks: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"module_size": self.module_size, "n_blocks": self.n_blocks,
                "head_blocks": list(self.head_blocks)}

    @classmethod
    def from_dict(cls, d: dict) -> "Structure":
        return cls(int(d["module_size"]), int(d["n_blocks"]), tuple(int(b) for b in d["head_blocks"]))


class RNN(nn.Module):
    """Blocks of leaky rate neurons chained feed-forward, with linear 2-way readout heads."""

    def __init__(self, module_size: int, generator: torch.Generator | None = None):
        super().__init__()
        self.module_size = module_size
        self.blocks = nn.ModuleList([Block(module_size, has_ff=False, generator=generator)])
        self.heads = nn.ModuleList()
        self.head_blocks: list[int] = []

    # ----- structure -------------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def n_neurons(self) -> int:
        return self.n_blocks * self.module_size

    def structure(self) -> Structure:
        return Structure(self.module_size, self.n_blocks, tuple(self.head_blocks))

    @classmethod
    def from_structure(cls, s: Structure) -> "RNN":
        net = cls(s.module_size)
        for _ in range(s.n_blocks - 1):
            net.blocks.append(Block(s.module_size, has_ff=True))
        for b in s.head_blocks:
            net.add_head(b)
        return net

    def add_head(self, block: int, generator: torch.Generator | None = None) -> int:
        """Add a linear 2-way readout of ``block``'s final state; returns the head index."""
        if not 0 <= block < self.n_blocks:
            raise ValueError(f"block {block} does not exist (network has {self.n_blocks})")
        m = self.module_size
        head = nn.Linear(m, 2)
        k = 1.0 / math.sqrt(m)
        with torch.no_grad():
            head.weight.copy_(_uniform((2, m), k, generator))
            head.bias.copy_(_uniform((2,), k, generator))
        self.heads.append(head)
        self.head_blocks.append(block)
        return len(self.heads) - 1

    def add_block(self, *, duplicate: bool = False, noise: float = 0.0,
                  generator: torch.Generator | None = None) -> int:
        """Grow by one module fed by the last one. With ``duplicate`` its parameters are copied
        from the (trained) last module with multiplicative noise w * (1 + noise * xi), xi ~ N(0,1);
        the first feed-forward block has nothing to copy its W_ff from and starts random."""
        if noise < 0:
            raise ValueError(f"duplication noise must be >= 0, got {noise}")
        new = Block(self.module_size, has_ff=True, generator=generator)
        if duplicate:
            src = self.blocks[-1]
            with torch.no_grad():
                for name in ("w_in", "b_in", "w_rec", "b_rec", "tau", "w_ff", "b_ff"):
                    s = getattr(src, name)
                    if s is None:
                        continue
                    xi = torch.randn(s.shape, generator=generator)
                    getattr(new, name).copy_(s * (1 + noise * xi))
        self.blocks.append(new)
        return self.n_blocks - 1

    # ----- parameters by connection class ------------------------------------------------------
    def classified_parameters(self):
        """(block index, connection class, name, parameter); heads carry the block they read."""
        for i, b in enumerate(self.blocks):
            for cls, name, p in b.classified():
                yield i, cls, name, p
        for h, b in zip(self.heads, self.head_blocks):
            yield b, "readout", "weight", h.weight
            yield b, "readout", "bias", h.bias

    # ----- dynamics ----------------------------------------------------------------------------
    def _stack(self, lo: int, hi: int):
        """Stacked, masked parameters of blocks lo..hi-1 for the batched update."""
        blocks = self.blocks[lo:hi]
        m = self.module_size
        dev = blocks[0].w_rec.device
        off_diag = 1 - torch.eye(m, device=dev)
        zeros_mm = torch.zeros(m, m, device=dev)
        zeros_m = torch.zeros(m, device=dev)
        w_rec = torch.stack([b.w_rec * off_diag for b in blocks])  # [K, M, M]
        w_ff = torch.stack([b.w_ff if b.has_ff else zeros_mm for b in blocks])
        bias = torch.stack([b.b_in + b.b_rec + (b.b_ff if b.has_ff else zeros_m) for b in blocks])
        w_in = torch.stack([b.w_in for b in blocks])
        tau = torch.stack([b.tau for b in blocks]).clamp(min=1.0)
        return w_rec, w_ff, bias, w_in, tau

    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      device=None) -> torch.Tensor:
        """h(0) = 0.1 * U(0,1), shape [n_blocks, batch, M]."""
        h0 = H0_SCALE * torch.rand(self.n_blocks, batch, self.module_size, generator=generator)
        return h0.to(device) if device is not None else h0

    def scan(self, x: torch.Tensor, h0: torch.Tensor, lo: int = 0, hi: int | None = None,
             ff_in: torch.Tensor | None = None, keep_last: bool = False):
        """Run blocks lo..hi-1 over the whole sequence, all blocks in one batched update per step.

        x: [B, T, 1]; h0: [hi-lo, B, M] initial states of these blocks; ff_in: [T, B, M] the
        states h_{lo-1}(t), t = 0..T-1, of the block feeding block lo (required when lo > 0).
        Returns the final states [hi-lo, B, M] and, with ``keep_last``, the trajectory
        [T, B, M] of block hi-1 before each update (what feeds block hi).

        Three loops implement the same update: one block (its external drive precomputed for all
        steps), several blocks with autograd, and several blocks without autograd (in place, no
        allocation per step). Tests check each against ``reference_final_states``.
        """
        hi = self.n_blocks if hi is None else hi
        if not 0 <= lo < hi <= self.n_blocks:
            raise ValueError(f"bad block range [{lo}, {hi}) for {self.n_blocks} blocks")
        if lo > 0 and ff_in is None:
            raise ValueError("ff_in is required when the scan does not start at block 0")
        w_rec, w_ff, bias, w_in, tau = self._stack(lo, hi)
        decay, gain = 1 - 1 / tau, 1 / tau  # [K, M]
        if hi - lo == 1:
            return self._scan_one(x, h0[0], w_rec[0], w_ff[0], bias[0], w_in[0], decay[0],
                                  gain[0], ff_in if lo > 0 else None, keep_last)
        # several blocks, states laid out [K, M, B] (batch last: [M, 2M+2] x [2M+2, B] products
        # are several times faster than [B, M] x [M, M] ones on a CPU). Per block
        # [W_rec | W_ff | w_in | b] multiplies [h_d; h_{d-1}; x(t); 1].
        w_cat = torch.cat([w_rec, w_ff, w_in[:, :, None], bias[:, :, None]], dim=2)
        decay, gain = decay[:, :, None], gain[:, :, None]
        xs = x[..., 0].t()  # [T, B]
        ff_t = ff_in.transpose(1, 2) if lo > 0 else None  # [T, M, B]
        loop = self._loop_blocks if torch.is_grad_enabled() else self._loop_blocks_inplace
        h, traj = loop(xs, h0.transpose(1, 2), w_cat, decay, gain, ff_t, keep_last)
        finals = h.transpose(1, 2)
        return (finals, torch.stack(traj).transpose(1, 2)) if keep_last else (finals, None)

    @staticmethod
    def _scan_one(x, h, w_rec, w_ff, bias, w_in, decay, gain, ff_in, keep_last):
        """One block, layout [B, M]: the whole external drive in one product, then the loop."""
        pre = x * w_in + bias  # [B, T, M]
        pre = pre.transpose(0, 1)  # [T, B, M]
        if ff_in is not None:
            pre = pre + torch.matmul(ff_in, w_ff.t())
        w = w_rec.t()
        traj = []
        for t in range(pre.shape[0]):
            if keep_last:
                traj.append(h)
            act = F.leaky_relu(torch.addmm(pre[t], h, w), LEAK_SLOPE)
            h = torch.addcmul(h * decay, act, gain)
        return (h[None], torch.stack(traj)) if keep_last else (h[None], None)

    @staticmethod
    def _loop_blocks(xs, h, w_cat, decay, gain, ff_t, keep_last):
        k, _, bsz = h.shape
        ones = torch.ones(1, 1, bsz, dtype=h.dtype, device=h.device).expand(k, 1, bsz)
        pad = torch.zeros_like(h[:1])
        traj = []
        for t in range(xs.shape[0]):
            if keep_last:
                traj.append(h[-1])
            below = torch.cat([ff_t[t][None] if ff_t is not None else pad, h[:-1]], dim=0)
            xt = xs[t][None, None].expand(k, 1, bsz)
            drive = torch.bmm(w_cat, torch.cat([h, below, xt, ones], dim=1))
            h = torch.addcmul(h * decay, F.leaky_relu(drive, LEAK_SLOPE), gain)
        return h, traj

    @staticmethod
    def _loop_blocks_inplace(xs, h0, w_cat, decay, gain, ff_t, keep_last):
        k, m, bsz = h0.shape
        stacked = torch.zeros(k, 2 * m + 2, bsz, dtype=h0.dtype, device=h0.device)
        stacked[:, 2 * m + 1] = 1.0
        h = stacked[:, :m]  # a view: updating h in place updates the product's right side
        h.copy_(h0)
        stacked[1:, m:2 * m].copy_(h[:-1])
        drive = torch.empty(k, m, bsz, dtype=h0.dtype, device=h0.device)
        traj = []
        for t in range(xs.shape[0]):
            if keep_last:
                traj.append(h[-1].clone())
            if ff_t is not None:
                stacked[0, m:2 * m].copy_(ff_t[t])
            stacked[:, 2 * m].copy_(xs[t].expand(k, bsz))
            torch.bmm(w_cat, stacked, out=drive)
            F.leaky_relu_(drive, LEAK_SLOPE)
            h.mul_(decay).addcmul_(drive, gain)
            stacked[1:, m:2 * m].copy_(h[:-1])
        return h.clone(), traj

    def final_states(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Final states [n_blocks, B, M] of the whole network (autograd through everything)."""
        h0 = self.initial_state(x.shape[0], generator, x.device)
        return self.scan(x, h0)[0]

    def readout(self, finals: torch.Tensor, heads=None, offset: int = 0) -> torch.Tensor:
        """Logits [len(heads), B, 2] of the given heads from final states of blocks offset.."""
        heads = range(len(self.heads)) if heads is None else heads
        return torch.stack([self.heads[i](finals[self.head_blocks[i] - offset]) for i in heads])

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits [n_heads, B, 2] of every head."""
        return self.readout(self.final_states(x, generator))


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


def count_parameters(net: RNN, trainable=None) -> dict:
    """Parameter counts by connection class: {"total": {class: n}, "trainable": {class: n}}.

    ``trainable(block, cls, name) -> bool`` says which parameters train (default: all). The
    masked diagonal of W_rec is not counted.
    """
    total = {c: 0 for c in CONNECTION_CLASSES}
    train = {c: 0 for c in CONNECTION_CLASSES}
    for block, cls, name, p in net.classified_parameters():
        n = _effective_count(cls, name, p)
        total[cls] += n
        if trainable is None or trainable(block, cls, name):
            train[cls] += n
    total["all"] = sum(total[c] for c in CONNECTION_CLASSES)
    train["all"] = sum(train[c] for c in CONNECTION_CLASSES)
    return {"total": total, "trainable": train}
