"""The book's experiments, one module per chapter, and the registry that the command line, the
claims ledger, the notebook tests and the sweep launcher read.

Each chapter module defines ``CHAPTER`` (its title in the ledger), ``EXPERIMENTS`` (a tuple of
``Experiment``: name, configs per profile, derived analyses) and ``verdicts(profile)`` (its rows
of the claims ledger). Adding a chapter's experiment means adding its module to ``CHAPTERS``; each
of them has a page of the book.

``DRAFTS`` are experiment modules whose page is not in the book yet (a page drafted under
``drafts/`` whose paper-scale runs are not all stored; none at present): their experiments are in
``REGISTRY`` (the command line computes and sweeps them) but they give no rows to the claims
ledger until their page moves into ``book/`` and ``_toc.yml`` and the module into ``CHAPTERS``.
"""

from __future__ import annotations

import contextlib

from . import (architecture, baseline, beyond, curriculum, fidelity, perturbations, task,
               timescales)
from .spec import Experiment

__all__ = ["CHAPTERS", "DRAFTS", "REGISTRY", "Experiment", "get", "compute"]

CHAPTERS = (task, architecture, curriculum, fidelity, baseline, perturbations, timescales,
            beyond)
DRAFTS = ()
REGISTRY: dict[str, Experiment] = {e.name: e for m in CHAPTERS + DRAFTS for e in m.EXPERIMENTS}


def get(name: str) -> Experiment:
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(REGISTRY)}")
    return REGISTRY[name]


def compute(name: str, profile, shard: tuple[int, int] = (0, 1), progress: bool = True,
            analyses: bool = True, stored_only: bool = False) -> list:
    """Load or run every config of experiment ``name`` in ``profile`` (``shard`` i of n takes
    configs i, i+n, ... so n processes can share the work), then its analyses (unsharded runs
    only). With ``stored_only`` nothing is trained: a ``FileNotFoundError`` says how many of the
    configs have no stored run (and names the first) before anything runs, and an analysis that
    needs a run which is not stored fails the same way."""
    from ..store import load_or_run, load_run, results_dir, run_path, stored_runs_only

    exp = get(name)
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"bad shard {i}/{n}: need 0 <= I < N")
    cfgs = exp.configs(profile)[i::n]
    if stored_only:
        runs = [load_run(c) for c in cfgs]
        missing = [c for c, r in zip(cfgs, runs) if r is None]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(cfgs)} runs of {name} (profile {profile.name}) are not "
                f"in the results store {results_dir()}, the first {run_path(missing[0]).name}; "
                f"'python -m modgrow compute {name}' without --stored-only trains them")
    else:
        runs = [load_or_run(c, progress=progress) for c in cfgs]
    if analyses and exp.analyse is not None and n == 1:
        with stored_runs_only() if stored_only else contextlib.nullcontext():
            exp.analyse(profile)
    return runs
