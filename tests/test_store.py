"""Results store: keys, provenance, load-or-run, reproduce, and safe loading."""

import json
import pickle

import pytest
import torch

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

from modgrow import experiments, profiles
from modgrow import store as ex
from modgrow.io import load_tensors, save_tensors, write_json
from modgrow.training import GrowthConfig

TINY = GrowthConfig(module_size=6, max_n=3, eval_batches=2, seed=1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_key_is_stable_and_depends_on_every_field():
    assert ex.config_key(TINY, "x") == ex.config_key(GrowthConfig(**TINY.__dict__), "x")
    base = dataclasses.replace(TINY, max_n=5)
    other = {"architecture": "nonmodular", "bit_prob": 0.5, "max_total_steps": 7, "gamma": 0.5,
             "criterion": "check", "clip_scope": "all", "duplicate_source": "untrained",
             "optimizer": "adam"}
    # fields whose other value needs a companion change (DMS needs bit_prob=0.5): the key of
    # the companion alone is the reference
    paired = {"task": ("dms", {"bit_prob": 0.5})}
    for f in dataclasses.fields(GrowthConfig):
        if f.name in paired:
            value, companion = paired[f.name]
            ref = dataclasses.replace(base, **companion)
            changed = dataclasses.replace(ref, **{f.name: value})
            assert ex.config_key(changed, "x") != ex.config_key(ref, "x"), f.name
            continue
        if f.name in other:
            value = other[f.name]
        else:
            cur = getattr(base, f.name)
            value = (not cur) if isinstance(cur, bool) else cur + 1 if isinstance(cur, int) \
                else cur / 2
        changed = dataclasses.replace(base, **{f.name: value})
        assert ex.config_key(changed, "x") != ex.config_key(base, "x"), f.name


def test_adding_a_field_with_a_default_keeps_every_key():
    @dataclasses.dataclass(frozen=True)
    class Extended(GrowthConfig):
        cell: str = "leaky"          # a field added later, with a default
    for cfg in (TINY, GrowthConfig(), dataclasses.replace(TINY, criterion="check", lr=0.3)):
        wider = Extended(**dataclasses.asdict(cfg))
        assert ex.config_key(wider, "x") == ex.config_key(cfg, "x")
    assert ex.config_key(Extended(**dataclasses.asdict(TINY), cell="gru"), "x") != \
        ex.config_key(TINY, "x")


def test_every_committed_result_is_at_its_key_and_the_migration_is_idempotent(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    copy = tmp_path / "results"
    shutil.copytree(repo / "results", copy)
    before = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*"))
    tool = [sys.executable, str(repo / "tools" / "migrate_store.py"), str(copy)]
    out = subprocess.run(tool, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout == "", out.stdout + out.stderr
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == before


def test_migration_rekeys_a_schema1_store(tmp_path, monkeypatch):
    """A run stored under the old key (every field hashed, no criterion field) moves to its new
    key with criterion="check", and its analysis follows it; a second pass changes nothing."""
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    cfg = dataclasses.replace(TINY, criterion="check")
    run = ex.load_or_run(cfg, progress=False)
    ex.load_or_compute("analysis", f"heads-{run.path.name[:40]}", {"run": run.path.name},
                       lambda: {"v": 1})
    old = run.path.parent / "grow-m6-s1-n3-0123456789ab"
    hist = json.loads((run.path / "result.json").read_text())
    del hist["config"]["criterion"], hist["stop"]
    write_json(run.path / "result.json", hist)
    run.path.rename(old)
    ana = next((tmp_path / "results" / "analysis").iterdir())
    spec = json.loads((ana / "result.json").read_text())
    spec["config"]["run"] = old.name
    write_json(ana / "result.json", spec)
    ana.rename(ana.parent / ex.config_key(spec["config"], f"heads-{old.name[:40]}"))
    tool = [sys.executable, str(Path(__file__).resolve().parent.parent / "tools" / "migrate_store.py"),
            str(tmp_path / "results")]
    first = subprocess.run(tool, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and first.stdout.count("->") == 2, first.stdout + first.stderr
    again = ex.load_run(cfg)
    assert again is not None and again.history["stop"] == "complete"
    assert ex.load_or_compute("analysis", f"heads-{run.path.name[:40]}", {"run": run.path.name},
                              lambda: {"v": 2})["data"] == {"v": 1}
    second = subprocess.run(tool, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and second.stdout == ""


def test_load_or_run_computes_once_then_loads(store):
    first = ex.load_or_run(TINY, progress=False)
    assert first.max_n_reached == 3 and (first.path / "network.pt").exists()
    prov = first.provenance
    for k in ("package_version", "git_commit", "torch_version", "device", "date"):
        assert prov[k]
    assert first.history["wall_seconds"] > 0
    again = ex.load_or_run(TINY, progress=False)
    assert again.history == json.loads((first.path / "result.json").read_text())
    net = again.network()
    assert net.n_blocks == 2 and net.head_blocks == [0, 1]


def test_reproduce_matches_on_the_same_machine(store):
    run = ex.load_or_run(TINY, progress=False)
    rep = ex.reproduce(run.path, progress=False)
    assert rep["match"], rep["differences"]
    # tamper with the stored steps: reproduce must notice
    stored = json.loads((run.path / "result.json").read_text())
    stored["stages"][0]["steps"] += 50
    write_json(run.path / "result.json", stored)
    rep = ex.reproduce(run.path, progress=False)
    assert not rep["match"] and "steps" in rep["differences"][0]


def test_mismatched_stored_config_is_an_error(store):
    run = ex.load_or_run(TINY, progress=False)
    stored = json.loads((run.path / "result.json").read_text())
    stored["config"]["lr"] = 0.3
    write_json(run.path / "result.json", stored)
    with pytest.raises(ValueError, match="does not match"):
        ex.load_run(TINY)


def test_load_or_compute_stores_json_with_provenance(store):
    calls = []
    cfg = {"what": "demo", "n": 3}
    ex.load_or_compute("analysis", "demo", cfg, lambda: calls.append(1) or {"v": [1, 2]})
    out2 = ex.load_or_compute("analysis", "demo", cfg, lambda: calls.append(1) or {"v": [9]})
    assert calls == [1] and out2["data"] == {"v": [1, 2]} and out2["provenance"]["git_commit"]
    assert [r["kind"] for r in ex.list_results()] == ["analysis"]


def test_loading_refuses_pickled_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_tensors(path)
    save_tensors(tmp_path / "ok.pt", {"a": torch.ones(2), "s": [1, 2]})
    assert load_tensors(tmp_path / "ok.pt")["s"] == [1, 2]


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "r.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_profile_is_validated(monkeypatch):
    monkeypatch.setenv("MODGROW_PROFILE", "huge")
    with pytest.raises(ValueError, match="MODGROW_PROFILE"):
        profiles.active()
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    assert profiles.active() is profiles.QUICK


def test_quick_profile_stays_quick_and_the_registry_is_complete():
    for name, exp in experiments.REGISTRY.items():
        cfgs = exp.configs(profiles.QUICK)
        assert cfgs and all(c.max_n <= 4 for c in cfgs), name
        assert len(exp.configs(profiles.PAPER)) >= len(cfgs)
    assert {"growth", "ablations", "scaling", "baseline", "iclr", "fidelity"} <= set(
        experiments.REGISTRY)
    with pytest.raises(ValueError, match="unknown experiment"):
        experiments.compute("everything", profiles.QUICK)


def test_no_compute_mode_refuses_missing_results(store, monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    with pytest.raises(FileNotFoundError, match="MODGROW_NO_COMPUTE=1"):
        ex.load_or_run(TINY, progress=False)
    with pytest.raises(FileNotFoundError, match="not in the results store"):
        ex.load_or_compute("analysis", "demo", {"a": 1}, lambda: {})
