"""The results store: every result keyed by its config, with provenance; load-or-run; reproduce.

A result lives in ``RESULTS/KIND/NAME-HASH/`` (``MODGROW_RESULTS``, default ``results/`` beside the
package):

* ``result.json``: the config, the numbers, and provenance (package version, git commit, torch
  version, device, threads, wall time, date);
* ``network.pt`` (curriculum runs): the final network (``io.save_network``), loaded with
  ``weights_only=True``; ``result.json`` records its SHA-256 (``network_sha256``).

Loads refuse wrong data with ``io.BadData`` (a one-line ``ValueError`` naming the file): garbled
JSON, a config that is not a valid ``GrowthConfig``, a network whose bytes do not match the
recorded hash, or whose structure is not the one the config calls for at the run's last stage.
Results stored before the hash was recorded (none recorded) are accepted; a recorded hash must
match.

HASH (``config_key``) is the first 12 hex digits of the SHA-256 of the schema version and the
config fields that differ from their defaults. Adding a config field with a default therefore
leaves every existing key unchanged; changing a default or the meaning of a field needs a new
``SCHEMA`` and a migration (``tools/migrate_store.py``).

This layer builds on the trainer and imports nothing from the experiments, measures or ledger.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from .io import (BadData, load_network, provenance, read_json, remove_stale_temps, save_network,
                 sha256_file, write_json)
from .network import RNN
from .training import (STAGE_KEYS, GrowthConfig, RunResult, checkpoint_path,
                       expected_structure, read_history, train_curriculum)

__all__ = ["SCHEMA", "results_dir", "scratch_dir", "config_key", "run_name", "run_path",
           "StoredRun", "store_run", "load_run", "read_stored_run", "load_or_run",
           "import_run_folder", "store_reached", "raise_max_n", "parked_dir", "park_run", "unpark_run",
           "load_or_compute", "list_results", "find_result", "reproduce", "platform_case",
           "cpu_recorded", "CPU_KEYS",
           "stored_threads", "stage_differences", "NO_COMPUTE_ENV", "stored_runs_only"]

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


# False inside ``stored_runs_only()``: a context-local switch (contextvars), not a global flag
_TRAINING_ALLOWED = contextvars.ContextVar("modgrow_training_allowed", default=True)


@contextmanager
def stored_runs_only():
    """Within this block ``load_or_run`` refuses (``FileNotFoundError``) to train a run that is
    not stored; analyses (``load_or_compute``) are still computed from the stored runs."""
    token = _TRAINING_ALLOWED.set(False)
    try:
        yield
    finally:
        _TRAINING_ALLOWED.reset(token)


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
         ("criterion", "check", "-check"), ("bit_prob", 0.5, "-p05"), ("task", "dms", "-dms"),
         ("order", "step2", "-step2"), ("order", "shuffled", "-shuffled"))


def run_name(cfg: GrowthConfig) -> str:
    arch = {"modular": "grow", "nonmodular": "base"}.get(cfg.architecture, cfg.architecture)
    name = f"{arch}-m{cfg.module_size}-s{cfg.seed}-n{cfg.max_n}"
    name += f"-gamma{cfg.gamma:g}" if cfg.gamma else ""
    name += f"-margin{cfg.confirm_margin:g}" if cfg.confirm_margin else ""
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
        """The final network: that of the last solved stage (of N = n_start when none was),
        checked against the recorded hash and the structure the config calls for.

        Runs stored before hashes were recorded that stopped on a budget may hold the network
        of the stage that stopped (one stage past the last solved one, as the trainer then
        returned); that structure is accepted for them only."""
        path = self.path / "network.pt"
        recorded = self.history.get("network_sha256")
        _check_hash(path, recorded)
        final_n = self.stages[-1]["n"] if self.stages else self.config.n_start
        allowed = [expected_structure(self.config, final_n)]
        if (recorded is None and self.history.get("status") == "stopped"
                and self.max_n_reached is not None):
            allowed.append(expected_structure(self.config, final_n + 1))
        return load_network(path, expect=tuple(allowed))[0]

    def stage_network(self, n: int) -> RNN:
        """The network right after it solved N = n: from the run's stage checkpoint when it is
        in the scratch folder, else recomputed up to n (the same network on the same platform)."""
        ck = checkpoint_path(scratch_dir() / self.path.name, n)
        if ck.exists():
            return load_network(ck, expect=expected_structure(self.config, n))[0]
        if self.config.order == "shuffled":  # a shorter run would shuffle other N values
            raise FileNotFoundError(f"{ck}: the stage checkpoint of a shuffled curriculum is "
                                    f"needed (it cannot be recomputed with a smaller max_n)")
        res = train_curriculum(replace(self.config, max_n=n), progress=False)
        if res.history.get("max_n_reached") != n:
            raise ValueError(f"run {self.path.name} does not reach N={n}")
        return res.network


def store_run(result: RunResult, cfg: GrowthConfig, path: Path | None = None) -> StoredRun:
    """Write a finished (complete or stopped) run into the store (or into folder ``path``: a
    scratch store), with the SHA-256 of its network file in ``result.json`` (written last: a
    store holds a result once that is there)."""
    path = run_path(cfg) if path is None else Path(path)
    hist = dict(result.history)
    hist["wall_seconds"] = round(sum(s["seconds"] for s in hist["stages"]), 3)
    save_network(path / "network.pt", result.network)
    hist["network_sha256"] = sha256_file(path / "network.pt")
    write_json(path / "result.json", {"kind": "run", **hist})
    return StoredRun(cfg, hist, path)


def _check_hash(path: Path, recorded: str | None) -> None:
    """``path`` must exist and, when a hash was recorded, have exactly that SHA-256 (results
    stored before hashes were recorded have none)."""
    if not path.is_file():
        raise BadData(path, "missing")
    if recorded is not None and sha256_file(path) != recorded:
        raise BadData(path, f"SHA-256 does not match the one recorded in {path.parent.name}/"
                            f"result.json (the file was changed or damaged)")


def read_stored_run(path: Path) -> tuple[GrowthConfig, dict]:
    """The config and record of the stored run in folder ``path``, checked: ``result.json`` is a
    run with a valid config and stages, and ``network.pt`` matches its recorded hash."""
    res = Path(path) / "result.json"
    hist = read_json(res)
    if not isinstance(hist, dict):
        raise BadData(res, "not a stored result (not a JSON object)")
    try:
        if hist["kind"] != "run":
            raise ValueError(f"kind is {hist['kind']!r}, not 'run'")
        cfg = GrowthConfig.from_dict(hist["config"])
        if not all(isinstance(s, dict) and set(STAGE_KEYS) <= set(s) for s in hist["stages"]):
            raise ValueError(f"stages are not stage records (each has {', '.join(STAGE_KEYS)})")
        if not isinstance(hist["status"], str):
            raise TypeError("status is not a string")
        if not isinstance(hist["provenance"], dict):
            raise TypeError("provenance is not an object")
        recorded = hist.get("network_sha256")
        if recorded is not None and not isinstance(recorded, str):
            raise TypeError("network_sha256 is not a string")
    except (KeyError, TypeError, ValueError) as e:
        raise BadData(res, f"not a stored run ({type(e).__name__}: {e})") from None
    _check_hash(Path(path) / "network.pt", recorded)
    return cfg, hist


def load_run(cfg: GrowthConfig) -> StoredRun | None:
    """The stored run for ``cfg``, checked (``read_stored_run``), or None when there is none."""
    path = run_path(cfg)
    if not (path / "result.json").exists():
        return None
    stored, hist = read_stored_run(path)
    if stored != cfg:
        raise ValueError(f"{path}: stored config does not match the requested one")
    return StoredRun(cfg, hist, path)


def load_or_run(cfg: GrowthConfig, progress: bool = True, device: str = "cpu") -> StoredRun:
    """The stored run for ``cfg``, computing (resumably) and storing it when missing."""
    stored = load_run(cfg)
    if stored is not None:
        return stored
    refuse_compute(f"run {run_path(cfg).name}")
    if not _TRAINING_ALLOWED.get():
        raise FileNotFoundError(f"run {run_path(cfg).name} is not in the results store "
                                f"{results_dir()} and only stored runs are used (--stored-only)")
    work = scratch_dir() / run_path(cfg).name
    res = train_curriculum(cfg, work, resume=True, progress=progress, device=device)
    return store_run(res, cfg)


def import_run_folder(folder: Path, force: bool = False) -> StoredRun:
    """Store a run made with ``python -m modgrow grow/baseline --out FOLDER``.

    Everything is checked before anything is written: the history (a finished run: status
    complete or stopped, with at least one solved stage), the last stage checkpoint (the network
    the config calls for at that stage). An existing stored result for the same config, or a
    run in progress in its scratch folder, is replaced only with ``force``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such run folder")
    hist = read_history(folder)
    if hist.get("status") not in ("complete", "stopped"):
        raise ValueError(f"{folder}: only finished runs can be stored (status "
                         f"{hist.get('status')!r})")
    if not hist["stages"]:
        raise ValueError(f"{folder}: the run solved no stage, so it has no network to store")
    cfg = GrowthConfig.from_dict(hist["config"])
    last = hist["stages"][-1]["n"]
    net, _ = load_network(checkpoint_path(folder, last), expect=expected_structure(cfg, last))
    dest, scratch = run_path(cfg), scratch_dir() / run_path(cfg).name
    if not force:
        for existing in (dest / "result.json", scratch / "history.json"):
            if existing.exists():
                raise FileExistsError(f"{existing} already exists for this config; pass "
                                      f"--force (force=True) to replace it")
    # keep the stage checkpoints where load_or_run would have left them (for stage analyses)
    if folder.resolve() != scratch.resolve():
        shutil.copytree(folder, scratch, dirs_exist_ok=True)
    return store_run(RunResult(hist, net), cfg)


def store_reached(cfg: GrowthConfig) -> StoredRun:
    """Store what a run in progress has solved so far as the run it is a prefix of: the run of
    ``cfg`` with ``max_n`` = the last N solved, complete. ``max_n`` changes nothing before the
    last stage (it is a budget a resume may raise), so the stored history and network are those
    that run would have produced; the run in progress is left alone and keeps going towards
    ``cfg.max_n``. Sequential and every-second-N curricula only (a shuffled curriculum with
    another max_n shuffles other N values). Refuses when nothing is solved or the shorter run is
    stored already."""
    from .training import curriculum_ns
    if cfg.order == "shuffled":
        raise ValueError("a shuffled curriculum cannot be stored up to the N it reached")
    work = scratch_dir() / run_path(cfg).name
    if not (work / "history.json").exists():
        raise FileNotFoundError(f"{work}: no run in progress for this config")
    hist = read_history(work, cfg)
    if not hist["stages"]:
        raise ValueError(f"{work}: no stage solved yet, nothing to store")
    last = hist["stages"][-1]["n"]
    short = replace(cfg, max_n=last)
    if curriculum_ns(short) != [st["n"] for st in hist["stages"]]:
        raise BadData(work / "history.json", "its stages are not the curriculum's first N values")
    if load_run(short) is not None:
        raise FileExistsError(f"{run_path(short)} is stored already")
    net, _ = load_network(checkpoint_path(work, last), expect=expected_structure(cfg, last))
    hist = {**hist, "config": asdict(short), "status": "complete", "stop": "complete",
            "message": f"reached N={last}", "max_n_reached": last,
            "stored_from": {"run": work.name, "max_n": cfg.max_n}}
    dest = scratch_dir() / run_path(short).name
    if not dest.exists():  # its stage checkpoints, where load_or_run would have left them
        shutil.copytree(work, dest)
        write_json(dest / "history.json", hist)
    return store_run(RunResult(hist, net), short)


def raise_max_n(short: GrowthConfig, max_n: int) -> StoredRun | Path:
    """Carry the stored run of ``short`` over to the same config with the curriculum's last N
    raised to ``max_n`` (a budget, so nothing before the last stage changes). A run that stopped
    on a budget below its own max_n is exactly the longer config's run: it is stored under that
    config (``stored_from`` names the original) and returned. A run that reached its max_n goes
    on from there: its scratch folder (history and last stage checkpoint, or a parked copy) is
    copied to the longer config's scratch folder, returned, and ``load_or_run`` resumes it.
    Sequential and every-second-N curricula only; refuses a lower max_n, a run not stored, a
    longer run stored already, and a complete run without its checkpoints."""
    from .training import curriculum_ns
    if short.order == "shuffled":
        raise ValueError("a shuffled curriculum with another max_n shuffles other N values")
    if max_n <= short.max_n:
        raise ValueError(f"max_n {max_n} does not raise the run's max_n {short.max_n}")
    run = load_run(short)
    if run is None:
        raise FileNotFoundError(f"{run_path(short).name} is not stored")
    long = replace(short, max_n=max_n)
    if load_run(long) is not None:
        raise FileExistsError(f"{run_path(long)} is stored already")
    if curriculum_ns(long)[:len(run.stages)] != [st["n"] for st in run.stages]:
        raise BadData(run.path / "result.json", "its stages are not the longer curriculum's")
    hist = run.history
    if hist["stop"] != "complete":  # stopped on a budget before its max_n: the same run
        hist = {**hist, "config": asdict(long),
                "stored_from": {"run": run.path.name, "max_n": short.max_n}}
        return store_run(RunResult(hist, run.network()), long)
    src = scratch_dir() / run.path.name
    if not (src / "history.json").exists():
        src = parked_dir() / run.path.name
    if not (src / "history.json").exists():
        raise FileNotFoundError(f"{run.path.name} reached its max_n and its stage checkpoints "
                                f"are gone (no scratch or parked folder): train the longer "
                                f"run from the start")
    dest = scratch_dir() / run_path(long).name
    if (dest / "history.json").exists():
        raise FileExistsError(f"{dest} holds a run in progress already")
    _copy_resume_point(src, dest, long)
    return dest


def _copy_resume_point(src: Path, dest: Path, cfg: GrowthConfig) -> None:
    """Copy what resuming the run in ``src`` under ``cfg`` needs (its history, checked against
    ``cfg`` but for budgets, and its last stage checkpoint, checked against the structure that
    stage calls for) into ``dest``, the history last (it marks a whole copy); ``dest`` is
    replaced."""
    hist = read_history(src, cfg)
    last = hist["stages"][-1]["n"]
    load_network(checkpoint_path(src, last), expect=expected_structure(cfg, last))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(checkpoint_path(src, last), checkpoint_path(dest, last))
    write_json(dest / "history.json", hist)  # the history read above (a live run moves on)


def parked_dir() -> Path:
    """Runs in progress parked for the next session: ``RESULTS/parked/NAME-HASH/`` (tracked)."""
    return results_dir() / "parked"


def park_run(cfg: GrowthConfig) -> Path | None:
    """Copy what the run in progress for ``cfg`` needs to resume (its history and last stage
    checkpoint, nothing else) from the git-ignored scratch folder into ``parked_dir()``, so a
    long run can be committed and resumed in a fresh checkout. Returns the parked folder, or
    None when there is nothing to park (no run in progress, no stage solved, or stored)."""
    work = scratch_dir() / run_path(cfg).name
    if load_run(cfg) is not None or not (work / "history.json").exists():
        return None
    if not read_history(work, cfg)["stages"]:
        return None
    _copy_resume_point(work, parked_dir() / work.name, cfg)
    return parked_dir() / work.name


def unpark_run(cfg: GrowthConfig) -> Path | None:
    """Put a parked run back into its scratch folder so ``load_or_run`` resumes it; a parked
    run that is stored already is deleted instead, and a scratch folder that holds a run
    already is left alone. Returns the scratch folder it restored, else None."""
    src = parked_dir() / run_path(cfg).name
    if not (src / "history.json").exists():
        return None
    if load_run(cfg) is not None:
        shutil.rmtree(src)
        return None
    work = scratch_dir() / src.name
    if (work / "history.json").exists():
        return None
    _copy_resume_point(src, work, cfg)
    return work


# ----- analyses (JSON results) ------------------------------------------------------------------

def load_or_compute(kind: str, name: str, cfg, compute: Callable[[], dict],
                    device: str = "cpu") -> dict:
    """Stored JSON result of ``compute()`` for ``cfg`` (a dataclass or dict), computing and
    storing it with provenance when missing."""
    path = results_dir() / kind / config_key(cfg, name) / "result.json"
    if path.exists():
        stored = read_json(path)
        if not isinstance(stored, dict) or "config" not in stored or "data" not in stored:
            raise BadData(path, "not a stored result (no config and data)")
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
    """One summary row per stored result. A result that cannot be read (garbled JSON, a run
    whose network is missing or does not match its hash, ...) gets a row with its ``problem``
    instead of failing the listing. Temp files left by killed writes are not results; stale ones
    are deleted on the way (``io.remove_stale_temps``)."""
    if results_dir().exists() and not results_dir().is_dir():
        raise NotADirectoryError(f"the results store {results_dir()} is not a folder (set "
                                 f"{RESULTS_ENV} to a folder)")
    rows = []
    for folder in sorted(p for p in results_dir().glob("*/*") if p.is_dir()):
        remove_stale_temps(folder)
        p = folder / "result.json"
        if not p.exists():
            continue
        name = f"{folder.parent.name}/{folder.name}"
        try:
            rows.append(_summary(name, p))
        except (BadData, OSError) as e:
            rows.append({"result": name, "kind": None, "status": "UNREADABLE", "max_n": "",
                         "seconds": "", "commit": "", "date": "", "problem": str(e)})
    return rows


def _summary(name: str, p: Path) -> dict:
    """The listing's row of the result file ``p`` (a stored run is checked with its network)."""
    r = read_json(p)
    if not isinstance(r, dict) or r.get("kind") == "run":
        read_stored_run(p.parent)  # a run is checked with its network
    prov = r.get("provenance", {})
    prov = prov if isinstance(prov, dict) else {}
    return {"result": name, "kind": r.get("kind"), "status": r.get("status", ""),
            "max_n": r.get("max_n_reached", ""),
            "seconds": r.get("wall_seconds", prov.get("wall_seconds", "")),
            "commit": str(prov.get("git_commit", ""))[:12], "date": prov.get("date", "")}


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
    count; the stored run's thread count is used); ``same_platform`` says whether this is one,
    ``bit_exact_expected`` whether identity is expected (not for a run resumed with another
    thread count, see ``train_curriculum``)."""
    raw = read_json(path / "result.json")
    if not isinstance(raw, dict) or raw.get("kind") != "run":
        raise ValueError(f"{path}: reproduce handles curriculum runs; analyses are recomputed "
                         f"by their chapter with the stored result moved away")
    cfg, stored = read_stored_run(path)
    threads = stored_threads(stored, path)
    if threads:
        torch.set_num_threads(threads)
    if up_to_n is not None:
        cfg = replace(cfg, max_n=min(up_to_n, cfg.max_n))
    fresh = train_curriculum(cfg, progress=progress).history
    old = [s for s in stored["stages"] if s["n"] <= cfg.max_n]
    diffs = stage_differences(old, fresh["stages"])
    same, exact = platform_case(stored, fresh["provenance"])
    sp, fp = stored["provenance"], fresh["provenance"]
    return {"result": str(path), "stages_compared": min(len(old), len(fresh["stages"])),
            "match": not diffs, "differences": diffs, "same_platform": same,
            "bit_exact_expected": exact, "cpu_recorded": cpu_recorded(stored),
            "stored_commit": str(sp.get("git_commit", "unknown")),
            "now_commit": str(fp.get("git_commit", "unknown"))}


def stored_threads(stored: dict, path: Path) -> int | None:
    """The torch thread count recorded in a stored run's provenance (None when not recorded);
    anything but a positive integer is refused as bad data naming ``path``'s result.json."""
    threads = stored.get("provenance", {}).get("torch_threads")
    if threads is None:
        return None
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise BadData(Path(path) / "result.json",
                      f"provenance torch_threads must be a positive integer, got {threads!r}")
    return threads


PLATFORM_KEYS = ("torch_version", "machine", "torch_threads")
# the CPU: compared when the stored run records it (runs stored before 2026-12-01 do not)
CPU_KEYS = ("cpu_model", "cpu_capability")


def platform_case(stored: dict, now: dict) -> tuple[bool, bool]:
    """(same platform, bit-exact identity expected) of a stored run's record ``stored`` and the
    provenance ``now`` of its recomputation: the same platform has the same torch version,
    machine and thread count (``PLATFORM_KEYS``) and, where the stored run records it, the same
    CPU model and instruction set (``CPU_KEYS``: two x86_64 CPUs can differ in the 4th decimal);
    identity is expected there unless the stored run was resumed with another thread count
    (``bit_exact_reproduction: false``)."""
    sp = stored.get("provenance", {})
    same = all(sp.get(k) == now.get(k) for k in PLATFORM_KEYS) and all(
        sp[k] == now.get(k) for k in CPU_KEYS if k in sp)
    return same, bool(same and stored.get("bit_exact_reproduction", True))


def cpu_recorded(stored: dict) -> bool:
    """Whether a stored run's provenance names its CPU (``CPU_KEYS``); without it, "same
    platform" means the same torch, machine architecture and thread count only."""
    return all(k in stored.get("provenance", {}) for k in CPU_KEYS)


def stage_differences(old: list[dict], fresh: list[dict]) -> list[str]:
    """Stage by stage (N, steps, accuracy of every head), how recomputed stages differ from the
    stored ones; empty when identical."""
    diffs = []
    for a, b in zip(old, fresh):
        for k in ("n", "steps", "accuracy"):
            if a[k] != b[k]:
                diffs.append(f"N={a['n']}: {k} stored {a[k]} recomputed {b[k]}")
    if len(old) != len(fresh):
        diffs.append(f"stored {len(old)} stages, recomputed {len(fresh)}")
    return diffs
