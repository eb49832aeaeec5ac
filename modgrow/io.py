"""The bottom layer of the results store: atomic writes, provenance, loads that never unpickle
code, and the network checkpoint format (written and read here and nowhere else).

It imports nothing from the package but ``network`` and ``gated``, so that the trainer (which
writes stage checkpoints) and the store (which keys and loads results) both build on it."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from .gated import GatedRNN, GatedStructure
from .network import RNN, Structure

__all__ = ["BadData", "provenance", "write_json", "read_json", "save_tensors", "load_tensors",
           "git_commit", "save_network", "load_network", "sha256_file", "remove_stale_temps",
           "TEMP_SUFFIX"]

# temp files of the atomic writers: ``.NAME.RANDOM.tmp`` beside their target
TEMP_SUFFIX = ".tmp"
# a temp file older than this is left over from a killed write (no live write takes this long)
STALE_TEMP_SECONDS = 3600.0


class BadData(ValueError):
    """A file that is not what it should be (unreadable, truncated, garbled, tampered, or from
    another config or stage). Its message is one line and starts with the file's path; the
    command line prints it and exits with status 2."""

    def __init__(self, path, problem: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {_one_line(problem)}")


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the package's checkout, with ``+dirty`` when it has uncommitted changes, read
    once per process: the code a long run executes is the code it imported, even when the
    checkout moves on while it runs."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not sha:
        return "unknown"
    return sha + ("+dirty" if dirty else "")


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere):
    two x86_64 machines with different CPUs run different kernels and round differently."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def provenance(device: str = "cpu") -> dict:
    """Where and with what a result was produced."""
    from . import __version__

    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels torch picks
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def remove_stale_temps(folder: Path, prefix: str = ".",
                       older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files of atomic writes killed before their rename (``PREFIX*.tmp`` in
    ``folder``, last modified more than ``older_than`` seconds ago, so that a write in progress
    in another process keeps its file); returns what was deleted."""
    now, gone = time.time(), []
    for p in Path(folder).glob(f"{prefix}*{TEMP_SUFFIX}"):
        try:
            if p.name.startswith(".") and p.is_file() and now - p.stat().st_mtime > older_than:
                p.unlink()
                gone.append(p)
        except OSError:
            pass  # vanished meanwhile, or not ours to delete
    return gone


def _fsync(path, folder: bool = False) -> None:
    """Flush a file (or, best effort, a folder's entries) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if folder:
            return  # platforms that cannot open a folder
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def _atomic(path: Path, write) -> None:
    """Write ``path`` through ``write(tmp)`` on a temp file in the same folder, flushed to disk
    (fsync) before it is renamed over ``path``: a reader sees the old file or the new one, never
    part of one, even after a crash. Stale temp files of earlier killed writes of the same
    target are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, f".{path.name}.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync(path.parent, folder=True)


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=False)
            f.write("\n")
    _atomic(path, w)


def read_json(path: Path):
    """Parse a JSON file; garbled or undecodable contents raise ``BadData`` naming the file (a
    missing file raises ``FileNotFoundError``)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise BadData(path, f"not valid JSON ({e})") from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_tensors(path: Path, obj: dict) -> None:
    """Save a dict of tensors / numbers / strings / lists atomically with torch.save."""
    _atomic(path, lambda tmp: torch.save(obj, tmp))


def load_tensors(path: Path) -> dict:
    """Load what ``save_tensors`` wrote; ``weights_only=True`` refuses arbitrary pickled objects."""
    return torch.load(path, map_location="cpu", weights_only=True)


def save_network(path: Path, net: RNN | GatedRNN, **extra) -> None:
    """The one checkpoint format: the network's structure (a gated network's names its
    ``cell``), its state dict (on the CPU) and any extra tensors or numbers (e.g. the generator
    state of a stage checkpoint)."""
    save_tensors(path, {
        "structure": net.structure().to_dict(),
        "state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        **extra,
    })


def _rebuild(structure: dict):
    """(structure, untrained network) of a saved structure: gated when it names a ``cell``, else
    leaky."""
    if "cell" in structure:
        s = GatedStructure.from_dict(structure)
        return s, GatedRNN.from_structure(s)
    s = Structure.from_dict(structure)
    return s, RNN.from_structure(s)


def load_network(path: Path, expect=None) -> tuple[RNN | GatedRNN, dict]:
    """Rebuild a network saved by ``save_network``; returns it and the whole checkpoint (for
    the extras).

    Strict: the file must unpickle as plain data, its structure must be ``expect`` (or one of
    them) when given (module size, number of blocks, which block each head reads), and every
    tensor must match that structure exactly and be finite. Anything else raises ``BadData``
    naming the file (a missing file raises ``FileNotFoundError``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ck = load_tensors(path)
    except Exception as e:  # truncated zip, garbage bytes, refused pickled objects, ...
        first = (str(e).strip().splitlines() or [""])[0].split(". ")[0]
        raise BadData(path, f"not a readable checkpoint ({type(e).__name__}: {first})") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("state"), dict):
        raise BadData(path, "not a network checkpoint (no 'structure' and 'state')")
    try:
        structure, net = _rebuild(ck["structure"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise BadData(path, f"bad network structure {ck.get('structure')!r} ({e})") from None
    allowed = (expect,) if isinstance(expect, (Structure, GatedStructure)) else expect
    if allowed is not None and structure not in allowed:
        raise BadData(path, f"holds {_describe(structure)}; expected "
                            f"{' or '.join(_describe(a) for a in allowed)}")
    try:
        net.load_state_dict(ck["state"], strict=True)
    except Exception as e:  # missing, unexpected or misshapen tensors
        raise BadData(path, f"tensors do not match the network's structure ({e})") from None
    template = ck.get("template")
    tensors = list(net.state_dict().items())
    if isinstance(template, dict):
        tensors += [(f"template.{k}", v) for k, v in template.items()]
    for name, t in tensors:
        if not isinstance(t, torch.Tensor):
            raise BadData(path, f"{name} is not a tensor")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise BadData(path, f"tensor {name} is not finite (NaN or inf)")
    return net, ck


def _describe(s) -> str:
    if isinstance(s, GatedStructure):
        return f"a {s.cell} network: {s}"
    return (f"a network of module size {s.module_size} with {s.n_blocks} block(s) and "
            f"{len(s.head_blocks)} head(s) reading blocks {list(s.head_blocks)}")
