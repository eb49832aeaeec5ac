"""Drift of each module's weights from its initialisation (chapter 5, claim 5: conservation).

A stored run keeps its final network, not the weights each module started from. Those are replayed
exactly: module 0 from the run's seed, module k by loading the run's checkpoint of the stage before
(network and generator state, in the scratch folder where the run was computed) and adding the
module as the curriculum did (``training.grow``: duplication with noise, or a random draw). The
drift of a matrix is ``||W - W0||_F / ||W0||_F`` (within-module matrices: off the diagonal, which
the forward pass masks). The results are stored as analyses, so the book reads them without the
checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .io import load_network
from .perturbation import effective_matrix
from .store import StoredRun, load_or_compute, scratch_dir
from .training import (checkpoint_path, curriculum_ns, expected_structure, grow, new_network,
                       read_history)

__all__ = ["CLASS_PARAMS", "initial_blocks", "relative_change", "module_drift"]

# connection class -> the block's matrix (the vectors of a class are left out)
CLASS_PARAMS = {"within": "w_rec", "between": "w_ff", "input": "w_in", "tau": "tau"}


def initial_blocks(run: StoredRun, folder: Path | None = None) -> list[dict[str, torch.Tensor]]:
    """The parameters every solved module of ``run`` started its stage with, replayed from the
    run's stage checkpoints in ``folder`` (default: its scratch folder). Sequential curricula
    only: module k is added after the stage of the k-th N."""
    cfg = run.config
    if cfg.architecture != "modular" or cfg.order != "sequential":
        raise ValueError(f"{run.path.name}: initial modules are replayed for sequential modular "
                         f"runs only")
    folder = Path(folder) if folder is not None else scratch_dir() / run.path.name
    if len(run.stages) > 1:
        if not (folder / "history.json").exists():
            raise FileNotFoundError(f"{folder}: no run folder with stage checkpoints (they are "
                                    f"needed to replay the initial weights of modules 1..)")
        read_history(folder, cfg)  # refuses another run's folder
    order = curriculum_ns(cfg)[:len(run.stages)]
    net = new_network(cfg, torch.Generator().manual_seed(cfg.seed))
    out = [net.block_parameters(0)]
    for n in order[:-1]:
        path = checkpoint_path(folder, n)
        if not path.exists():
            raise FileNotFoundError(f"{path}: the checkpoint of stage N={n} is needed to replay "
                                    f"the initial weights of the module added after it")
        net, ck = load_network(path, expect=expected_structure(cfg, n))
        generator = torch.Generator()
        generator.set_state(ck["rng"])
        grow(net, cfg, generator, ck.get("template"))
        out.append(net.block_parameters(-1))
    return out


def relative_change(w: torch.Tensor, w0: torch.Tensor, name: str) -> float:
    """``||w - w0|| / ||w0||`` (Frobenius) of the matrices the forward pass uses (``w_rec``: off
    the diagonal)."""
    w, w0 = effective_matrix(w, name), effective_matrix(w0, name)
    return float(torch.linalg.norm(w - w0) / torch.linalg.norm(w0))


def module_drift(run: StoredRun, folder: Path | None = None) -> dict:
    """Stored analysis: per connection class, the drift of every solved module's matrix from its
    initialisation in the run's final network (module 0 has no between-module matrix: None)."""
    spec = {"analysis": "module-drift", "run": run.path.name, "classes": CLASS_PARAMS}

    def compute():
        final = run.network()
        initial = initial_blocks(run, folder)
        out = {}
        for cls, name in CLASS_PARAMS.items():
            out[cls] = [None if w0.get(name) is None else
                        round(relative_change(getattr(final.blocks[k], name).detach(),
                                              w0[name], name), 6)
                        for k, w0 in enumerate(initial)]
        return {"modules": len(initial), "drift": out}
    return load_or_compute("analysis", f"drift-{run.path.name[:40]}", spec, compute)["data"]
