"""The curriculum trainer for both architectures.

Curriculum: N = n_start, n_start + 1, ... For the modular network each new N adds a module (fed by
the last one) and a head reading it; for the non-modular network each new N adds a head on the one
population. A stage ends when, on fresh batches, the mean accuracy over all heads and the accuracy
of the newest head both exceed ``threshold``; the check runs every ``eval_every`` SGD steps, and
steps are also counted in the paper's epochs of ``steps_per_epoch`` steps.

Freezing: at a stage with K modules, module k (and its head) trains with learning rate
lr * gamma^(K-1-k); gamma = 0 is hard freezing. Unlike the authors' code, the taus of frozen
modules freeze too, frozen parameters are left out of the optimiser and of gradient clipping, and
new modules copy the *trained* previous module (FACTS.md lists the differences).

Speed (exact, no approximation): modules whose learning rate is zero form a prefix that is run once
per batch under ``torch.no_grad()``; only the trajectory of its last module, which feeds the first
trainable module, is kept. The autograd graph covers the trainable modules alone, whose heads are
the only ones whose loss can change a trainable parameter.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch.nn import functional as F

from .network import RNN, Structure
from .store import load_tensors, provenance, read_json, save_tensors, write_json
from .tasks import parity_batch

__all__ = ["GrowthConfig", "train_curriculum", "evaluate", "lr_multiplier", "RunStopped", "RunResult", "Stage", "network_at_stage",
           "load_network"]

ARCHITECTURES = ("modular", "nonmodular")
# fields that may change when a run is resumed (budgets), all others must match
RESUMABLE_CHANGES = ("max_n", "max_steps_per_stage", "max_total_steps")


@dataclass(frozen=True)
class GrowthConfig:
    """Everything that defines one curriculum run.

    ``module_size`` is the neurons per module (modular) or the population size (non-modular).
    """

    architecture: str = "modular"
    module_size: int = 10
    n_start: int = 2
    max_n: int = 30
    seed: int = 0
    lr: float = 0.1
    momentum: float = 0.1
    batch_size: int = 256
    clip: float = 2.0
    duplicate: bool = True
    noise: float = 0.05
    gamma: float = 0.0
    fix_within: bool = False
    eval_every: int = 50
    eval_batches: int = 10
    threshold: float = 0.98
    steps_per_epoch: int = 500
    max_steps_per_stage: int = 20_000
    max_total_steps: int | None = None
    bit_prob: float | str = "per_batch"

    def __post_init__(self):
        errors = []
        if self.architecture not in ARCHITECTURES:
            errors.append(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        for name in ("module_size", "batch_size", "eval_every", "eval_batches", "steps_per_epoch",
                     "max_steps_per_stage"):
            if int(getattr(self, name)) < 1:
                errors.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_total_steps is not None and self.max_total_steps < 1:
            errors.append(f"max_total_steps must be >= 1 or None, got {self.max_total_steps}")
        if self.n_start < 1:
            errors.append(f"n_start must be >= 1, got {self.n_start}")
        if self.max_n < self.n_start:
            errors.append(f"max_n ({self.max_n}) must be >= n_start ({self.n_start})")
        if not self.lr > 0:
            errors.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            errors.append(f"momentum must be in [0, 1), got {self.momentum}")
        if not self.clip > 0:
            errors.append(f"clip must be > 0, got {self.clip}")
        if self.noise < 0:
            errors.append(f"noise must be >= 0, got {self.noise}")
        if not 0 <= self.gamma <= 1:
            errors.append(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0 < self.threshold < 1:
            errors.append(f"threshold must be in (0, 1), got {self.threshold}")
        if self.bit_prob != "per_batch" and not (
                isinstance(self.bit_prob, (int, float)) and 0 <= self.bit_prob <= 1):
            errors.append(f"bit_prob must be 'per_batch' or a probability, got {self.bit_prob!r}")
        if self.architecture == "nonmodular" and (self.gamma != 0 or self.fix_within):
            errors.append("gamma and fix_within apply to the modular network only")
        if errors:
            raise ValueError("; ".join(errors))

    @classmethod
    def from_dict(cls, d: dict) -> "GrowthConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {unknown}")
        return cls(**d)


@dataclass
class RunResult:
    history: dict
    network: RNN


class RunStopped(Exception):
    """Raised inside a stage when its step budget is spent without reaching the criterion."""


def lr_multiplier(cfg: GrowthConfig, n_blocks: int, block: int, cls: str) -> float:
    """Learning-rate factor of a parameter of ``block`` (of class ``cls``) at a stage with
    ``n_blocks`` modules."""
    if cfg.architecture == "nonmodular":
        return 1.0
    if cfg.fix_within and cls == "within":
        return 0.0
    age = n_blocks - 1 - block
    return 1.0 if age == 0 else cfg.gamma ** age


def head_ns(cfg: GrowthConfig, n_heads: int) -> list[int]:
    return [cfg.n_start + i for i in range(n_heads)]


def new_network(cfg: GrowthConfig, generator: torch.Generator) -> RNN:
    net = RNN(cfg.module_size, generator)
    net.add_head(0, generator)
    return net


def grow(net: RNN, cfg: GrowthConfig, generator: torch.Generator) -> None:
    """One curriculum step: a new module and its head (modular) or a new head (non-modular)."""
    if cfg.architecture == "modular":
        block = net.add_block(duplicate=cfg.duplicate, noise=cfg.noise, generator=generator)
        net.add_head(block, generator)
    else:
        net.add_head(0, generator)


def network_at_stage(cfg: GrowthConfig, n: int, generator: torch.Generator) -> RNN:
    """A fresh network with the structure of the stage that trains N = n (random parameters)."""
    net = new_network(cfg, generator)
    for _ in range(n - cfg.n_start):
        grow(net, cfg, generator)
    return net


def _mark_trainable(net: RNN, cfg: GrowthConfig):
    """Set requires_grad from the learning-rate policy; returns optimiser groups and the first
    block with anything to train."""
    groups: dict[float, list] = {}
    first = net.n_blocks
    for block, cls, _, p in net.classified_parameters():
        mult = lr_multiplier(cfg, net.n_blocks, block, cls)
        p.requires_grad_(mult > 0)
        if mult > 0:
            groups.setdefault(mult, []).append(p)
            first = min(first, block)
    param_groups = [{"params": ps, "lr": cfg.lr * m} for m, ps in groups.items()]
    return param_groups, first


def training_loss(net: RNN, x: torch.Tensor, y: torch.Tensor, first: int,
                  generator: torch.Generator) -> torch.Tensor:
    """Summed cross-entropy of the heads that read trainable blocks (>= first); blocks before
    ``first`` run without autograd and only hand over the trajectory that feeds block ``first``."""
    h0 = net.initial_state(x.shape[0], generator, x.device)
    traj = None
    if first > 0:
        with torch.no_grad():
            _, traj = net.scan(x, h0[:first], 0, first, keep_last=True)
    finals, _ = net.scan(x, h0[first:], first, net.n_blocks, ff_in=traj)
    heads = [i for i, b in enumerate(net.head_blocks) if b >= first]
    logits = net.readout(finals, heads, offset=first)
    return sum(F.cross_entropy(logits[j], y[:, i]) for j, i in enumerate(heads))


class Stage:
    """One curriculum stage of ``net``: which parameters train (per the config's freezing
    policy), a fresh Nesterov-SGD optimiser over them, and the SGD step."""

    def __init__(self, net: RNN, cfg: GrowthConfig, device: str = "cpu"):
        self.net, self.cfg, self.device = net, cfg, device
        self.ns = head_ns(cfg, len(net.heads))
        groups, self.first = _mark_trainable(net, cfg)
        self.trainable = [p for g in groups for p in g["params"]]
        self.opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)

    def step(self, generator: torch.Generator) -> None:
        """One SGD step on a fresh batch: forward, summed cross-entropy, backward, gradient
        clipping over the trainable parameters, optimiser step."""
        cfg = self.cfg
        x, y = parity_batch(self.ns, cfg.batch_size, generator=generator, bit_prob=cfg.bit_prob)
        loss = training_loss(self.net, x.to(self.device), y.to(self.device), self.first,
                             generator)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable, cfg.clip)
        self.opt.step()


@torch.no_grad()
def evaluate(net: RNN, ns: list[int], n_batches: int, batch_size: int,
             generator: torch.Generator, bit_prob="per_batch", seq_len: int | None = None,
             device="cpu") -> list[float]:
    """Accuracy of every head (head i answers N = ns[i]) on fresh batches."""
    correct = torch.zeros(len(ns))
    total = 0
    for _ in range(n_batches):
        x, y = parity_batch(ns, batch_size, generator=generator, bit_prob=bit_prob, seq_len=seq_len)
        logits = net(x.to(device), generator).cpu()
        correct += (logits.argmax(-1) == y.t()).float().sum(1)
        total += batch_size
    return (correct / total).tolist()


def _checkpoint_path(out: Path, n: int) -> Path:
    return out / f"stage_{n:03d}.pt"


def _save_checkpoint(out: Path, n: int, net: RNN, generator: torch.Generator) -> None:
    save_tensors(_checkpoint_path(out, n), {
        "structure": net.structure().to_dict(),
        "state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "rng": generator.get_state(),
    })


def load_network(path: Path) -> tuple[RNN, dict]:
    """Rebuild a network from a stage checkpoint (strict: every tensor must match)."""
    ck = load_tensors(path)
    net = RNN.from_structure(Structure.from_dict(ck["structure"]))
    net.load_state_dict(ck["state"], strict=True)
    return net, ck


def _resume(out: Path, cfg: GrowthConfig):
    hist = read_json(out / "history.json")
    old = GrowthConfig.from_dict(hist["config"])
    diffs = [f.name for f in fields(cfg)
             if getattr(old, f.name) != getattr(cfg, f.name) and f.name not in RESUMABLE_CHANGES]
    if diffs:
        raise ValueError(f"cannot resume {out}: config differs in {diffs}")
    if not hist["stages"]:
        return None, None, hist
    last = hist["stages"][-1]["n"]
    net, ck = load_network(_checkpoint_path(out, last))
    generator = torch.Generator()
    generator.set_state(ck["rng"])
    return net, generator, hist


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="N", desc="curriculum", dynamic_ncols=True)


def train_curriculum(cfg: GrowthConfig, out: Path | str | None = None, *, resume: bool = False,
                     progress: bool = True, device: str = "cpu", stop_after_steps: int | None = None
                     ) -> "RunResult":
    """Run the curriculum; returns the history and the trained network (history also written to ``out/history.json`` with a
    checkpoint per stage when ``out`` is given).

    ``stop_after_steps`` aborts the run (KeyboardInterrupt) after that many SGD steps in total;
    it exists to test that a killed run resumes to the same history.
    """
    out = Path(out) if out is not None else None
    net = generator = None
    hist = {"config": asdict(cfg), "provenance": provenance(device), "stages": [],
            "status": "running", "message": ""}
    if out is not None and (out / "history.json").exists():
        if not resume:
            raise FileExistsError(f"{out} already holds a run: pass resume=True (--resume) or "
                                  f"choose another folder")
        net, generator, old = _resume(out, cfg)
        hist["stages"] = old["stages"]
        hist["resumed_from"] = old["stages"][-1]["n"] if old["stages"] else None
    if net is None:
        generator = torch.Generator().manual_seed(cfg.seed)
        net = new_network(cfg, generator)
        n = cfg.n_start
    else:
        n = hist["stages"][-1]["n"] + 1
        if n > cfg.max_n:
            hist["status"] = "complete"
            hist["max_n_reached"] = n - 1
            return RunResult(hist, net)
        grow(net, cfg, generator)
    net.to(device)
    bar = _progress(progress, cfg.max_n - cfg.n_start + 1, n - cfg.n_start)
    steps_total = 0
    try:
        while True:
            t0 = time.perf_counter()
            stage = Stage(net, cfg, device)
            ns = stage.ns
            steps, acc = 0, [0.0] * len(ns)
            while True:
                for _ in range(cfg.eval_every):
                    stage.step(generator)
                    steps += 1
                    steps_total += 1
                    if stop_after_steps is not None and steps_total >= stop_after_steps:
                        raise KeyboardInterrupt("stop_after_steps reached")
                acc = evaluate(net, ns, cfg.eval_batches, cfg.batch_size, generator,
                               cfg.bit_prob, device=device)
                if bar is not None:
                    bar.set_postfix_str(f"N={n} step={steps} new={acc[-1]:.3f} "
                                        f"mean={sum(acc) / len(acc):.3f}")
                if sum(acc) / len(acc) > cfg.threshold and acc[-1] > cfg.threshold:
                    break
                if steps >= cfg.max_steps_per_stage:
                    raise RunStopped(f"N={n} not solved within {cfg.max_steps_per_stage} steps "
                                     f"(newest head {acc[-1]:.3f}, mean {sum(acc) / len(acc):.3f})")
                done = sum(s["steps"] for s in hist["stages"]) + steps
                if cfg.max_total_steps is not None and done >= cfg.max_total_steps:
                    raise RunStopped(f"total step budget of {cfg.max_total_steps} spent during "
                                     f"N={n} (newest head {acc[-1]:.3f})")
            hist["stages"].append({
                "n": n, "steps": steps, "epochs": math.ceil(steps / cfg.steps_per_epoch),
                "seconds": round(time.perf_counter() - t0, 3),
                "accuracy": {str(k): round(a, 5) for k, a in zip(ns, acc)},
            })
            if out is not None:
                _save_checkpoint(out, n, net, generator)
                write_json(out / "history.json", hist)
            if bar is not None:
                bar.update(1)
            if n >= cfg.max_n:
                hist["status"] = "complete"
                hist["message"] = f"reached N={n}"
                break
            n += 1
            grow(net, cfg, generator)
            net.to(device)
    except RunStopped as e:
        hist["status"] = "stopped"
        hist["message"] = str(e)
    finally:
        if bar is not None:
            bar.close()
    hist["max_n_reached"] = hist["stages"][-1]["n"] if hist["stages"] else None
    if out is not None:
        write_json(out / "history.json", hist)
    return RunResult(hist, net)
