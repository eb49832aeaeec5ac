"""Experiments as configs, a results store keyed by config, profiles, and load-or-run.

Every result is a function of a frozen dataclass config. It is stored under the results folder
(``MODGROW_RESULTS``, default ``results/`` beside the package) in ``KIND/NAME-HASH/`` where HASH
is the first 12 hex digits of the SHA-256 of the config's canonical JSON:

* ``result.json``: the config, the numbers, and provenance (package version, git commit, torch
  version, device, wall time, date);
* ``network.pt`` (curriculum runs): the final network's state dict, loaded with
  ``weights_only=True``.

Profiles (``MODGROW_PROFILE``): ``paper`` (default; the book's published scale, results committed
under ``results/``) and ``quick`` (seconds; tests and CI compute everything from scratch).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Callable

import torch

from .network import RNN, Structure
from .store import load_tensors, provenance, read_json, save_tensors, write_json
from .training import GrowthConfig, RunResult, load_network, train_curriculum

__all__ = ["PROFILES", "profile", "results_dir", "config_key", "StoredRun", "load_or_run",
           "load_run", "store_run", "import_run_folder", "load_or_compute", "list_results",
           "growth_configs", "ablation_configs", "cli_command"]

PROFILES = ("paper", "quick")
NO_COMPUTE_ENV = "MODGROW_NO_COMPUTE"
PROFILE_ENV = "MODGROW_PROFILE"
RESULTS_ENV = "MODGROW_RESULTS"


def profile() -> str:
    """The active profile, from ``MODGROW_PROFILE`` (default ``paper``)."""
    p = os.environ.get(PROFILE_ENV, "paper")
    if p not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={p!r}: must be one of {PROFILES}")
    return p


def _refuse_compute(what: str) -> None:
    """With MODGROW_NO_COMPUTE=1 (book builds and nbval in CI) a missing result is an error,
    not hours of training."""
    if os.environ.get(NO_COMPUTE_ENV) == "1":
        raise FileNotFoundError(
            f"{what} is not in the results store {results_dir()} and {NO_COMPUTE_ENV}=1; "
            f"compute it with 'python -m modgrow compute ...' (or unset {NO_COMPUTE_ENV})")


def results_dir() -> Path:
    """Where results live: ``MODGROW_RESULTS`` or the repository's ``results/``."""
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "results"


def scratch_dir() -> Path:
    """Resumable working folders of runs in progress (git-ignored)."""
    return results_dir().parent / "runs" / "store"


def _canonical(cfg) -> dict:
    return asdict(cfg) if is_dataclass(cfg) else dict(cfg)


def config_key(cfg, name: str) -> str:
    blob = json.dumps(_canonical(cfg), sort_keys=True, separators=(",", ":"))
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


# ----- curriculum runs ------------------------------------------------------------------------

def run_name(cfg: GrowthConfig) -> str:
    arch = "grow" if cfg.architecture == "modular" else "base"
    name = f"{arch}-m{cfg.module_size}-s{cfg.seed}-n{cfg.max_n}"
    if cfg.architecture == "modular":
        name += "" if cfg.duplicate else "-random"
        name += f"-gamma{cfg.gamma:g}" if cfg.gamma else ""
        name += "-fixwithin" if cfg.fix_within else ""
    return name


def run_path(cfg: GrowthConfig) -> Path:
    return results_dir() / "runs" / config_key(cfg, run_name(cfg))


@dataclass
class StoredRun:
    """A stored curriculum run: its config, history (stages, status), provenance, network."""

    config: GrowthConfig
    history: dict
    path: Path

    @property
    def stages(self) -> list[dict]:
        return self.history["stages"]

    @property
    def max_n_reached(self) -> int | None:
        return self.history.get("max_n_reached")

    @property
    def provenance(self) -> dict:
        return self.history["provenance"]

    def network(self) -> RNN:
        ck = load_tensors(self.path / "network.pt")
        net = RNN.from_structure(Structure.from_dict(ck["structure"]))
        net.load_state_dict(ck["state"], strict=True)
        return net


def store_run(result: RunResult, cfg: GrowthConfig) -> StoredRun:
    """Write a finished (complete or stopped) run into the store."""
    path = run_path(cfg)
    hist = dict(result.history)
    hist["wall_seconds"] = round(sum(s["seconds"] for s in hist["stages"]), 3)
    save_tensors(path / "network.pt", {
        "structure": result.network.structure().to_dict(),
        "state": {k: v.detach().cpu() for k, v in result.network.state_dict().items()},
    })
    write_json(path / "result.json", {"kind": "run", **hist})
    return StoredRun(cfg, hist, path)


def load_run(cfg: GrowthConfig) -> StoredRun | None:
    path = run_path(cfg)
    if not (path / "result.json").exists():
        return None
    hist = read_json(path / "result.json")
    if GrowthConfig.from_dict(hist["config"]) != cfg:
        raise ValueError(f"{path}: stored config does not match the requested one")
    return StoredRun(cfg, hist, path)


def load_or_run(cfg: GrowthConfig, progress: bool = True, device: str = "cpu") -> StoredRun:
    """The stored run for ``cfg``, computing (resumably) and storing it when missing."""
    stored = load_run(cfg)
    if stored is not None:
        return stored
    _refuse_compute(f"run {run_path(cfg).name}")
    work = scratch_dir() / run_path(cfg).name
    res = train_curriculum(cfg, work, resume=True, progress=progress, device=device)
    return store_run(res, cfg)


def import_run_folder(folder: Path) -> StoredRun:
    """Store a run made with ``python -m modgrow grow/baseline --out FOLDER``."""
    folder = Path(folder)
    hist = read_json(folder / "history.json")
    if hist["status"] == "running":
        raise ValueError(f"{folder}: the run is still in progress (status 'running')")
    cfg = GrowthConfig.from_dict(hist["config"])
    last = hist["stages"][-1]["n"]
    net, _ = load_network(folder / f"stage_{last:03d}.pt")
    # keep the stage checkpoints where load_or_run would have left them (for stage analyses)
    shutil.copytree(folder, scratch_dir() / run_path(cfg).name, dirs_exist_ok=True)
    return store_run(RunResult(hist, net), cfg)


# ----- analyses (JSON results) ------------------------------------------------------------------

def load_or_compute(kind: str, name: str, cfg, compute: Callable[[], dict],
                    device: str = "cpu") -> dict:
    """Stored JSON result of ``compute()`` for ``cfg`` (a dataclass or dict), computing and
    storing it with provenance when missing."""
    path = results_dir() / kind / config_key(cfg, name) / "result.json"
    if path.exists():
        stored = read_json(path)
        if stored["config"] != json.loads(json.dumps(_canonical(cfg))):
            raise ValueError(f"{path}: stored config does not match the requested one")
        return stored
    _refuse_compute(f"{kind} result {path.parent.name}")
    t0 = time.perf_counter()
    data = compute()
    out = {"kind": kind, "config": _canonical(cfg), "data": data, "provenance": provenance(device)}
    out["provenance"]["wall_seconds"] = round(time.perf_counter() - t0, 3)
    write_json(path, out)
    return out


def list_results() -> list[dict]:
    """One summary row per stored result."""
    rows = []
    for p in sorted(results_dir().glob("*/*/result.json")):
        r = read_json(p)
        prov = r.get("provenance", {})
        rows.append({
            "result": f"{p.parent.parent.name}/{p.parent.name}", "kind": r.get("kind"),
            "status": r.get("status", ""), "max_n": r.get("max_n_reached", ""),
            "seconds": r.get("wall_seconds", prov.get("wall_seconds", "")),
            "commit": str(prov.get("git_commit", ""))[:12], "date": prov.get("date", ""),
        })
    return rows


# ----- the book's experiments, per profile --------------------------------------------------------

PAPER_STEP_BUDGET = 10_000


def growth_configs(prof: str | None = None) -> list[GrowthConfig]:
    """Chapter 3: growth runs for each module size and seed."""
    prof = prof or profile()
    if prof == "quick":
        return [GrowthConfig(module_size=m, seed=0, max_n=3, eval_batches=4) for m in (5, 10)]
    return [GrowthConfig(module_size=m, seed=s, max_n=60 if m == 10 else 50,
                         max_steps_per_stage=PAPER_STEP_BUDGET)
            for m in (5, 10, 15, 20) for s in (0, 1, 2)]


def ablation_configs(prof: str | None = None) -> dict[str, list[GrowthConfig]]:
    """Chapter 3: initialisation of new modules and freezing, module size 10."""
    prof = prof or profile()
    if prof == "quick":
        base = GrowthConfig(module_size=10, max_n=3, eval_batches=4)
        seeds = (0,)
    else:
        base = GrowthConfig(module_size=10, max_n=20, max_steps_per_stage=PAPER_STEP_BUDGET)
        seeds = (0, 1, 2)
    variants = {
        "duplicate, hard freeze": dict(),
        "random init, hard freeze": dict(duplicate=False),
        "duplicate, soft freeze (gamma=0.5)": dict(gamma=0.5),
        "duplicate, no freeze (gamma=1)": dict(gamma=1.0),
    }
    return {label: [GrowthConfig(**{**asdict(base), **kw, "seed": s}) for s in seeds]
            for label, kw in variants.items()}


BASELINE_TOTAL_STEPS = 10_000
BASELINE_MAX_N = 30


def baseline_configs(prof: str | None = None) -> list[GrowthConfig]:
    """Chapter 4: non-modular multi-head networks of several sizes (ICLR 2024: lr 0.05).

    Budget: the modular runs' per-stage budget (10 000 steps) and 10 000 steps in all (20
    epochs); the modular numbers they are compared with are counted under the same total budget.
    The curriculum stops at N = 30, above what any modular network of at most 150 neurons can
    hold (one module per N)."""
    prof = prof or profile()
    if prof == "quick":
        return [GrowthConfig(architecture="nonmodular", module_size=h, lr=0.05, max_n=3,
                             eval_batches=4) for h in (20, 30)]
    return [GrowthConfig(architecture="nonmodular", module_size=h, seed=s, lr=0.05,
                         max_n=BASELINE_MAX_N, max_steps_per_stage=PAPER_STEP_BUDGET,
                         max_total_steps=BASELINE_TOTAL_STEPS)
            for h in (20, 50, 100, 150) for s in (0, 1, 2)]


def scaling_config(prof: str | None = None) -> GrowthConfig:
    """Chapter 3, how far growth goes: the fastest module-size-10 seed continued to N = 150."""
    prof = prof or profile()
    if prof == "quick":
        return GrowthConfig(module_size=10, seed=2, max_n=4, eval_batches=4)
    return GrowthConfig(module_size=10, seed=2, max_n=150, max_steps_per_stage=PAPER_STEP_BUDGET)


def iclr_config(prof: str | None = None) -> GrowthConfig:
    """The ICLR 2024 reference point: 500 neurons, trained for 6 000 steps (what this machine
    affords: 0.1-0.3 s per step)."""
    prof = prof or profile()
    if prof == "quick":
        return GrowthConfig(architecture="nonmodular", module_size=40, lr=0.05, max_n=3,
                            eval_batches=4)
    return GrowthConfig(architecture="nonmodular", module_size=500, seed=0, lr=0.05,
                        max_n=BASELINE_MAX_N, max_steps_per_stage=PAPER_STEP_BUDGET,
                        max_total_steps=6_000)


EXPERIMENTS = {
    "growth": growth_configs,
    "ablations": lambda prof=None: [c for cs in ablation_configs(prof).values() for c in cs],
    "baseline": baseline_configs,
    "iclr": lambda prof=None: [iclr_config(prof)],
    "scaling": lambda prof=None: [scaling_config(prof)],
}


def compute_analyses(n0: int = 10) -> int:
    """Compute (or load) the analyses of the stored runs that the chapters show: accuracy of every
    head after growth (training distribution and balanced bits) and, at stage n0, length
    generalisation and transfer (module size 10 and every non-modular run that reached n0).
    Returns how many analyses are stored."""
    count = 0
    for c in growth_configs():
        run = load_or_run(c, progress=False)
        for bit_prob in ("per_batch", 0.5):
            head_accuracy(run, bit_prob=bit_prob)
            count += 1
    return count + sum(len(v) for v in generalisation_groups(n0).values())


def compute(name: str, shard: tuple[int, int] = (0, 1), progress: bool = True) -> list[StoredRun]:
    """Load or run every config of experiment ``name`` in the active profile (``shard`` i of n
    takes configs i, i+n, ... so n processes can share the work)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"bad shard {i}/{n}")
    return [load_or_run(c, progress=progress) for c in EXPERIMENTS[name]()[i::n]]


def quick_check() -> None:
    """Fail loudly if the quick profile stops being quick (used by the tests)."""
    for name, configs in EXPERIMENTS.items():
        for c in configs("quick"):
            assert c.max_n <= 4, (name, c)


# ----- CLI: reproduce, results, import -------------------------------------------------------------

def _find_result(arg: str) -> Path:
    p = Path(arg)
    if (p / "result.json").exists():
        return p
    hits = [q.parent for q in results_dir().glob("*/*/result.json")
            if q.parent.name == arg or f"{q.parent.parent.name}/{q.parent.name}" == arg
            or q.parent.name.startswith(arg)]
    if len(hits) != 1:
        raise FileNotFoundError(f"{arg!r} matches {len(hits)} stored results; "
                                f"'python -m modgrow results' lists them")
    return hits[0]


def reproduce(path: Path, up_to_n: int | None = None, progress: bool = True) -> dict:
    """Recompute a stored run from its config (to ``up_to_n`` for a quicker partial check) and
    compare stage by stage: N, steps, and per-head accuracy."""
    stored = read_json(path / "result.json")
    if stored.get("kind") != "run":
        raise ValueError(f"{path}: reproduce handles curriculum runs; analyses are recomputed "
                         f"by their chapter with the stored result moved away")
    cfg = GrowthConfig.from_dict(stored["config"])
    # float reductions depend on the thread count: use the stored run's for a bitwise check
    threads = stored["provenance"].get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    if up_to_n is not None:
        from dataclasses import replace
        cfg = replace(cfg, max_n=min(up_to_n, cfg.max_n))
    fresh = train_curriculum(cfg, progress=progress).history
    old = [s for s in stored["stages"] if s["n"] <= cfg.max_n]
    diffs = []
    for a, b in zip(old, fresh["stages"]):
        for k in ("n", "steps", "accuracy"):
            if a[k] != b[k]:
                diffs.append(f"N={a['n']}: {k} stored {a[k]} recomputed {b[k]}")
    if len(old) != len(fresh["stages"]):
        diffs.append(f"stored {len(old)} stages, recomputed {len(fresh['stages'])}")
    return {"result": str(path), "stages_compared": min(len(old), len(fresh["stages"])),
            "match": not diffs, "differences": diffs,
            "stored_commit": stored["provenance"]["git_commit"],
            "now_commit": fresh["provenance"]["git_commit"]}


def cli_command(args) -> int:
    if args.command == "results":
        rows = list_results()
        if not rows:
            print(f"no stored results in {results_dir()}")
        for r in rows:
            print(f"{r['result']:60s} {r['status']:9s} maxN={str(r['max_n']):4s} "
                  f"{str(r['seconds']):>9s}s {r['commit']} {r['date']}")
        return 0
    if args.command == "compute" and args.experiment == "analyses":
        from .ledger import N0
        print(f"{compute_analyses(N0[profile()])} analyses stored in {results_dir()}")
        return 0
    if args.command == "compute":
        i, n = (int(v) for v in args.shard.split("/"))
        for run in compute(args.experiment, (i, n), progress=not args.quiet):
            print(f"{run.path.name}: {run.history['status']}, max N {run.max_n_reached}")
        return 0
    if args.command == "import":
        for folder in args.folders:
            s = import_run_folder(folder)
            print(f"stored {folder} as {s.path}")
        return 0
    if args.command == "reproduce":
        rep = reproduce(_find_result(args.result), args.up_to_n, progress=not args.quiet)
        verdict = "MATCH" if rep["match"] else "DIFFERENT"
        print(f"{verdict}: {rep['stages_compared']} stages compared for {rep['result']} "
              f"(stored at {rep['stored_commit'][:12]}, now {rep['now_commit'][:12]})")
        for d in rep["differences"][:20]:
            print("  " + d)
        return 0 if rep["match"] else 1
    raise ValueError(f"unknown command {args.command}")


# ----- chapter helpers -----------------------------------------------------------------------------

def runs_by_size(configs: list[GrowthConfig], progress: bool = True) -> dict[int, list[StoredRun]]:
    """Stored (or freshly computed) runs grouped by module size."""
    out: dict[int, list[StoredRun]] = {}
    for c in configs:
        out.setdefault(c.module_size, []).append(load_or_run(c, progress=progress))
    return out


def head_accuracy(run: StoredRun, n_batches: int = 20, bit_prob=0.5) -> dict[str, float]:
    """Stored accuracy of every head of a grown network on balanced bits (see
    ``analysis.head_accuracy_after_growth``)."""
    from .analysis import head_accuracy_after_growth
    cfg = {"run": run.path.name, "n_batches": n_batches, "bit_prob": bit_prob}
    res = load_or_compute("analysis", f"heads-{run.path.name[:40]}", cfg,
                          lambda: head_accuracy_after_growth(run.network(), run.config,
                                                             n_batches, bit_prob))
    return res["data"]


def stage_network(cfg: GrowthConfig, n: int) -> RNN:
    """The network of run ``cfg`` right after it solved N = n (stage checkpoint or recompute)."""
    from .compare import stage_network as _stage
    return _stage(cfg, n, scratch_dir() / run_path(cfg).name)


def generalisation(cfg: GrowthConfig, n0: int, factors=(1, 2, 5, 10),
                   checkpoints=(0, 50, 100, 200, 500)) -> dict:
    """Stored length-generalisation and transfer results of run ``cfg`` taken at stage N = n0
    (see ``modgrow.compare``)."""
    from .compare import length_generalisation, transfer_curve
    key = run_path(cfg).name
    spec = {"run": key, "n0": n0, "factors": list(factors), "checkpoints": list(checkpoints)}

    def compute():
        net = stage_network(cfg, n0)
        return {"length": length_generalisation(net, cfg, factors),
                "transfer": transfer_curve(net, cfg, checkpoints)}
    return load_or_compute("analysis", f"gen-{key[:40]}-n{n0}", spec, compute)["data"]


GENERALISATION_MODULE_SIZE = 10


def generalisation_groups(n0: int) -> dict[str, list[dict]]:
    """Generalisation results at stage n0, grouped for chapter 4: the modular runs of module size
    10 (key "modular") and, per size, every non-modular run that reached n0 (key = its neuron
    count)."""
    groups: dict = {"modular": [generalisation(c, n0) for c in growth_configs()
                                if c.module_size == GENERALISATION_MODULE_SIZE]}
    for c in baseline_configs():
        if (load_or_run(c, progress=False).max_n_reached or 0) >= n0:
            groups.setdefault(c.module_size, []).append(generalisation(c, n0))
    return groups
