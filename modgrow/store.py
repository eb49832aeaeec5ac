"""The results store: every result keyed by its config, with provenance; load-or-run; reproduce.

A result lives in ``RESULTS/KIND/NAME-HASH/`` (``MODGROW_RESULTS``, default ``results/`` beside the
package):

* ``result.json``: the config, the numbers, and provenance (package version, git commit, torch
  version, device, threads, wall time, date);
* ``network.pt`` (curriculum runs): the final network (``io.save_network``), loaded with
  ``weights_only=True``.

HASH (``config_key``) is the first 12 hex digits of the SHA-256 of the schema version and the
config fields that differ from their defaults. Adding a config field with a default therefore
leaves every existing key unchanged; changing a default or the meaning of a field needs a new
``SCHEMA`` and a migration (``tools/migrate_store.py``).

This layer builds on the trainer and imports nothing from the experiments, measures or ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from .io import load_network, provenance, read_json, save_network, write_json
from .network import RNN
from .training import GrowthConfig, RunResult, checkpoint_path, train_curriculum

__all__ = ["SCHEMA", "results_dir", "scratch_dir", "config_key", "run_name", "run_path",
           "StoredRun", "store_run", "load_run", "load_or_run", "import_run_folder",
           "load_or_compute", "list_results", "find_result", "reproduce", "NO_COMPUTE_ENV"]

SCHEMA = 2
NO_COMPUTE_ENV = "MODGROW_NO_COMPUTE"
RESULTS_ENV = "MODGROW_RESULTS"


def results_dir() -> Path:
    """Where results live: ``MODGROW_RESULTS`` or the repository's ``results/``."""
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "results"


def scratch_dir() -> Path:
    """Resumable working folders of runs in progress (git-ignored)."""
    return results_dir().parent / "runs" / "store"


def refuse_compute(what: str) -> None:
    """With MODGROW_NO_COMPUTE=1 (book builds and nbval in CI) a missing result is an error,
    not hours of training."""
    if os.environ.get(NO_COMPUTE_ENV) == "1":
        raise FileNotFoundError(
            f"{what} is not in the results store {results_dir()} and {NO_COMPUTE_ENV}=1; "
            f"compute it with 'python -m modgrow compute ...' (or unset {NO_COMPUTE_ENV})")


def _canonical(cfg) -> dict:
    return asdict(cfg) if is_dataclass(cfg) else json.loads(json.dumps(dict(cfg)))


def key_fields(cfg) -> dict:
    """What the key hashes: a dataclass config's fields that differ from their defaults (every
    item of a plain dict)."""
    d = _canonical(cfg)
    if not is_dataclass(cfg):
        return d
    defaults = {f.name: f.default for f in fields(cfg)}
    return {k: v for k, v in d.items() if k not in defaults or v != defaults[k]}


def config_key(cfg, name: str) -> str:
    """``NAME-HASH``: HASH from the schema version and ``key_fields(cfg)``."""
    blob = json.dumps({"schema": SCHEMA, "config": key_fields(cfg)}, sort_keys=True,
                      separators=(",", ":"))
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


# ----- curriculum runs ------------------------------------------------------------------------

# readable name tags for non-default settings (the hash, not the name, tells configs apart)
_TAGS = (("duplicate", False, "-random"), ("duplicate_source", "untrained", "-dupuntrained"),
         ("duplicate_head", True, "-duphead"), ("fix_within", True, "-fixwithin"),
         ("train_old_taus", True, "-oldtaus"), ("clip_scope", "all", "-clipall"),
         ("criterion", "check", "-check"), ("bit_prob", 0.5, "-p05"), ("task", "dms", "-dms"))


def run_name(cfg: GrowthConfig) -> str:
    arch = {"modular": "grow", "nonmodular": "base"}.get(cfg.architecture, cfg.architecture)
    name = f"{arch}-m{cfg.module_size}-s{cfg.seed}-n{cfg.max_n}"
    name += f"-gamma{cfg.gamma:g}" if cfg.gamma else ""
    return name + "".join(tag for f, v, tag in _TAGS if getattr(cfg, f) == v)


def run_path(cfg: GrowthConfig) -> Path:
    return results_dir() / "runs" / config_key(cfg, run_name(cfg))


@dataclass
class StoredRun:
    """A stored curriculum run: its config, history (stages, status, stop reason), provenance,
    network."""

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

    @property
    def total_steps(self) -> int:
        return sum(s["steps"] for s in self.stages)

    def network(self) -> RNN:
        return load_network(self.path / "network.pt")[0]

    def stage_network(self, n: int) -> RNN:
        """The network right after it solved N = n: from the run's stage checkpoint when it is
        in the scratch folder, else recomputed up to n (the same network on the same platform)."""
        ck = checkpoint_path(scratch_dir() / self.path.name, n)
        if ck.exists():
            return load_network(ck)[0]
        res = train_curriculum(replace(self.config, max_n=n), progress=False)
        if res.history.get("max_n_reached") != n:
            raise ValueError(f"run {self.path.name} does not reach N={n}")
        return res.network


def store_run(result: RunResult, cfg: GrowthConfig) -> StoredRun:
    """Write a finished (complete or stopped) run into the store."""
    path = run_path(cfg)
    hist = dict(result.history)
    hist["wall_seconds"] = round(sum(s["seconds"] for s in hist["stages"]), 3)
    save_network(path / "network.pt", result.network)
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
    refuse_compute(f"run {run_path(cfg).name}")
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
    net, _ = load_network(checkpoint_path(folder, hist["stages"][-1]["n"]))
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
        if stored["config"] != _canonical(cfg):
            raise ValueError(f"{path}: stored config does not match the requested one")
        return stored
    refuse_compute(f"{kind} result {path.parent.name}")
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


def find_result(arg: str) -> Path:
    """A stored result by folder, by name under the store, or by a unique prefix of its name."""
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
    compare stage by stage: N, steps, and per-head accuracy.

    Bit-exact identity is expected on the same platform only (same torch version, CPU and thread
    count; the stored run's thread count is used); ``same_platform`` says whether this is one."""
    stored = read_json(path / "result.json")
    if stored.get("kind") != "run":
        raise ValueError(f"{path}: reproduce handles curriculum runs; analyses are recomputed "
                         f"by their chapter with the stored result moved away")
    cfg = GrowthConfig.from_dict(stored["config"])
    threads = stored["provenance"].get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    if up_to_n is not None:
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
    sp, fp = stored["provenance"], fresh["provenance"]
    same = all(sp.get(k) == fp.get(k) for k in ("torch_version", "machine", "torch_threads"))
    return {"result": str(path), "stages_compared": min(len(old), len(fresh["stages"])),
            "match": not diffs, "differences": diffs, "same_platform": same,
            "stored_commit": sp["git_commit"], "now_commit": fp["git_commit"]}
