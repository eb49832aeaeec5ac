"""Work through the runs of several experiments with any number of worker processes on one
machine: each worker claims the next config that is neither stored nor claimed (an exclusive
claim file in the scratch folder), runs it resumably, and moves on. Start one worker per core:

    OMP_NUM_THREADS=1 nohup python tools/run_queue.py growth baseline ablations &   # twice

Experiments are taken in the order given, their configs in the order the experiment lists them
(``--first`` puts configs of the given module sizes first); ``NAME@M`` takes only the configs of
module (or population) size M, so ``growth@10 baseline growth@5`` interleaves experiments. A worker that dies leaves its claim;
delete ``<scratch>/claims`` (or the one file) to release it, and the run resumes from its last
checkpoint. Analyses are not run here: ``python -m modgrow compute NAME`` does them afterwards.

Long runs span sessions through ``results/parked/`` (tracked): ``--park`` copies what each run
of the queue in progress needs to resume (its history and last stage checkpoint) there and
exits, ready to commit; a worker restores a parked run into its scratch folder before resuming
it, and deletes the parked copy once the run is stored.

``--set FIELD=VALUE`` widens the active profile for this queue only (a Python literal, checked
as the profile checks its fields), so runs the book does not read yet can be trained before the
profile in ``modgrow/profiles.py`` is widened to list them:

    python tools/run_queue.py baseline baseline-long --set "baseline_sizes=(20, 50, 100, 150, 200)" \
        --set long_budget_max_size=200
    python tools/run_queue.py fidelity-margin --set "fidelity_margin_variants=('clip all',)"
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import sys
import time

import torch

from modgrow import profiles
from modgrow.experiments import get
from modgrow.store import load_or_run, load_run, park_run, run_path, scratch_dir, unpark_run


def widened(settings: list[str]) -> profiles.Profile:
    """The active profile with each ``FIELD=VALUE`` of ``settings`` replaced (VALUE a Python
    literal); an unknown field or an unreadable value is a ValueError naming it."""
    base = profiles.active()
    fields = {f.name for f in dataclasses.fields(base)}
    changes = {}
    for item in settings:
        field, sep, value = item.partition("=")
        if not sep or field not in fields or field == "name":
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of the profile's "
                             f"fields ({', '.join(sorted(fields - {'name'}))})")
        try:
            changes[field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(f"--set {item!r}: {value!r} is not a Python literal") from None
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as e:
        raise ValueError(f"--set {' '.join(settings)}: {e}") from None


def queue(names: list[str], first: list[int], profile: profiles.Profile | None = None) -> list:
    profile = profile or profiles.active()

    def rank(c):
        return first.index(c.module_size) if c.module_size in first else len(first)
    out = []
    for item in names:
        name, _, size = item.partition("@")
        cfgs = sorted(get(name).configs(profile), key=rank)
        out += [c for c in cfgs if not size or c.module_size == int(size)]
    return out


def claim(cfg) -> bool:
    folder = scratch_dir() / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(folder / run_path(cfg).name, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, f"pid {os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    os.close(fd)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("--first", type=int, nargs="*", default=[],
                    help="module sizes whose configs go first, in this order")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="replace a field of the active profile for this queue (repeatable)")
    ap.add_argument("--park", action="store_true",
                    help="copy the queue's runs in progress to results/parked/ (to commit) and exit")
    args = ap.parse_args(argv)
    try:
        profile = widened(args.set)
    except ValueError as e:
        ap.error(str(e))
    if args.park:
        return park(queue(args.experiments, args.first, profile))
    torch.set_num_threads(1)
    for cfg in queue(args.experiments, args.first, profile):
        if load_run(cfg) is not None or not claim(cfg):
            continue
        t0 = time.perf_counter()
        unpark_run(cfg)
        run = load_or_run(cfg, progress=False)
        unpark_run(cfg)  # stored now: deletes the parked copy
        print(f"{time.strftime('%H:%M:%S')} {run.path.name}: N = {run.max_n_reached}, "
              f"{run.total_steps} steps, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


def park(cfgs: list) -> int:
    """Park every run of ``cfgs`` in progress (``store.park_run``), one line each."""
    for cfg in cfgs:
        dest = park_run(cfg)
        if dest is not None:
            hist = json.loads((dest / "history.json").read_text())
            print(f"parked {dest.name}: N = {hist['stages'][-1]['n']}, "
                  f"{sum(s['steps'] for s in hist['stages'])} steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
