"""The curriculum trainer for every architecture: the modular and non-modular leaky networks and
the gated (GRU, LSTM) non-modular baselines (``modgrow.gated``).

Task: every batch (training, criterion checks, confirmations) is drawn from the config's ``task``:
N-parity (the default) or delayed match-to-sample (``modgrow.tasks``).

Curriculum (``order``): N = n_start, n_start + 1, ..., max_n (sequential, the paper's), or every
second N (step2: n_start, n_start + 2, ...), or N = n_start followed by the other N values of the
sequential curriculum in a random order fixed by the seed (shuffled); ``curriculum_ns`` lists
them, and head k always answers the k-th N of the list. For the modular network each new N adds
a module (fed by the last one) and a head reading it; for the non-modular networks (leaky, GRU,
LSTM) each new N adds a head on the one population. Steps are counted exactly and also in the
paper's epochs of ``steps_per_epoch`` steps.

Criterion (``criterion``): every ``eval_every`` SGD steps the mean accuracy over all heads and the
accuracy of the newest head are measured on ``eval_batches`` fresh batches; both must exceed
``threshold``. With ``criterion="confirmed"`` (the default) a passing check is only a candidate:
the stage ends when the same test on ``confirm_batches`` further fresh batches passes too, so a
network below the threshold rarely ends a stage by luck (chapter 3 computes how rarely). With
``criterion="check"`` the first passing check ends the stage; the authors' protocol is that with
``eval_every=500`` and ``eval_batches=50`` (one test per epoch). ``confirm_margin`` > 0 makes the
confirmation stricter: both accuracies must exceed ``threshold + confirm_margin`` on the
confirmation batches. Without it a network that hovers just below the threshold is confirmed after
enough attempts (the winner's curse of repeated tests); with a margin of about 1.5 standard errors
of the confirmation's mean it must truly sit above the threshold.

Optimiser (``optimizer``): Nesterov SGD with ``momentum`` (the default: the leaky networks', as
the authors') or Adam with PyTorch's default betas (the gated networks', as the authors' LSTM:
``GATED_DEFAULTS`` gives lr 1e-3); either with gradient-norm clipping at ``clip`` (2 by default).

Freezing: at a stage with K modules, module k (and its head) trains with learning rate
lr * gamma^(K-1-k); gamma = 0 is hard freezing. Options reproduce the authors' code where it
differs (FACTS.md): ``train_old_taus`` (their taus of frozen modules keep training),
``clip_scope="all"`` (their gradient clipping over every parameter, frozen ones included, with
the loss of every head), ``duplicate_source="untrained"`` (their off-by-one duplication of the
module just activated) and ``duplicate_head`` (new heads copied from the previous head).

Speed (exact, no approximation): modules whose learning rate is zero form a prefix that is run once
per batch under ``torch.no_grad()``; only the trajectory of its last module, which feeds the first
trainable module, is kept. The autograd graph covers the trainable modules alone, whose heads are
the only ones whose loss can change a trainable parameter (with ``clip_scope="all"`` every module
stays in the graph, because the clipping norm needs every gradient).

Large N (opt-in, results equal up to float rounding rather than bit for bit): with
``prefix_pool`` P > 1 the frozen prefix of the next P training batches is computed ahead, drawn in
exactly the per-batch order, by ``engine.pool_tasks`` (a fused no-grad scan that skips the states
the feed does not need), on the process's torch threads (one task per thread, the training thread
helping), and the criterion's test batches are pooled the same way; pools never reach across a
criterion check, the only other draw from the generator. ``manual_bptt`` backpropagates through
the single trainable module by a hand-written loop instead of autograd.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch.nn import functional as F

from . import engine
from .gated import CELLS, GatedRNN, GatedStructure
from .io import BadData, load_network, provenance, read_json, save_network, write_json
from .network import RNN, Structure
from .tasks import MIN_N, TASKS, task_batch

__all__ = ["GrowthConfig", "train_curriculum", "evaluate", "batch_correct", "passes",
           "lr_multiplier", "RunResult", "Stage", "StopReason", "network_at_stage", "grow",
           "new_network", "head_ns", "curriculum_ns", "stage_index", "ORDERS", "checkpoint_path", "expected_structure", "read_history",
           "NONMODULAR_DEFAULTS", "GATED_DEFAULTS", "network_logits", "ARCHITECTURES",
           "OPTIMIZERS", "is_gated"]

ARCHITECTURES = ("modular", "nonmodular", *CELLS)
OPTIMIZERS = ("sgd", "adam")
CRITERIA = ("confirmed", "check")
CLIP_SCOPES = ("trainable", "all")
DUPLICATE_SOURCES = ("trained", "untrained")
ORDERS = ("sequential", "step2", "shuffled")
# what every stage record of a history holds (among others: epochs, checks, ...)
STAGE_KEYS = ("n", "steps", "seconds", "accuracy")
# fields that may change when a run is resumed (budgets), all others must match
RESUMABLE_CHANGES = ("max_n", "max_steps_per_stage", "max_total_steps")
# the non-modular network's own defaults (the ICLR 2024 code's learning rate)
NONMODULAR_DEFAULTS = {"lr": 0.05}
# the gated networks' own defaults (the authors' LSTM: Adam, lr 1e-3; clip 2 is every run's)
GATED_DEFAULTS = {"optimizer": "adam", "lr": 1e-3}
# a network the trainer trains
Network = RNN | GatedRNN


def _f(default, help: str, flag: bool = True):
    """A config field with its help text (the command line's flags are generated from these)."""
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class GrowthConfig:
    """Everything that defines one curriculum run (frozen, validated on creation)."""

    architecture: str = _f("modular", "modular (a module per N), nonmodular (a head per N on "
                           "one population of leaky neurons), gru or lstm (a head per N on one "
                           "gated population)", flag=False)
    module_size: int = _f(10, "neurons per module (modular), in the population (non-modular) or "
                          "hidden units (gru, lstm)")
    n_start: int = _f(2, "first N of the curriculum")
    max_n: int = _f(30, "last N of the curriculum")
    order: str = _f("sequential", "order of the N values: sequential (n_start, n_start + 1, ..., "
                    "max_n), step2 (n_start, n_start + 2, ... up to max_n) or shuffled (n_start, "
                    "then n_start + 1 ... max_n in a random order fixed by the seed); head k "
                    "answers the k-th N")
    seed: int = _f(0, "random seed (parameters, data, initial states)")
    lr: float = _f(0.1, "learning rate")
    momentum: float = _f(0.1, "Nesterov momentum (sgd only)")
    batch_size: int = _f(256, "sequences per SGD step and per test batch")
    clip: float = _f(2.0, "gradient-norm clipping threshold")
    clip_scope: str = _f("trainable", "parameters whose gradient norm is clipped: trainable "
                         "(ours) or all (the authors': frozen modules and every head's loss "
                         "included; slower)")
    duplicate: bool = _f(True, "initialise a new module as a noisy copy of a previous one "
                         "(else at random)")
    duplicate_source: str = _f("trained", "what a new module copies: trained (the trained "
                               "previous module) or untrained (the authors' off-by-one: the "
                               "previous module as it was initialised)")
    duplicate_head: bool = _f(False, "initialise a new head as a noisy copy of the previous head "
                              "(the authors' effective setting)")
    noise: float = _f(0.05, "duplication noise sigma: w * (1 + sigma * xi)")
    gamma: float = _f(0.0, "old modules' learning-rate factor per growth step (0 freezes)")
    train_old_taus: bool = _f(False, "keep training the taus of frozen modules (the authors' "
                              "effective setting)")
    fix_within: bool = _f(False, "never train within-module (recurrent) weights")
    within_from_first: bool = _f(False, "module 0 trains its within-module weights; every later "
                                 "module takes an exact copy of them when it is added and never "
                                 "trains them")
    criterion: str = _f("confirmed", "confirmed (a passing check must pass again on "
                        "--confirm-batches fresh batches) or check (the first passing check "
                        "ends the stage)")
    eval_every: int = _f(50, "SGD steps between criterion checks")
    eval_batches: int = _f(10, "fresh batches per criterion check")
    confirm_batches: int = _f(100, "fresh batches that confirm a passing check")
    confirm_margin: float = _f(0.0, "the confirmation passes only when both accuracies exceed "
                               "threshold + this margin (a fraction: 0.003 = 0.3 points); 0 is "
                               "the plain confirmation")
    threshold: float = _f(0.98, "accuracy the mean over heads and the newest head must exceed")
    steps_per_epoch: int = _f(500, "SGD steps per epoch (the paper's unit)")
    max_steps_per_stage: int = _f(20_000, "step budget per stage; the run stops when a stage "
                                  "spends it")
    max_total_steps: int | None = _f(None, "step budget of the whole run (default: none)")
    bit_prob: float | str = _f("per_batch", "per_batch (one p ~ U(0,1) per batch, the authors') "
                               "or a fixed Bernoulli probability of a 1")
    task: str = _f("parity", "the task every head answers: parity (N-parity) or dms (delayed "
                   "match-to-sample, the authors' definition; its bits are Bernoulli(0.5), so it "
                   "needs --bit-prob 0.5 and n_start >= 2)")
    optimizer: str = _f("sgd", "sgd (Nesterov, with --momentum: the leaky networks', as the "
                        "authors') or adam (PyTorch's default betas: the gated networks', as the "
                        "authors' LSTM)")
    prefix_pool: int = _f(1, "training batches whose frozen prefix (the hard-frozen modules "
                          "below the trainable one) is computed ahead in a pool: 1 runs it per "
                          "batch as always (bit-identical to earlier runs); P > 1 draws the next "
                          "P batches in the same generator order (never across a criterion "
                          "check), runs their prefix by a fused no-grad scan that skips states "
                          "the trainable module never sees, spread over the torch threads "
                          "(--threads), then takes the P SGD steps; the criterion's test batches "
                          "are pooled alike. Equal to P = 1 up to float rounding (so runs drift "
                          "apart like runs on another platform); every P > 1 gives the same "
                          "numbers, P only sets the look-ahead (memory grows with P)")
    manual_bptt: bool = _f(False, "backpropagate through time through a single trainable module "
                           "(the newest module with gamma 0, or the non-modular population) by a "
                           "hand-written loop instead of autograd: the same forward pass bit for "
                           "bit, gradients equal up to float rounding, several times faster at "
                           "long sequences; false keeps earlier runs bit-identical")

    def __post_init__(self):
        errors = []
        if self.architecture not in ARCHITECTURES:
            errors.append(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        integer = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        for name in ("n_start", "max_n", "seed"):
            if not integer(getattr(self, name)):
                errors.append(f"{name} must be an integer, got {getattr(self, name)!r}")
        if not (self.max_total_steps is None or integer(self.max_total_steps)):
            errors.append(f"max_total_steps must be an integer or None, "
                          f"got {self.max_total_steps!r}")
        for f in fields(self):
            if isinstance(f.default, bool) and not isinstance(getattr(self, f.name), bool):
                errors.append(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        if errors:  # the checks below compare numbers
            raise ValueError("; ".join(errors))
        for name in ("module_size", "batch_size", "eval_every", "eval_batches", "confirm_batches",
                     "steps_per_epoch", "max_steps_per_stage", "prefix_pool"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                errors.append(f"{name} must be an integer >= 1, got {v!r}")
        if self.max_total_steps is not None and self.max_total_steps < 1:
            errors.append(f"max_total_steps must be >= 1 or None, got {self.max_total_steps}")
        if self.n_start < 1:
            errors.append(f"n_start must be >= 1, got {self.n_start}")
        if self.max_n < self.n_start:
            errors.append(f"max_n ({self.max_n}) must be >= n_start ({self.n_start})")
        finite = lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
                            and math.isfinite(v))
        if not (finite(self.lr) and self.lr > 0):
            errors.append(f"lr must be a finite number > 0, got {self.lr}")
        if not (finite(self.momentum) and 0 <= self.momentum < 1):
            errors.append(f"momentum must be in [0, 1), got {self.momentum}")
        if not (finite(self.clip) and self.clip > 0):
            errors.append(f"clip must be a finite number > 0, got {self.clip}")
        if not (finite(self.noise) and self.noise >= 0):
            errors.append(f"noise must be a finite number >= 0, got {self.noise}")
        if not (finite(self.gamma) and 0 <= self.gamma <= 1):
            errors.append(f"gamma must be in [0, 1], got {self.gamma}")
        if not (finite(self.threshold) and 0 < self.threshold < 1):
            errors.append(f"threshold must be in (0, 1), got {self.threshold}")
        elif not (finite(self.confirm_margin)
                  and self.confirm_margin >= 0 and self.threshold + self.confirm_margin < 1):
            errors.append(f"confirm_margin must be in [0, 1 - threshold), "
                          f"got {self.confirm_margin}")
        elif self.confirm_margin > 0 and self.criterion != "confirmed":
            errors.append(f"confirm_margin applies to criterion 'confirmed' only, got criterion "
                          f"{self.criterion!r} with confirm_margin {self.confirm_margin}")
        for name, allowed in (("criterion", CRITERIA), ("clip_scope", CLIP_SCOPES),
                              ("duplicate_source", DUPLICATE_SOURCES), ("order", ORDERS)):
            if getattr(self, name) not in allowed:
                errors.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.bit_prob != "per_batch" and not (
                finite(self.bit_prob) and not isinstance(self.bit_prob, bool)
                and 0 <= self.bit_prob <= 1):
            errors.append(f"bit_prob must be 'per_batch' or a probability, got {self.bit_prob!r}")
        if self.task not in TASKS:
            errors.append(f"task must be one of {TASKS}, got {self.task!r}")
        elif self.task == "dms" and (self.bit_prob != 0.5 or isinstance(self.bit_prob, bool)):
            errors.append(f"task dms draws Bernoulli(0.5) bits: set bit_prob=0.5 "
                          f"(--bit-prob 0.5), got {self.bit_prob!r}")
        elif self.n_start < MIN_N[self.task]:
            errors.append(f"task {self.task} needs n_start >= {MIN_N[self.task]}, "
                          f"got {self.n_start}")
        if self.optimizer not in OPTIMIZERS:
            errors.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        elif self.optimizer == "adam" and self.momentum != _default("momentum"):
            errors.append("momentum applies to the sgd optimizer only (adam uses its default "
                          "betas)")
        if self.architecture != "modular" and (self.gamma != 0 or self.fix_within
                                               or self.train_old_taus):
            errors.append("gamma, fix_within and train_old_taus apply to the modular network only")
        if self.within_from_first and (self.architecture != "modular" or self.fix_within):
            errors.append("within_from_first needs the modular network and fix_within=False")
        if self.architecture in CELLS and (self.prefix_pool != 1 or self.manual_bptt):
            errors.append("prefix_pool and manual_bptt apply to the leaky networks only "
                          "(modular, nonmodular)")
        if errors:
            raise ValueError("; ".join(errors))

    @classmethod
    def from_dict(cls, d: dict) -> "GrowthConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {unknown}")
        return cls(**d)


def _default(name: str):
    """The default of a GrowthConfig field."""
    return GrowthConfig.__dataclass_fields__[name].default


def is_gated(cfg: GrowthConfig) -> bool:
    return cfg.architecture in CELLS


class StopReason(str, enum.Enum):
    """Why a run ended (stored in its history as ``stop``)."""

    COMPLETE = "complete"          # reached max_n
    STAGE_BUDGET = "stage_budget"  # a stage spent max_steps_per_stage without the criterion
    TOTAL_BUDGET = "total_budget"  # the run spent max_total_steps
    FAILED = "failed"              # an exception (e.g. a full disk) ended the run


@dataclass
class RunResult:
    history: dict
    network: Network


class _Stopped(Exception):
    def __init__(self, reason: StopReason, message: str):
        super().__init__(message)
        self.reason = reason


def lr_multiplier(cfg: GrowthConfig, n_blocks: int, block: int, cls: str) -> float:
    """Learning-rate factor of a parameter of ``block`` (of class ``cls``) at a stage with
    ``n_blocks`` modules."""
    if cfg.architecture != "modular":
        return 1.0
    if cfg.fix_within and cls == "within":
        return 0.0
    if cfg.within_from_first and cls == "within" and block > 0:
        return 0.0
    if cfg.train_old_taus and cls == "tau":
        return 1.0
    age = n_blocks - 1 - block
    return 1.0 if age == 0 else cfg.gamma ** age


def curriculum_ns(cfg: GrowthConfig) -> list[int]:
    """The N value of every stage, in the order the curriculum trains them (``cfg.order``). The
    shuffled order draws its permutation from its own generator seeded by ``cfg.seed`` (the
    training generator is untouched), so it depends on ``max_n`` as well."""
    ns = list(range(cfg.n_start, cfg.max_n + 1))
    if cfg.order == "step2":
        return ns[::2]
    if cfg.order == "shuffled":
        rest = ns[1:]
        perm = torch.randperm(len(rest), generator=torch.Generator().manual_seed(cfg.seed))
        return ns[:1] + [rest[i] for i in perm.tolist()]
    return ns


def stage_index(cfg: GrowthConfig, n: int) -> int:
    """Position of the stage that trains N = n in the curriculum (0 for the first)."""
    ns = curriculum_ns(cfg)
    if n not in ns:
        raise ValueError(f"N={n} is not in the {cfg.order} curriculum {ns}")
    return ns.index(n)


def head_ns(cfg: GrowthConfig, n_heads: int) -> list[int]:
    """The N that heads 0 .. n_heads-1 answer."""
    return curriculum_ns(cfg)[:n_heads]


def new_network(cfg: GrowthConfig, generator: torch.Generator) -> Network:
    """The network of the first stage: one module (leaky) or the gated population, one head."""
    if is_gated(cfg):
        net = GatedRNN(cfg.architecture, cfg.module_size, generator)
    else:
        net = RNN(cfg.module_size, generator)
    net.add_head(0, generator)
    return net


def network_logits(net: Network, x: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Logits [n_heads, B, 2] of every head at the end of x [B, T, 1]: the leaky engine (whose
    random initial state comes from ``generator``) or the gated network's own forward pass."""
    if isinstance(net, GatedRNN):
        return net.logits(x)
    return engine.logits(net, x, generator)


def grow(net: Network, cfg: GrowthConfig, generator: torch.Generator,
         template: dict | None = None) -> dict | None:
    """One curriculum step: a new module and its head (modular) or a new head (non-modular,
    leaky or gated).

    ``template`` is the previous module as it was initialised (used with
    ``duplicate_source="untrained"``); returns the new module's initial parameters, the next
    step's template."""
    head_source = len(net.heads) - 1 if cfg.duplicate_head else None
    if cfg.architecture != "modular":
        net.add_head(0, generator, source=head_source, noise=cfg.noise)
        return None
    source = None
    if cfg.duplicate:
        source = net.block_parameters(-1) if cfg.duplicate_source == "trained" else template
    block = net.add_block(source=source, noise=cfg.noise, generator=generator)
    if cfg.within_from_first:
        with torch.no_grad():
            for name in ("w_rec", "b_rec"):
                getattr(net.blocks[block], name).copy_(getattr(net.blocks[0], name))
    new_template = net.block_parameters(block) if cfg.duplicate_source == "untrained" else None
    net.add_head(block, generator, source=head_source, noise=cfg.noise)
    return new_template


def network_at_stage(cfg: GrowthConfig, n: int, generator: torch.Generator) -> Network:
    """A fresh network with the structure of the stage that trains N = n (random parameters)."""
    net = new_network(cfg, generator)
    template = None
    for _ in range(stage_index(cfg, n)):
        template = grow(net, cfg, generator, template)
    return net


def _optimiser(cfg: GrowthConfig, groups: dict[float, list]) -> torch.optim.Optimizer:
    """The config's optimiser over parameter groups keyed by learning-rate multiplier."""
    params = [{"params": ps, "lr": cfg.lr * m} for m, ps in groups.items()]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)


class Stage:
    """One curriculum stage of ``net``: which parameters train (per the config's freezing
    policy; everything in a non-modular network), a fresh optimiser over them (the config's:
    Nesterov SGD or Adam), and the training step."""

    def __init__(self, net: Network, cfg: GrowthConfig, device: str = "cpu"):
        self.net, self.cfg, self.device = net, cfg, device
        self.ns = head_ns(cfg, len(net.heads))
        groups: dict[float, list] = {}
        first = net.n_blocks
        everything = cfg.clip_scope == "all"
        for block, cls, _, p in net.classified_parameters():
            mult = lr_multiplier(cfg, net.n_blocks, block, cls)
            p.requires_grad_(mult > 0 or everything)
            if mult > 0:
                groups.setdefault(mult, []).append(p)
                first = min(first, block)
        # the first block in the autograd graph; blocks below run without it
        self.first = 0 if everything else first
        self.trainable = [p for ps in groups.values() for p in ps]
        self.clipped = list(net.parameters()) if everything else self.trainable
        self.opt = _optimiser(cfg, groups)
        self._fused = None  # the frozen prefix's fused weights (pooled path), built on first use
        self.chunk = _pool_chunk(device)  # columns per pooled scan (engine.pool_tasks)

    def loss(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Summed cross-entropy of the heads that read blocks in the autograd graph (>= first);
        blocks below run without autograd and only hand over the trajectory that feeds it. A
        gated network is one block: every head."""
        net, first = self.net, self.first
        if isinstance(net, GatedRNN):
            logits = net.logits(x)  # [n_heads, B, 2]
            return sum(F.cross_entropy(logits[i], y[:, i]) for i in range(len(net.heads)))
        h0 = net.initial_state(x.shape[0], generator, x.device)
        feed = None
        if first > 0:
            with torch.no_grad():
                feed = engine.run(net, x, h0[:first], 0, first, keep_feed=True).feed
        return self.loss_on(x, y, h0, feed)

    def loss_on(self, x: torch.Tensor, y: torch.Tensor, h0: torch.Tensor,
                feed: torch.Tensor | None) -> torch.Tensor:
        """The loss given the initial state h0 [n_blocks, B, M] and the prefix's feed."""
        net, first = self.net, self.first
        finals = engine.run(net, x, h0[first:], first, net.n_blocks, ff_in=feed,
                            manual_bptt=self.cfg.manual_bptt).finals
        heads = [i for i, b in enumerate(net.head_blocks) if b >= first]
        logits = net.readout(finals, heads, offset=first)
        return sum(F.cross_entropy(logits[j], y[:, i]) for j, i in enumerate(heads))

    def _update(self, loss: torch.Tensor) -> None:
        self.net.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.clipped, self.cfg.clip)
        self.opt.step()

    def step_on(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None:
        """One step on the batch (x, y): forward, summed cross-entropy, backward, gradient
        clipping (scope per the config), optimiser step."""
        self._update(self.loss(x.to(self.device), y.to(self.device), generator))

    def step(self, generator: torch.Generator) -> None:
        """One step on a fresh batch of the config's task."""
        cfg = self.cfg
        x, y = task_batch(cfg.task, self.ns, cfg.batch_size, generator=generator,
                          bit_prob=cfg.bit_prob)
        self.step_on(x, y, generator)

    def steps(self, generator: torch.Generator, n: int):
        """Iterator over ``n`` SGD steps on fresh batches, yielding after each; nothing else may
        draw from ``generator`` until it is exhausted or closed. With ``prefix_pool`` 1 (or no
        frozen prefix) these are ``n`` calls of ``step``. Otherwise the batches (x, y, then the
        initial state, as ``step`` draws them) are drawn up to ``prefix_pool`` ahead, the next
        pool as soon as the current one starts training, and their prefix feeds computed by
        ``engine.pool_tasks`` on background threads while the SGD steps run; until the iterator
        ends or is closed, the calling thread runs with one torch intra-op thread."""
        cfg = self.cfg
        if cfg.prefix_pool == 1 or self.first == 0:
            for _ in range(n):
                self.step(generator)
                yield
            return
        if self._fused is None:
            self._fused = engine.fused_weights(self.net, self.first)
        chunk = self.chunk
        pools: deque = deque()
        drawn = 0

        def draw_pool():
            nonlocal drawn
            size = min(cfg.prefix_pool, n - drawn)
            drawn += size
            batch = []
            for _ in range(size):
                x, y = task_batch(cfg.task, self.ns, cfg.batch_size, generator=generator,
                                  bit_prob=cfg.bit_prob)
                x, y = x.to(self.device), y.to(self.device)
                batch.append((x, y, self.net.initial_state(x.shape[0], generator, x.device)))
            tasks, assemble = engine.pool_tasks(self._fused, [b[0] for b in batch],
                                                [b[2] for b in batch], feed=True, chunk=chunk)
            pools.append((batch, _Jobs(tasks), assemble))

        with _pool_threads() as threads_ok:
            try:
                while drawn < n or pools:
                    if not pools:
                        draw_pool()
                    batch, jobs, assemble = pools.popleft()
                    if drawn < n and threads_ok:
                        draw_pool()  # computed by the workers while this pool trains
                    feeds = assemble(jobs.results(pools[0][1] if pools else None))
                    for (x, y, h0), feed in zip(batch, feeds):
                        self._update(self.loss_on(x, y, h0, feed))
                        yield
            finally:
                for _, jobs, _ in pools:
                    jobs.cancel()


def _pool_chunk(device) -> int | None:
    return None if torch.device(device).type == "cuda" else engine.POOL_CHUNK


# ----- threads of the pooled path --------------------------------------------------------------

_EXECUTORS: dict[int, ThreadPoolExecutor] = {}
_EXECUTORS_LOCK = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, each with one torch (intra-op) thread."""
    with _EXECUTORS_LOCK:
        if workers not in _EXECUTORS:
            _EXECUTORS[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="modgrow-pool",
                initializer=lambda: torch.set_num_threads(1))
        return _EXECUTORS[workers]


_LOCAL = threading.local()


@contextlib.contextmanager
def _pool_threads():
    """While pooled work runs: with T torch threads, T - 1 workers take tasks and the calling
    thread computes too, every thread with one intra-op thread (no nested parallelism); the
    previous setting is restored afterwards. Yields whether workers exist (T > 1)."""
    threads = torch.get_num_threads()
    if threads <= 1 or getattr(_LOCAL, "inside", False):
        yield False
        return
    _LOCAL.executor = _executor(threads - 1)
    _LOCAL.inside = True
    torch.set_num_threads(1)
    try:
        yield True
    finally:
        torch.set_num_threads(threads)
        _LOCAL.inside = False
        _LOCAL.executor = None


class _Jobs:
    """Independent tasks submitted to the workers of ``_pool_threads`` (run by the caller when
    there are none); ``results`` returns their values in order, the calling thread running every
    task that no worker has started yet (its own first, then those of ``then``)."""

    def __init__(self, tasks):
        ex = getattr(_LOCAL, "executor", None)
        self.tasks = list(tasks)
        self.values = [None] * len(self.tasks)
        self.done = [False] * len(self.tasks)
        self.futures = [ex.submit(t) if ex is not None else None for t in self.tasks]

    def _steal(self, i: int) -> bool:
        """Run task i here unless a worker has it; True when its value is known."""
        if self.done[i]:
            return True
        fut = self.futures[i]
        if fut is None or fut.cancel():
            self.values[i], self.done[i], self.futures[i] = self.tasks[i](), True, None
            return True
        if fut.done():
            self.values[i], self.done[i] = fut.result(), True
            return True
        return False

    def results(self, then: "_Jobs | None" = None) -> list:
        for i in range(len(self.tasks)):
            self._steal(i)
        # tasks that workers are running: meanwhile take the next pool's unstarted ones
        if then is not None:
            for j in reversed(range(len(then.tasks))):
                if all(self.done[i] or self.futures[i].done() for i in range(len(self.tasks))):
                    break
                then._steal(j)
        for i in range(len(self.tasks)):
            if not self.done[i]:
                self.values[i], self.done[i] = self.futures[i].result(), True
        return self.values

    def cancel(self) -> None:
        for fut in self.futures:
            if fut is not None:
                fut.cancel()


@torch.no_grad()
def batch_correct(net: Network, ns: list[int], n_batches: int, batch_size: int,
                  generator: torch.Generator, bit_prob="per_batch", seq_len: int | None = None,
                  device="cpu", task: str = "parity"):
    """Yield, per fresh batch of ``task``, the number of correct answers of heads 0..len(ns)-1
    ([len(ns)]; head i answers N = ns[i])."""
    for _ in range(n_batches):
        x, y = task_batch(task, ns, batch_size, generator=generator, bit_prob=bit_prob,
                          seq_len=seq_len)
        out = network_logits(net, x.to(device), generator)[:len(ns)].cpu()
        yield (out.argmax(-1) == y.t()).float().sum(1)


def evaluate(net: Network, ns: list[int], n_batches: int, batch_size: int,
             generator: torch.Generator, bit_prob="per_batch", seq_len: int | None = None,
             device="cpu", task: str = "parity", pool: int = 1) -> list[float]:
    """Accuracy of every head (head i answers N = ns[i]) on fresh batches of ``task``.

    ``pool`` > 1 (leaky networks; a gated one ignores it): the batches are drawn in the same
    order (x, y, then the initial state) ``pool`` at a time and their final states computed by
    ``engine.pool_tasks`` on the torch threads (equal to ``pool`` = 1 up to float rounding)."""
    correct = torch.zeros(len(ns))
    if pool == 1 or isinstance(net, GatedRNN):
        for c in batch_correct(net, ns, n_batches, batch_size, generator, bit_prob, seq_len,
                               device, task):
            correct += c
        return (correct / (n_batches * batch_size)).tolist()
    with torch.no_grad(), _pool_threads():
        fused = engine.fused_weights(net)
        for start in range(0, n_batches, pool):
            xs, ys, h0s = [], [], []
            for _ in range(min(pool, n_batches - start)):
                x, y = task_batch(task, ns, batch_size, generator=generator, bit_prob=bit_prob,
                                  seq_len=seq_len)
                xs.append(x.to(device))
                ys.append(y)
                h0s.append(net.initial_state(batch_size, generator, device))
            tasks, assemble = engine.pool_tasks(fused, xs, h0s, feed=False,
                                                chunk=_pool_chunk(device))
            for finals, y in zip(assemble(_Jobs(tasks).results()), ys):
                out = net.readout(finals)[:len(ns)].cpu()
                correct += (out.argmax(-1) == y.t()).float().sum(1)
    return (correct / (n_batches * batch_size)).tolist()


def passes(acc: list[float], threshold: float) -> bool:
    """The curriculum criterion: mean over heads and newest head both above the threshold."""
    return sum(acc) / len(acc) > threshold and acc[-1] > threshold


def checkpoint_path(out: Path, n: int) -> Path:
    return Path(out) / f"stage_{n:03d}.pt"


def expected_structure(cfg: GrowthConfig, n: int) -> Structure | GatedStructure:
    """The structure of the network that trains (or has solved) N = n under ``cfg``."""
    k = stage_index(cfg, n) + 1
    if is_gated(cfg):
        return GatedStructure(cfg.architecture, cfg.module_size, k)
    if cfg.architecture == "nonmodular":
        return Structure(cfg.module_size, 1, (0,) * k)
    return Structure(cfg.module_size, k, tuple(range(k)))


def _check_run_folder(out: Path) -> None:
    """Refuse, before any training, a run folder that is a file or cannot be written, and stage
    checkpoints without the history that says what they are (they would be overwritten)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"run folder {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValueError(f"run folder {out} cannot be written ({e.strerror or e})") from None
    if not (out / "history.json").exists() and any(out.glob("stage_*.pt")):
        raise FileExistsError(f"{out} holds stage checkpoints but no history.json: neither "
                              f"resuming nor starting over is safe; move them away or choose "
                              f"another folder")


def read_history(out: Path, cfg: GrowthConfig | None = None) -> dict:
    """The history of the run in ``out``, checked: readable, with a valid config and stages
    N = the first of ``curriculum_ns`` (else ``BadData``). With ``cfg`` (a resume) also the same
    config but for budgets (RESUMABLE_CHANGES), and no budget below what the run already spent
    (else ``ValueError``)."""
    path = Path(out) / "history.json"
    hist = read_json(path)
    if not isinstance(hist, dict):
        raise BadData(path, "not a run history (not a JSON object)")
    try:
        old = GrowthConfig.from_dict(hist["config"])
        if not all(isinstance(s, dict) and set(STAGE_KEYS) <= set(s) for s in hist["stages"]):
            raise ValueError(f"stages are not stage records (each has {', '.join(STAGE_KEYS)})")
        ns = [s["n"] for s in hist["stages"]]
        spent = [int(s["steps"]) for s in hist["stages"]]
        if not isinstance(hist["provenance"], dict):
            raise TypeError("provenance is not an object")
    except (KeyError, TypeError, ValueError) as e:
        raise BadData(path, f"not a run history ({type(e).__name__}: {e})") from None
    if ns != curriculum_ns(old)[:len(ns)]:
        order = "" if old.order == "sequential" else f"{old.order} curriculum "
        raise BadData(path, f"stages {ns} are not the {order}N={old.n_start}, ... "
                            f"up to at most {old.max_n}")
    if cfg is None:
        return hist
    diffs = [f.name for f in fields(cfg)
             if getattr(old, f.name) != getattr(cfg, f.name) and f.name not in RESUMABLE_CHANGES]
    if diffs:
        raise ValueError(f"cannot resume {out}: config differs in {diffs}")
    lowered = []
    if ns and cfg.max_n < max(ns):
        lowered.append(f"max_n {cfg.max_n} < N={max(ns)} already solved")
    if spent and cfg.max_steps_per_stage < max(spent):
        lowered.append(f"max_steps_per_stage {cfg.max_steps_per_stage} < {max(spent)} steps "
                       f"already spent on one stage")
    if cfg.max_total_steps is not None and cfg.max_total_steps < sum(spent):
        lowered.append(f"max_total_steps {cfg.max_total_steps} < {sum(spent)} steps already "
                       f"spent")
    if lowered:
        raise ValueError(f"cannot resume {out}: budget lowered below what the run spent "
                         f"({'; '.join(lowered)})")
    if ns != curriculum_ns(cfg)[:len(ns)]:
        raise ValueError(f"cannot resume {out}: with max_n {cfg.max_n} the {cfg.order} "
                         f"curriculum orders the solved stages {ns} differently")
    return hist


def _resume(out: Path, cfg: GrowthConfig):
    hist = read_history(out, cfg)
    if not hist["stages"]:
        return None, None, None, hist
    last = hist["stages"][-1]["n"]
    path = checkpoint_path(out, last)
    net, ck = load_network(path, expect=expected_structure(cfg, last))
    generator = torch.Generator()
    if "rng" not in ck:
        raise BadData(path, "no generator state ('rng')")
    try:
        generator.set_state(ck["rng"])
    except (TypeError, RuntimeError, ValueError) as e:
        raise BadData(path, f"its generator state ('rng') is not valid ({e})") from None
    template = ck.get("template")
    if (cfg.duplicate_source == "untrained" and cfg.architecture == "modular"
            and stage_index(cfg, last) > 0):
        block = net.blocks[-1]
        if not isinstance(template, dict) or any(
                k not in template or template[k].shape != getattr(block, k).shape
                for k in net.block_parameters(-1)):
            raise BadData(path, "no valid template of the last module as it was initialised")
    return net, generator, template, hist


def _record_threads(hist: dict, old: dict) -> None:
    """Carry the thread-count changes of the resumed history ``old`` into ``hist``, adding one
    when this process uses another count than the run so far."""
    changes = list(old.get("thread_changes", []))
    before, now = old["provenance"].get("torch_threads"), torch.get_num_threads()
    if before is not None and before != now:
        changes.append({"after_n": hist["resumed_from"], "from": before, "to": now})
    if changes:
        hist["thread_changes"] = changes
        hist["bit_exact_reproduction"] = False


def max_solved(hist: dict) -> int | None:
    """The largest N among the solved stages (the last one's, but in a shuffled curriculum)."""
    return max((s["n"] for s in hist["stages"]), default=None)


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="N", desc="curriculum", dynamic_ncols=True)


def train_curriculum(cfg: GrowthConfig, out: Path | str | None = None, *, resume: bool = False,
                     progress: bool = True, device: str = "cpu", stop_after_steps: int | None = None,
                     on_check: Callable[[dict], None] | None = None) -> RunResult:
    """Run the curriculum; returns the history and the trained network (history also written to
    ``out/history.json`` with a checkpoint per stage when ``out`` is given).

    ``out`` is checked before any training: it must be a writable folder (created if missing),
    and stage checkpoints without a history.json are refused rather than overwritten. With
    ``resume`` the run continues from its last stage checkpoint, which must hold the network
    that the config and the stage call for (``expected_structure``); only budgets may change
    (``RESUMABLE_CHANGES``), and none below what the run already spent.

    Threads: a resume with another torch thread count than the run so far is allowed, but the
    history records it (``thread_changes``: after which N, from and to how many threads) and
    says ``bit_exact_reproduction: false``, because recomputing the run in one go with either
    count need not give the same floats; ``reproduce`` then expects no bit-exact match.

    An exception during training (a full disk, say) ends the run with status ``failed`` and the
    exception's one-line reason as message (written to ``out/history.json`` when that still
    works), then propagates; the run resumes from its last stage checkpoint.

    Per stage the history keeps N, steps to criterion, epochs, wall seconds, the accuracy of every
    head on the test that ended the stage, the number of checks and of candidate passes that
    confirmation rejected. The returned network is that of the last solved stage (a run that
    stops on a budget does not return the half-trained module of the stage it failed). ``stop_after_steps`` aborts the run (KeyboardInterrupt) after that
    many SGD steps in total; it exists to test that a killed run resumes to the same history.
    ``on_check`` (if given) receives every criterion check as it happens: ``{"n", "step",
    "accuracy"}`` (the check's accuracy per head) and, when the check passed and was confirmed
    on fresh batches, ``"confirmation"`` (those accuracies) and ``"confirmed"``; it sees the
    numbers only, so the run is the same with or without it (the learning curves of a stage).
    """
    out = Path(out) if out is not None else None
    if out is not None:
        _check_run_folder(out)
    net = generator = template = None
    hist = {"config": asdict(cfg), "provenance": provenance(device), "stages": [],
            "status": "running", "stop": None, "message": ""}
    if out is not None and (out / "history.json").exists():
        if not resume:
            raise FileExistsError(f"{out} already holds a run: pass resume=True (--resume) or "
                                  f"choose another folder")
        net, generator, template, old = _resume(out, cfg)
        hist["stages"] = old["stages"]
        hist["resumed_from"] = old["stages"][-1]["n"] if old["stages"] else None
        _record_threads(hist, old)
    solved = None  # the network of the last solved stage
    order = curriculum_ns(cfg)
    if net is None:
        generator = torch.Generator().manual_seed(cfg.seed)
        net = new_network(cfg, generator)
        k = 0
    else:
        solved = copy.deepcopy(net)
        k = len(hist["stages"])
        if k == len(order):
            hist.update(status="complete", stop=StopReason.COMPLETE.value,
                        message=f"reached N={order[-1]}", max_n_reached=max(order))
            return RunResult(hist, net)
        template = grow(net, cfg, generator, template)
    n = order[k]
    net.to(device)
    bar = _progress(progress, len(order), k)
    steps_total = 0
    try:
        while True:
            t0 = time.perf_counter()
            stage = Stage(net, cfg, device)
            ns = stage.ns
            steps = checks = rejected = 0
            while True:
                with contextlib.closing(stage.steps(generator, cfg.eval_every)) as window:
                    for _ in window:
                        steps += 1
                        steps_total += 1
                        if stop_after_steps is not None and steps_total >= stop_after_steps:
                            raise KeyboardInterrupt("stop_after_steps reached")
                acc = evaluate(net, ns, cfg.eval_batches, cfg.batch_size, generator,
                               cfg.bit_prob, device=device, task=cfg.task,
                               pool=cfg.prefix_pool)
                checks += 1
                seen = {"n": n, "step": steps, "accuracy": acc}
                if passes(acc, cfg.threshold) and cfg.criterion == "confirmed":
                    acc = evaluate(net, ns, cfg.confirm_batches, cfg.batch_size, generator,
                                   cfg.bit_prob, device=device, task=cfg.task,
                                   pool=cfg.prefix_pool)
                    confirmed = passes(acc, cfg.threshold + cfg.confirm_margin)
                    rejected += not confirmed
                    seen.update(confirmation=acc, confirmed=confirmed)
                else:
                    confirmed = passes(acc, cfg.threshold)
                if on_check is not None:
                    on_check(seen)
                if bar is not None:
                    bar.set_postfix_str(f"N={n} step={steps} new={acc[-1]:.3f} "
                                        f"mean={sum(acc) / len(acc):.3f}")
                if confirmed:
                    break
                if steps >= cfg.max_steps_per_stage:
                    raise _Stopped(StopReason.STAGE_BUDGET,
                                   f"N={n} not solved within {cfg.max_steps_per_stage} steps "
                                   f"(newest head {acc[-1]:.3f}, mean {sum(acc) / len(acc):.3f})")
                done = sum(s["steps"] for s in hist["stages"]) + steps
                if cfg.max_total_steps is not None and done >= cfg.max_total_steps:
                    raise _Stopped(StopReason.TOTAL_BUDGET,
                                   f"total step budget of {cfg.max_total_steps} spent during "
                                   f"N={n} (newest head {acc[-1]:.3f})")
            record = {
                "n": n, "steps": steps, "epochs": math.ceil(steps / cfg.steps_per_epoch),
                "seconds": round(time.perf_counter() - t0, 3),
                "accuracy": {str(k): round(a, 5) for k, a in zip(ns, acc)},
                "checks": checks, "rejected": rejected,
            }
            if out is not None:  # the checkpoint first: a stage in the history can be resumed
                extra = {"template": template} if template is not None else {}
                save_network(checkpoint_path(out, n), net, rng=generator.get_state(), **extra)
            hist["stages"].append(record)
            if out is not None:
                write_json(out / "history.json", hist)
            solved = copy.deepcopy(net)
            if bar is not None:
                bar.update(1)
            if k == len(order) - 1:
                hist.update(status="complete", stop=StopReason.COMPLETE.value,
                            message=f"reached N={n}")
                break
            k += 1
            n = order[k]
            template = grow(net, cfg, generator, template)
            net.to(device)
    except _Stopped as e:
        hist.update(status="stopped", stop=e.reason.value, message=str(e))
        if solved is not None:
            net = solved
    except Exception as e:
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        hist.update(status="failed", stop=StopReason.FAILED.value, message=reason,
                    max_n_reached=max_solved(hist))
        if out is not None:
            try:
                write_json(out / "history.json", hist)
            except OSError:
                pass  # the disk that failed the run may fail this too; the error still goes up
        raise
    finally:
        if bar is not None:
            bar.close()
    hist["max_n_reached"] = max_solved(hist)
    if out is not None:
        write_json(out / "history.json", hist)
    return RunResult(hist, net)
