"""Connectivity perturbations and the measures of chapter 5 (pure functions of a network).

The perturbation (the authors' protocol, FACTS.md), applied to every matrix of a class, each
normalised by its own Frobenius norm:

    W <- W + eps ||W||_F xi / ||xi||_F,   xi ~ N(0, I)

For within-module (recurrent) matrices xi is drawn off the diagonal and ||W||_F is the norm of
the off-diagonal part: the forward pass masks the diagonal, so a diagonal perturbation would be
erased and would only make the perturbation smaller than it says.

Two accuracy measures, both with Bernoulli(0.5) bits:

* streaming (the authors'): one sequence of ``warmup + steps`` bits from the usual initial state;
  every head reads the recorded state after every step; the label at step t is the parity of the
  last N bits up to and including bit t; accuracy is the mean over the ``steps`` scored steps;
* end of sequence: a batch of sequences at the lengths trained at the network's last stage, each
  head read after the last bit (the training task).

Speed: the P weight variants of one trial (the eps grid, or transplants) run in ONE engine scan:
``replicate`` chains P copies of the network's blocks with zero feed-forward between copies
(exactly zero, so each copy computes what the original would), and ``engine.run(weights=...)``
swaps in every copy's perturbed matrices. The trial's input is shared by its copies (common
random numbers across eps); trials loop (10 by default).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from . import engine
from .network import RNN, Block
from .tasks import parity_labels, sequence_length_range

__all__ = ["eps_grid", "CLASSES", "matrix_names", "effective_matrix", "perturbation", "perturbed",
           "truncate", "replicate", "streaming_labels", "evaluate_variants", "relative", "eps50",
           "summarise", "sweep", "module_similarity", "transplants"]

CLASSES = ("hidden", "within", "between", "input")
CLASS_HELP = {"hidden": "all hidden-to-hidden matrices (within and between)",
              "within": "within-module (recurrent) matrices; the non-modular network's "
                        "recurrent matrix",
              "between": "between-module (feed-forward) matrices",
              "input": "input weights"}
_CLASS_PARAMS = {"hidden": ("w_rec", "w_ff"), "within": ("w_rec",), "between": ("w_ff",),
                 "input": ("w_in",)}


def eps_grid(points: int = 10, lo: float = 1e-2, hi: float = 10.0) -> list[float]:
    """{0} U geomspace(lo, hi, points)."""
    return [0.0] + [float(e) for e in np.geomspace(lo, hi, points)]


def matrix_names(net: RNN, cls: str, modules: Sequence[int] | None = None) -> list[str]:
    """State-dict names of the matrices of class ``cls`` (see ``CLASSES``) in the given modules
    (default: all); module 0 has no between-module matrix."""
    if cls not in _CLASS_PARAMS:
        raise ValueError(f"unknown matrix class {cls!r}; choose from {CLASSES}")
    modules = range(net.n_blocks) if modules is None else modules
    return [f"blocks.{k}.{p}" for k in modules for p in _CLASS_PARAMS[cls]
            if getattr(net.blocks[k], p) is not None]


def effective_matrix(w: torch.Tensor, name: str) -> torch.Tensor:
    """The matrix the forward pass uses (w_rec: diagonal masked)."""
    if name.endswith("w_rec"):
        return w * (1 - torch.eye(w.shape[0], dtype=w.dtype))
    return w


def perturbation(w: torch.Tensor, eps: float, generator: torch.Generator,
                 off_diagonal: bool = False) -> torch.Tensor:
    """eps ||W||_F xi / ||xi||_F with xi ~ N(0, I) of W's shape (off the diagonal, and ||W|| of
    the off-diagonal part, when ``off_diagonal``)."""
    xi = torch.randn(w.shape, generator=generator, dtype=w.dtype)
    ref = w
    if off_diagonal:
        mask = 1 - torch.eye(w.shape[0], dtype=w.dtype)
        xi, ref = xi * mask, w * mask
    return eps * torch.linalg.norm(ref) * xi / torch.linalg.norm(xi)


def perturbed(net: RNN, names: Sequence[str], eps: float, generator: torch.Generator
              ) -> dict[str, torch.Tensor]:
    """Replacement weights: every named matrix perturbed with its own norm (see module doc)."""
    params = dict(net.named_parameters())
    out = {}
    for name in names:
        w = params[name].detach()
        out[name] = w + perturbation(w, eps, generator, off_diagonal=name.endswith("w_rec"))
    return out


def truncate(net: RNN, n_heads: int) -> RNN:
    """The network's first ``n_heads`` heads and the blocks they need (for a modular network the
    network as it was when it solved that stage: later modules never feed earlier ones)."""
    if not 1 <= n_heads <= len(net.heads):
        raise ValueError(f"n_heads must be in [1, {len(net.heads)}], got {n_heads}")
    n_blocks = max(net.head_blocks[:n_heads]) + 1
    out = RNN(net.module_size, torch.Generator().manual_seed(0))
    out.blocks = torch.nn.ModuleList(net.blocks[:n_blocks])
    out.heads = torch.nn.ModuleList(net.heads[:n_heads])
    out.head_blocks = list(net.head_blocks[:n_heads])
    return out


@torch.no_grad()
def replicate(net: RNN, copies: int) -> RNN:
    """``copies`` copies of ``net``'s blocks chained in one RNN (no heads). The first block of
    every copy gets a zero feed-forward matrix and bias, so copies do not interact (see
    ``_scan`` for diverging copies): copy c's block k is block c*K + k."""
    g = torch.Generator().manual_seed(0)
    k_blocks = net.n_blocks
    big = RNN(net.module_size, g)
    blocks = []
    for c in range(copies):
        for k in range(k_blocks):
            src = net.blocks[k]
            dst = Block(net.module_size, has_ff=True, generator=g)
            for name, p in dst.named_parameters():
                s = getattr(src, name)
                p.copy_(s if s is not None else torch.zeros_like(p))
            blocks.append(dst)
    big.blocks = torch.nn.ModuleList(blocks)
    return big.double()


def streaming_labels(bits: torch.Tensor, ns: Sequence[int]) -> torch.Tensor:
    """Labels [B, T, len(ns)] of a stream of bits [B, T]: at step t, the parity of bits
    t-N+1..t; -1 where fewer than N bits have been seen."""
    b = bits.long()
    c = torch.cumsum(b, dim=1)
    c = torch.cat([torch.zeros_like(c[:, :1]), c], dim=1)  # c[:, t+1] = ones among bits 0..t
    t = torch.arange(b.shape[1])
    out = []
    for n in ns:
        lab = (c[:, 1:] - c[:, (t + 1 - n).clamp(min=0)]) % 2
        lab[:, t < n - 1] = -1
        out.append(lab)
    return torch.stack(out, dim=-1)


def _head_tensors(net: RNN):
    """Per head: logit-difference weights [H, M] and biases [H] (class 1 iff d.h + c > 0, as
    argmax with ties to class 0)."""
    w = torch.stack([h.weight.detach() for h in net.heads]).double()  # [H, 2, M]
    b = torch.stack([h.bias.detach() for h in net.heads]).double()  # [H, 2]
    return w[:, 1] - w[:, 0], b[:, 1] - b[:, 0]


def _predictions(net: RNN, states: torch.Tensor, copies: int, unique: list[int]) -> torch.Tensor:
    """Predictions [..., P, B, H] from states [..., P*U, B, M] of each copy's unique head blocks."""
    d, c = _head_tensors(net)
    lead = states.shape[:-3]
    s = states.reshape(*lead, copies, len(unique), *states.shape[-2:])
    preds = torch.empty(*lead, copies, states.shape[-2], len(net.heads), dtype=torch.long)
    for u, block in enumerate(unique):
        hs = [i for i, hb in enumerate(net.head_blocks) if hb == block]
        z = torch.einsum("...pbm,hm->...pbh", s[..., u, :, :], d[hs]) + c[hs]
        preds[..., hs] = (z > 0).long()
    return preds


@torch.no_grad()
def evaluate_variants(net: RNN, ns: Sequence[int],
                      make_weights: Callable[[torch.Generator], list[dict]], *, trials: int,
                      warmup: int, steps: int, batch: int, seed: int = 0) -> dict:
    """Streaming and end-of-sequence accuracy of every head under P weight variants.

    ``make_weights(generator)`` returns, per trial, P dicts of replacement weights (state-dict
    names of ``net``; {} = unperturbed); its random draws come from the trial's own generator.
    Returns {"stream": [trials, P, H], "eos": [trials, P, H], "diverged": [trials, P]} (numpy;
    diverged: some state of the copy exceeded ``BOUND``)."""
    ns = list(ns)
    if len(ns) != len(net.heads):
        raise ValueError(f"{len(ns)} N values for {len(net.heads)} heads")
    k_blocks = net.n_blocks
    unique = sorted(set(net.head_blocks))
    lo, hi = sequence_length_range(max(ns))
    stream, eos, diverged = [], [], []
    big = None
    for trial in range(trials):
        g_in = torch.Generator().manual_seed(1_000_003 * seed + 2 * trial)
        g_w = torch.Generator().manual_seed(1_000_003 * seed + 2 * trial + 1)
        variants = make_weights(g_w)
        p = len(variants)
        if big is None or big.n_blocks != p * k_blocks:
            big = replicate(net, p)
        weights = {f"blocks.{c * k_blocks + int(name.split('.')[1])}.{name.split('.')[2]}": w
                   for c, v in enumerate(variants) for name, w in v.items()}
        # streaming: one sequence, shared by the copies
        t_len = warmup + steps
        bits = (torch.rand(1, t_len, generator=g_in) < 0.5).float()
        h0 = net.initial_state(1, g_in).repeat(p, 1, 1)
        record = [c * k_blocks + b for c in range(p) for b in unique]
        _, states, bad = _scan(big, bits[..., None], h0, record, weights)
        preds = _predictions(net, states[warmup:], p, unique)[:, :, 0]  # [T, P, H]
        labels = streaming_labels(bits, ns)[0, warmup:]  # [T, H]
        if (labels < 0).any():
            raise ValueError(f"warm-up {warmup} is shorter than the largest N {max(ns)}")
        stream.append((preds == labels[:, None]).float().mean(0).numpy())
        # end of sequence, at the lengths of the last trained stage
        t_eos = int(torch.randint(lo, hi, (1,), generator=g_in))
        x = (torch.rand(batch, t_eos, 1, generator=g_in) < 0.5).float()
        y = parity_labels(x, ns)  # [B, H]
        h0 = net.initial_state(batch, g_in).repeat(p, 1, 1)
        finals, _, bad_eos = _scan(big, x, h0, (), weights)
        sel = finals[[c * k_blocks + b for c in range(p) for b in unique]]
        preds = _predictions(net, sel, p, unique)  # [P, B, H]
        eos.append((preds == y[None]).float().mean(1).numpy())
        diverged.append((bad | bad_eos).reshape(p, k_blocks).any(1).numpy())
    return {"stream": np.stack(stream), "eos": np.stack(eos), "diverged": np.stack(diverged)}


CHUNK, BOUND = 50, 1e30


def _scan(big: RNN, x: torch.Tensor, h0: torch.Tensor, record, weights):
    """``engine.run`` in chunks of ``CHUNK`` steps. Copies are isolated by exactly zero
    feed-forward weights, but 0 * inf = NaN: a copy whose states diverge (strong perturbations)
    would poison the next copy. Between chunks every state beyond +-BOUND is clipped to it (only
    diverged copies ever get there; the scan runs in float64, so growth within one chunk stays
    far below overflow), so every copy computes exactly what it would alone. Returns final states, the recorded states
    [T, R, B, M] (or None) and which blocks diverged [n_blocks]."""
    h = h0.double()
    x = x.double()
    weights = {k: w.double() for k, w in weights.items()}
    stacked = engine.stack_parameters(big, weights=weights or None)  # once for every chunk
    states = []
    bad = torch.zeros(big.n_blocks, dtype=torch.bool)
    for t0 in range(0, x.shape[1], CHUNK):
        scan = engine.run(big, x[:, t0:t0 + CHUNK], h, record=record, stacked=stacked)
        h = scan.finals
        if record:
            states.append(scan.states.clamp(-BOUND, BOUND))
        over = ~(h.abs() <= BOUND)  # also NaN
        if over.any():
            bad |= over.flatten(1).any(1)
            h = torch.nan_to_num(h, nan=BOUND).clamp(-BOUND, BOUND)
    return h, (torch.cat(states) if record else None), bad


def relative(acc: np.ndarray, acc0: float) -> np.ndarray:
    """r = (acc - 0.5) / (acc0 - 0.5); NaN when the unperturbed network is at chance."""
    acc = np.asarray(acc, dtype=float)
    if not acc0 > 0.5:
        return np.full_like(acc, np.nan)
    return (acc - 0.5) / (acc0 - 0.5)


def eps50(eps: Sequence[float], r: Sequence[float], level: float = 0.5) -> float:
    """The perturbation size at which r first falls to ``level``, linearly interpolated in log
    eps between the two grid points around the crossing (eps = 0 is skipped). +inf if r stays
    above the level over the grid, 0 if it is already below at the smallest positive eps, NaN
    if r is NaN."""
    e = np.asarray(eps, dtype=float)
    r = np.asarray(r, dtype=float)
    keep = e > 0
    e, r = e[keep], r[keep]
    if np.isnan(r).any():
        return math.nan
    if r[0] < level:
        return 0.0
    for i in range(len(e) - 1):
        if r[i] >= level > r[i + 1]:
            f = (r[i] - level) / (r[i] - r[i + 1])
            return float(math.exp(math.log(e[i]) + f * (math.log(e[i + 1]) - math.log(e[i]))))
    return math.inf


def summarise(eps: Sequence[float], acc: np.ndarray) -> dict:
    """Per-head accuracy [trials, P, H] under the eps grid (eps[0] = 0) -> accuracy at eps = 0,
    per-head mean accuracy per eps, r of the mean over heads per trial and trial-averaged, and
    eps50 of the trial-averaged r."""
    if eps[0] != 0:
        raise ValueError("the eps grid must start at 0 (the reference of r)")
    mean = acc.mean(axis=2)  # [trials, P]: mean over heads
    acc0 = float(mean[:, 0].mean())
    r = relative(mean, acc0)
    r_mean = r.mean(axis=0)
    return {"acc0": round(acc0, 5), "acc_mean": mean.mean(axis=0).round(5).tolist(),
            "per_head": acc.mean(axis=0).round(4).tolist(), "r_mean": r_mean.round(5).tolist(),
            "r_trials": r.round(4).tolist(), "eps50": eps50(eps, r_mean)}


def sweep(net: RNN, ns: Sequence[int], groups: dict[str, Sequence[str]], eps: Sequence[float],
          **kw) -> dict:
    """For each group (label -> matrix names) the perturbation of those matrices at every eps;
    all groups and eps values of one trial run in one engine scan. Returns label ->
    ``summarise`` of both measures: {"stream": ..., "eos": ...}."""
    labels = list(groups)

    def make(g):
        return [perturbed(net, groups[lab], e, g) for lab in labels for e in eps]
    res = evaluate_variants(net, ns, make, **kw)
    out = {}
    for i, lab in enumerate(labels):
        sl = slice(i * len(eps), (i + 1) * len(eps))
        out[lab] = {m: summarise(eps, res[m][:, sl]) for m in ("stream", "eos")}
        out[lab]["diverged"] = res["diverged"][:, sl].mean(axis=0).round(3).tolist()
    return out


def _offdiag(w: torch.Tensor, name: str) -> np.ndarray:
    w = w.detach()
    if name == "w_rec":
        w = w[~torch.eye(w.shape[0], dtype=torch.bool)]
    return w.flatten().numpy()


def module_similarity(net: RNN, param: str, modules: Sequence[int]) -> np.ndarray:
    """Pearson correlation [len(modules)]^2 between modules' matrices ``param`` (w_rec: the
    off-diagonal entries only)."""
    v = np.stack([_offdiag(getattr(net.blocks[k], param), param) for k in modules])
    return np.corrcoef(v)


def transplants(net: RNN, param: str, pairs: Sequence[tuple[int, int]]) -> list[dict]:
    """Replacement weights, one dict per (target, donor): the target module's ``param`` replaced
    by the donor's; the first variant is the unchanged network."""
    return [{}] + [{f"blocks.{t}.{param}": getattr(net.blocks[d], param).detach()}
                   for t, d in pairs]
