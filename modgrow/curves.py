"""Learning curves within a stage: every criterion check of one stage of a stored run.

Stored histories keep one record per stage (steps to criterion, the accuracies of the test that
ended it). The curve inside a stage is recomputed: the stage is trained again from the run's
checkpoint of the stage before (network and generator state, in the scratch folder where the run
was computed), with the run's torch thread count, recording every check. On the platform that
computed the run this is the same stage float for float; ``reproduced`` says whether the steps and
the final accuracies came out as stored, so a curve that is not the stored stage's is never passed
off as it. The curves are stored as analyses (``load_or_compute``), so the book reads them without
the checkpoints.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from .io import write_json
from .store import StoredRun, load_or_compute, scratch_dir
from .training import checkpoint_path, curriculum_ns, read_history, train_curriculum

__all__ = ["stage_curve", "recompute_stage"]


@contextlib.contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_row(c: dict) -> dict:
    row = {"step": c["step"], "newest": round(c["accuracy"][-1], 5),
           "mean": round(sum(c["accuracy"]) / len(c["accuracy"]), 5)}
    if "confirmation" in c:
        conf = c["confirmation"]
        row.update(confirm_newest=round(conf[-1], 5), confirm_mean=round(sum(conf) / len(conf), 5),
                   confirmed=c["confirmed"])
    return row


def recompute_stage(run: StoredRun, n: int, folder: Path | None = None) -> dict:
    """Train stage N = ``n`` of ``run`` again from its checkpoint of the stage before (in
    ``folder``, by default the run's scratch folder; the first stage starts afresh), recording
    every criterion check. Sequential and every-second-N curricula only (a shuffled curriculum
    cut at ``n`` would shuffle other N values)."""
    cfg = run.config
    if cfg.order == "shuffled":
        raise ValueError(f"{run.path.name}: stage curves of a shuffled curriculum are not "
                         f"supported")
    order = curriculum_ns(cfg)
    if n not in order[:len(run.stages)]:
        raise ValueError(f"{run.path.name} did not solve N={n} (solved "
                         f"{[s['n'] for s in run.stages]})")
    k = order.index(n)
    short = replace(cfg, max_n=n)
    checks: list[dict] = []
    with _threads(run.provenance.get("torch_threads")), tempfile.TemporaryDirectory() as tmp:
        if k > 0:
            src = Path(folder) if folder is not None else scratch_dir() / run.path.name
            ck = checkpoint_path(src, order[k - 1])
            if not ck.exists():
                raise FileNotFoundError(f"{ck}: the checkpoint of the stage before N={n} is "
                                        f"needed to recompute its learning curve")
            hist = read_history(src)
            write_json(Path(tmp) / "history.json",
                       {**hist, "config": {**hist["config"], "max_n": n},
                        "stages": hist["stages"][:k], "status": "stopped"})
            shutil.copy(ck, Path(tmp) / ck.name)
        res = train_curriculum(short, tmp, resume=k > 0, progress=False,
                               on_check=checks.append)
    stage, stored = res.history["stages"][-1], run.stages[k]
    return {"run": run.path.name, "n": n, "checks": [_check_row(c) for c in checks],
            "steps": stage["steps"], "stored_steps": stored["steps"],
            "reproduced": (stage["steps"] == stored["steps"]
                           and stage["accuracy"] == stored["accuracy"])}


def stage_curve(run: StoredRun, n: int) -> dict:
    """The stored learning curve of stage N = ``n`` of ``run`` (``recompute_stage``, computed
    once and stored as an analysis)."""
    spec = {"run": run.path.name, "n": n}
    return load_or_compute("analysis", f"curve-{run.path.name[:40]}-n{n}", spec,
                           lambda: recompute_stage(run, n))["data"]
