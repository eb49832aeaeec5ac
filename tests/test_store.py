"""Results store: keys, provenance, load-or-run, reproduce, and safe loading."""

import json
import pickle

import pytest
import torch

from modgrow import experiments as ex
from modgrow.store import load_tensors, save_tensors, write_json
from modgrow.training import GrowthConfig

TINY = GrowthConfig(module_size=6, max_n=3, eval_batches=2, seed=1)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def test_key_is_stable_and_depends_on_every_field():
    assert ex.config_key(TINY, "x") == ex.config_key(GrowthConfig(**TINY.__dict__), "x")
    assert ex.config_key(TINY, "x") != ex.config_key(GrowthConfig(**{**TINY.__dict__, "lr": 0.2}), "x")


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
        ex.profile()
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    assert all(c.max_n <= 4 for c in ex.growth_configs())


def test_quick_profile_stays_quick():
    ex.quick_check()
    with pytest.raises(ValueError, match="unknown experiment"):
        ex.compute("everything")


def test_no_compute_mode_refuses_missing_results(store, monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    with pytest.raises(FileNotFoundError, match="MODGROW_NO_COMPUTE=1"):
        ex.load_or_run(TINY, progress=False)
    with pytest.raises(FileNotFoundError, match="not in the results store"):
        ex.load_or_compute("analysis", "demo", {"a": 1}, lambda: {})
