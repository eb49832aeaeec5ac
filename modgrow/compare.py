"""Comparing the modular and non-modular networks (chapter 4): capacity at equal neurons and
equal parameters, and two generalisation tests.

Generalisation tests, both run on networks taken at the same curriculum stage N0:

* length generalisation: accuracy of every head on sequences ``factor`` times longer than the
  longest the network was trained on at that stage (training distribution of bits, so that only
  the length changes; factor 1 is that one longest trained length, not the range of lengths that
  training and the criterion draw from);
* transfer: the network grows for N0 + 1 (a new module for the modular network, a new head for the
  non-modular one) and the accuracy of the new head is measured before training and after a few SGD
  steps of the ordinary curriculum stage.
"""

from __future__ import annotations

import copy
import functools
import json

import torch

from .network import RNN, count_parameters
from .tasks import length_range
from .training import GrowthConfig, Stage, evaluate, grow, head_ns

__all__ = ["length_generalisation", "transfer_curve", "params_by_stage",
           "max_n_within", "parameters_at_stage"]


@torch.no_grad()
def length_generalisation(net: RNN, cfg: GrowthConfig, factors=(1, 2, 5, 10),
                          n_batches: int = 4, seed: int = 0) -> dict:
    """Accuracy of every head at sequence lengths ``factor`` x the longest trained length (the
    last length of ``length_range`` at the stage's largest N; factor 1 is that fixed length, not
    the range of lengths the criterion tests), bits drawn as in training."""
    ns = head_ns(cfg, len(net.heads))
    longest = length_range(cfg.task, max(ns))[1] - 1
    out = {}
    for f in factors:
        g = torch.Generator().manual_seed(seed)
        acc = evaluate(net, ns, n_batches, 256, g, cfg.bit_prob, seq_len=f * longest,
                       task=cfg.task)
        out[str(f)] = {str(n): round(a, 5) for n, a in zip(ns, acc)}
    return {"longest_trained": longest, "accuracy": out}


def transfer_curve(net: RNN, cfg: GrowthConfig, checkpoints=(0, 50, 100, 200, 500),
                   n_eval: int = 10, seed: int = 0) -> dict:
    """Grow ``net`` once more and train the new stage; accuracy of the new head (and mean of all
    heads) after each number of SGD steps in ``checkpoints``."""
    net = copy.deepcopy(net)
    g = torch.Generator().manual_seed(seed)
    grow(net, cfg, g)
    stage = Stage(net, cfg)
    done, rows = 0, []
    for c in sorted(checkpoints):
        for _ in range(c - done):
            stage.step(g)
        done = c
        acc = evaluate(net, stage.ns, n_eval, 256, torch.Generator().manual_seed(seed + 1),
                       cfg.bit_prob, task=cfg.task)
        rows.append({"steps": c, "new_head": round(acc[-1], 5),
                     "mean": round(sum(acc) / len(acc), 5)})
    return {"n": stage.ns[-1], "curve": rows}


def parameters_at_stage(cfg: GrowthConfig, n: int) -> dict[str, int]:
    """Total and trainable parameters of ``cfg``'s network at the stage that trains N = n
    (trainable: what the optimiser updates at that stage)."""
    from .training import lr_multiplier, network_at_stage
    net = network_at_stage(cfg, n, torch.Generator().manual_seed(0))
    c = count_parameters(net, lambda b, cls, name: lr_multiplier(cfg, net.n_blocks, b, cls) > 0)
    return {"total": c["total"]["all"], "trainable": c["trainable"]["all"]}


def params_by_stage(history: dict) -> list[dict]:
    """Total and trainable parameters of a run's network at every stage it solved."""
    return [dict(r) for r in _params_by_stage(json.dumps(history["config"], sort_keys=True),
                                              tuple(s["n"] for s in history["stages"]))]


@functools.lru_cache(maxsize=256)
def _params_by_stage(config_json: str, ns: tuple[int, ...]) -> tuple[dict, ...]:
    cfg = GrowthConfig.from_dict(json.loads(config_json))
    from .training import lr_multiplier, new_network
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    rows, template = [], None
    for n in ns:
        if n > cfg.n_start:
            template = grow(net, cfg, g, template)
        c = count_parameters(net, lambda b, cls, name: lr_multiplier(cfg, net.n_blocks, b, cls) > 0)
        rows.append({"n": n, "neurons": net.n_neurons, "total": c["total"]["all"],
                     "trainable": c["trainable"]["all"]})
    return tuple(rows)


def max_n_within(history: dict, neurons: int | None = None, params: int | None = None,
                 total_steps: int | None = None, measure: str = "total") -> int:
    """Largest N a run solved using at most ``neurons`` neurons, ``params`` parameters (``measure``
    "total" or "trainable" at that stage), and ``total_steps`` SGD steps counted from the start
    (0 when it solved none)."""
    best, spent = 0, 0
    for row, stage in zip(params_by_stage(history), history["stages"]):
        spent += stage["steps"]
        if neurons is not None and row["neurons"] > neurons:
            break
        if params is not None and row[measure] > params:
            break
        if total_steps is not None and spent > total_steps:
            break
        best = row["n"]
    return best


def _ci(values) -> str:
    from .analysis import mean_ci
    m, ci = mean_ci(values)
    return f"{m:.1f}" if ci != ci else f"{m:.1f} ± {ci:.1f}"


def equal_neuron_rows(modular: dict[int, list[dict]], nonmodular: dict[int, list[dict]],
                      total_steps: int) -> list[dict]:
    """For each non-modular size P: the highest N of the non-modular networks (per seed) and of
    every modular size with at most P neurons, all within ``total_steps`` steps."""
    rows = []
    for p, hs in sorted(nonmodular.items()):
        row = {"neurons": p, "non-modular": [h.get("max_n_reached") or 0 for h in hs]}
        for m, mh in sorted(modular.items()):
            row[f"modular M_m={m}"] = [max_n_within(h, neurons=p, total_steps=total_steps)
                                       for h in mh]
        rows.append(row)
    return rows


def equal_param_rows(modular: dict[int, list[dict]], nonmodular: dict[int, list[dict]],
                     total_steps: int, measure: str = "total") -> list[dict]:
    """For each non-modular size: the mean parameter count of its final networks (``measure``:
    "total" or "trainable"; all of a non-modular network trains), its highest N per seed, and
    per seed the highest N of each modular size with at most as many parameters of that kind."""
    rows = []
    for p, hs in sorted(nonmodular.items()):
        finals = [params_by_stage(h)[-1][measure] for h in hs if h["stages"]]
        params = round(sum(finals) / len(finals)) if finals else 0
        row = {"non-modular neurons": p, "parameters": params,
               "non-modular": [h.get("max_n_reached") or 0 for h in hs]}
        for m, mh in sorted(modular.items()):
            row[f"modular M_m={m}"] = [max_n_within(x, params=params, total_steps=total_steps,
                                                    measure=measure) for x in mh]
        rows.append(row)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Rows with per-seed lists turned into 'mean ± 95% CI' strings."""
    return [{k: (_ci(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows]


def capacity_curves(modular: dict[int, list[dict]], measure: str,
                    total_steps: int | None = None) -> dict[int, list[tuple[list, list]]]:
    """Per module size and seed: (size measure, N) at every stage solved within the budget;
    ``measure`` is "neurons" or "total" (parameters)."""
    curves = {}
    for m, hs in modular.items():
        for h in hs:
            keep = max_n_within(h, total_steps=total_steps)
            rows = [r for r in params_by_stage(h) if r["n"] <= keep]
            curves.setdefault(m, []).append(([r[measure] for r in rows], [r["n"] for r in rows]))
    return curves


def capacity_points(nonmodular: dict[int, list[dict]], measure: str) -> dict[int, tuple]:
    """Per non-modular size: (size measure, highest N of each seed); for parameters the measure
    is the mean over seeds of the final network's total."""
    out = {}
    for p, hs in nonmodular.items():
        finals = [params_by_stage(h)[-1][measure] for h in hs if h["stages"]]
        out[p] = (sum(finals) / len(finals) if finals else p,
                  [h.get("max_n_reached") or 0 for h in hs])
    return out
