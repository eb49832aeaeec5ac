"""The parameters and structure of one leaky rate RNN for both architectures.

The neuron model (FACTS.md) is written once, in ``modgrow.engine``; for module d with state h_d
(M_m neurons):

    h_d(t+1) = (1 - 1/tau_d) h_d(t)
               + phi( W_rec,d h_d(t) + W_ff,d h_{d-1}(t) + W_in,d x(t) + b_d ) / tau_d

with tau clamped to >= 1 inside the update, phi the leaky ReLU (slope 0.01), zero self-connections
(the diagonal of W_rec is masked in every forward pass, so it never receives a gradient), and the
initial state h(0) = 0.1 * U(0, 1) per neuron and sample, drawn afresh on every forward pass. Each
of W_rec, W_ff and W_in has its own bias, as in the authors' code (b_d above is their sum).

The *modular* network has one block per module and one readout head per module; the
*non-modular* network is the case of a single block with every head reading it. Structure is data
(how many blocks, which block each head reads), not a second class. This module holds the
parameters, the growth operations and parameter counts; ``engine`` runs the dynamics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "Block",
    "RNN",
    "CONNECTION_CLASSES",
    "Structure",
    "count_parameters",
    "new_head",
    "nonmodular_parameter_count",
    "largest_size",
]

H0_SCALE = 0.1
CONNECTION_CLASSES = ("input", "within", "between", "readout", "tau")
# parameters a new module copies from its source, in the order their noise is drawn
DUPLICATED = ("w_in", "b_in", "w_rec", "b_rec", "tau", "w_ff", "b_ff")


def _uniform(shape, bound: float, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def new_head(width: int, generator: torch.Generator | None = None, *,
             source: nn.Linear | None = None, noise: float = 0.0) -> nn.Linear:
    """A linear 2-way readout of ``width`` units, initialised like ``nn.Linear``
    (U(+-1/sqrt(width))) from ``generator`` or, with ``source``, as a copy of that head with
    multiplicative noise w * (1 + noise * xi), xi ~ N(0, 1)."""
    head = nn.Linear(width, 2)
    k = 1.0 / math.sqrt(width)
    with torch.no_grad():
        head.weight.copy_(_uniform((2, width), k, generator))
        head.bias.copy_(_uniform((2,), k, generator))
        if source is not None:
            for name in ("weight", "bias"):
                s = getattr(source, name)
                xi = torch.randn(s.shape, generator=generator)
                getattr(head, name).copy_(s * (1 + noise * xi))
    return head


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

    def add_head(self, block: int, generator: torch.Generator | None = None, *,
                 source: int | None = None, noise: float = 0.0) -> int:
        """Add a linear 2-way readout of ``block``'s final state; returns the head index. With
        ``source`` the new head copies head ``source`` with multiplicative noise
        w * (1 + noise * xi) instead of its random initialisation."""
        if not 0 <= block < self.n_blocks:
            raise ValueError(f"block {block} does not exist (network has {self.n_blocks})")
        src = self.heads[source] if source is not None else None
        self.heads.append(new_head(self.module_size, generator, source=src, noise=noise))
        self.head_blocks.append(block)
        return len(self.heads) - 1

    def add_block(self, *, source: dict[str, torch.Tensor] | None = None, noise: float = 0.0,
                  generator: torch.Generator | None = None) -> int:
        """Grow by one module fed by the last one, initialised at random or, with ``source``
        (parameter name -> tensor, e.g. ``block_parameters(-1)``), as a copy of those
        parameters with multiplicative noise w * (1 + noise * xi), xi ~ N(0,1). A source without
        W_ff (the first module) leaves the new W_ff random."""
        if noise < 0:
            raise ValueError(f"duplication noise must be >= 0, got {noise}")
        new = Block(self.module_size, has_ff=True, generator=generator)
        if source is not None:
            with torch.no_grad():
                for name in DUPLICATED:
                    s = source.get(name)
                    if s is None:
                        continue
                    xi = torch.randn(s.shape, generator=generator)
                    getattr(new, name).copy_(s * (1 + noise * xi))
        self.blocks.append(new)
        return self.n_blocks - 1

    def block_parameters(self, block: int) -> dict[str, torch.Tensor]:
        """Detached copies of one block's parameters by name (a duplication source)."""
        b = self.blocks[block]
        return {name: getattr(b, name).detach().clone() for name in DUPLICATED
                if getattr(b, name) is not None}

    # ----- parameters by connection class ------------------------------------------------------
    def classified_parameters(self):
        """(block index, connection class, name, parameter); heads carry the block they read."""
        for i, b in enumerate(self.blocks):
            for cls, name, p in b.classified():
                yield i, cls, name, p
        for h, b in zip(self.heads, self.head_blocks):
            yield b, "readout", "weight", h.weight
            yield b, "readout", "bias", h.bias

    # ----- initial state and readout (the dynamics are in ``engine``) --------------------------
    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      device=None) -> torch.Tensor:
        """h(0) = 0.1 * U(0,1), shape [n_blocks, batch, M]."""
        h0 = H0_SCALE * torch.rand(self.n_blocks, batch, self.module_size, generator=generator)
        return h0.to(device) if device is not None else h0

    def readout(self, finals: torch.Tensor, heads=None, offset: int = 0) -> torch.Tensor:
        """Logits [len(heads), B, 2] of the given heads from final states of blocks offset.."""
        heads = range(len(self.heads)) if heads is None else heads
        return torch.stack([self.heads[i](finals[self.head_blocks[i] - offset]) for i in heads])


def count_parameters(net: RNN, trainable=None) -> dict:
    """Parameter counts by connection class: {"total": {class: n}, "trainable": {class: n}}.

    ``net`` is any network with ``classified_parameters`` (a leaky ``RNN`` or a
    ``gated.GatedRNN``, whose input-to-hidden parameters count as "input" and hidden-to-hidden
    ones as "within").

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


def nonmodular_parameter_count(size: int, n_heads: int) -> int:
    """Parameters of a non-modular leaky network of ``size`` neurons with ``n_heads`` heads
    (what ``count_parameters`` gives): W_in, b_in, b_rec and tau (size each), W_rec without its
    diagonal (size^2 - size), and 2 size + 2 per head."""
    return size * size + 3 * size + n_heads * (2 * size + 2)


def largest_size(count, budget: int) -> int:
    """The largest size s >= 1 with ``count(s) <= budget``, for a ``count`` increasing in s; a
    ValueError when even s = 1 costs more than the budget."""
    if count(1) > budget:
        raise ValueError(f"a budget of {budget} parameters is below the smallest network "
                         f"({count(1)})")
    lo, hi = 1, 2
    while count(hi) <= budget:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # invariant: count(lo) <= budget < count(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    return lo
