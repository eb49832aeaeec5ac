"""The bottom layer of the results store: atomic writes, provenance, loads that never unpickle
code, and the network checkpoint format (written and read here and nowhere else).

It imports nothing from the package but ``network`` and ``gated``, so that the trainer (which
writes stage checkpoints) and the store (which keys and loads results) both build on it."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from .gated import GatedRNN, GatedStructure
from .network import RNN, Structure

__all__ = ["provenance", "write_json", "read_json", "save_tensors", "load_tensors", "git_commit",
           "save_network", "load_network"]


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
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=False)
            f.write("\n")
    _atomic(path, w)


def read_json(path: Path):
    with open(path) as f:
        return json.load(f)


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


def _rebuild(structure: dict) -> RNN | GatedRNN:
    """An untrained network with a saved structure: gated when it names a ``cell``, else leaky."""
    if "cell" in structure:
        return GatedRNN.from_structure(GatedStructure.from_dict(structure))
    return RNN.from_structure(Structure.from_dict(structure))


def load_network(path: Path) -> tuple[RNN | GatedRNN, dict]:
    """Rebuild a network saved by ``save_network`` (strict: every tensor must match its
    structure); returns it and the whole checkpoint (for the extras)."""
    ck = load_tensors(path)
    net = _rebuild(ck["structure"])
    net.load_state_dict(ck["state"], strict=True)
    return net, ck
