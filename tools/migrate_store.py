#!/usr/bin/env python3
"""Migrate a results store to the current key schema (``modgrow.store.SCHEMA``). Idempotent.

Usage: python tools/migrate_store.py [RESULTS_DIR] [--dry-run]

Schema 1 hashed every config field; schema 2 hashes the schema version and the fields that differ
from their defaults, so adding a field with a default no longer re-keys stored results. For each
stored result this script

* fills config fields that did not exist when it was computed with the value its computation
  actually used: ``criterion="check"`` (every schema-1 run ended a stage at the first passing
  10-batch check); every other new field's default is the old behaviour; under
  ``criterion="check"`` the unused ``confirm_batches`` is set to its default;
* adds the typed stop reason (``stop``) to run histories that only had a message (the one place
  where run messages are parsed);
* moves the result (and a run's scratch folder of stage checkpoints, if present) to its new key,
  and rewrites the run names that analyses refer to.

A result already at its current key is left alone, so a second run changes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from modgrow.io import read_json, write_json
from modgrow.store import SCHEMA, config_key, run_name
from modgrow.training import GrowthConfig

# fields added after schema 1, with the value every schema-1 result was computed with
LEGACY_VALUES = {"criterion": "check"}
DEFAULT_CONFIRM = next(f.default for f in dataclasses.fields(GrowthConfig)
                       if f.name == "confirm_batches")


def stop_reason(hist: dict) -> str | None:
    msg = hist.get("message", "")
    if hist.get("status") == "complete":
        return "complete"
    if "total step budget" in msg:
        return "total_budget"
    if "not solved within" in msg:
        return "stage_budget"
    return None


def migrate_runs(root: Path, dry: bool) -> dict[str, str]:
    """Re-key every run; returns old folder name -> new folder name (for all runs)."""
    renames = {}
    for res in sorted((root / "runs").glob("*/result.json")):
        folder = res.parent
        hist = read_json(res)
        raw = hist["config"]
        cfg = GrowthConfig.from_dict({**{k: v for k, v in LEGACY_VALUES.items() if k not in raw},
                                      **raw})
        if cfg.criterion == "check":  # confirm_batches plays no part: keep it at its default
            cfg = dataclasses.replace(cfg, confirm_batches=DEFAULT_CONFIRM)
        new_name = config_key(cfg, run_name(cfg))
        renames[folder.name] = new_name
        changed = hist["config"] != asdict(cfg) or "stop" not in hist or \
            hist.get("schema") != SCHEMA
        if changed:
            hist["config"] = asdict(cfg)
            hist.setdefault("stop", stop_reason(hist))
            hist["schema"] = SCHEMA
            if not dry:
                write_json(res, hist)
        if move(folder, new_name, "run", dry):
            scratch = root.parent / "runs" / "store"
            if (scratch / folder.name).is_dir() and not (scratch / new_name).exists():
                shutil.move(str(scratch / folder.name), str(scratch / new_name))
    return renames


def move(folder: Path, new_name: str, what: str, dry: bool) -> bool:
    """Rename a result folder to its new key (never over an existing one); True if it moved."""
    if folder.name == new_name:
        return False
    print(f"{what:8s} {folder.name} -> {new_name}")
    if dry:
        return False
    target = folder.parent / new_name
    if target.exists():
        sys.exit(f"error: {target} exists already")
    folder.rename(target)
    return True


def analysis_name(folder: str, old_run: str, new_run: str) -> str:
    """An analysis's name without its hash, with the (truncated) name of the run it analyses
    updated when that run moved."""
    base = folder[:-13]  # drop "-" and the 12-digit hash
    return base.replace(old_run[:40], new_run[:40]) if old_run != new_run else base


def migrate_analyses(root: Path, renames: dict[str, str], dry: bool) -> None:
    for res in sorted((root / "analysis").glob("*/result.json")):
        folder = res.parent
        stored = read_json(res)
        cfg = dict(stored["config"])
        old_run = cfg.get("run", "")
        if "run" in cfg:
            cfg["run"] = renames.get(old_run, old_run)
        new = config_key(cfg, analysis_name(folder.name, old_run, cfg.get("run", "")))
        if cfg != stored["config"] or stored.get("schema") != SCHEMA:
            stored["config"], stored["schema"] = cfg, SCHEMA
            if not dry:
                write_json(res, stored)
        move(folder, new, "analysis", dry)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="?", type=Path,
                    default=Path(__file__).resolve().parent.parent / "results")
    ap.add_argument("--dry-run", action="store_true", help="print what would move")
    args = ap.parse_args(argv)
    renames = migrate_runs(args.results, args.dry_run)
    migrate_analyses(args.results, renames, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
