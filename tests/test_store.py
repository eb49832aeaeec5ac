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
             "optimizer": "adam", "confirm_margin": 0.003, "order": "step2"}
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
        if name not in profiles.PAPER.out_of_scope:
            assert len(exp.configs(profiles.PAPER)) >= len(cfgs), name
    assert {"growth", "ablations", "scaling", "baseline", "iclr", "fidelity"} <= set(
        experiments.REGISTRY)
    with pytest.raises(ValueError, match="unknown experiment"):
        experiments.compute("everything", profiles.QUICK)


@pytest.mark.parametrize("profile", sorted(profiles.PROFILES))
def test_a_profile_runs_configs_of_every_experiment_it_does_not_declare_out_of_scope(profile):
    p = profiles.PROFILES[profile]
    assert p.out_of_scope <= set(experiments.REGISTRY), p.out_of_scope - set(experiments.REGISTRY)
    empty = {name for name, exp in experiments.REGISTRY.items() if not exp.configs(p)}
    assert not empty - p.out_of_scope, f"{profile}: no configs, not declared out of scope: " \
        f"{sorted(empty - p.out_of_scope)}"
    assert not p.out_of_scope - empty, f"{profile}: declared out of scope but runs configs: " \
        f"{sorted(p.out_of_scope - empty)}"


def test_out_of_scope_follows_the_fields_that_cut_an_experiment():
    assert not profiles.QUICK.out_of_scope
    narrow = dataclasses.replace(profiles.PAPER, long_budget_max_size=0)
    assert narrow.out_of_scope == {"baseline-long"}
    assert not experiments.get("baseline-long").configs(narrow)
    wider = dataclasses.replace(profiles.PAPER, long_budget_max_size=50)
    assert not wider.out_of_scope
    assert experiments.get("baseline-long").configs(wider)


def test_no_compute_mode_refuses_missing_results(store, monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    with pytest.raises(FileNotFoundError, match="MODGROW_NO_COMPUTE=1"):
        ex.load_or_run(TINY, progress=False)
    with pytest.raises(FileNotFoundError, match="not in the results store"):
        ex.load_or_compute("analysis", "demo", {"a": 1}, lambda: {})


# ----- safe writes and strict network loads (issue #14) ----------------------------------------

def test_atomic_writers_flush_the_temp_file_before_the_rename(tmp_path, monkeypatch):
    import os

    from modgrow import io
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(io.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(io.os, "replace",
                        lambda a, b: events.append(("replace", os.path.getsize(a)))
                        or real_replace(a, b))
    write_json(tmp_path / "a.json", {"a": 1})
    save_tensors(tmp_path / "b.pt", {"x": torch.ones(3)})
    assert [e if e == "fsync" else e[0] for e in events] == ["fsync", "replace", "fsync"] * 2
    assert all(e[1] > 0 for e in events if e != "fsync")


def test_stale_temp_files_of_killed_writes_are_removed_and_fresh_ones_kept(tmp_path):
    import os
    import time

    from modgrow.io import remove_stale_temps
    old, fresh = tmp_path / ".r.json.abc123.tmp", tmp_path / ".r.json.def456.tmp"
    for p in (old, fresh):
        p.write_text("{\"par")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    write_json(tmp_path / "r.json", {"a": 1})  # a write of the same target cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "r.json"]
    assert remove_stale_temps(tmp_path, older_than=-1) == [fresh]


def _net(size=3, blocks=2):
    from modgrow.network import RNN
    g = torch.Generator().manual_seed(0)
    net = RNN(size, g)
    net.add_head(0, g)
    for _ in range(blocks - 1):
        net.add_head(net.add_block(generator=g), g)
    return net


def test_load_network_refuses_wrong_or_damaged_checkpoints(tmp_path):
    from modgrow.io import BadData, load_network, save_network
    from modgrow.network import Structure
    path = tmp_path / "net.pt"
    save_network(path, _net())
    net, _ = load_network(path, expect=Structure(3, 2, (0, 1)))
    assert net.n_blocks == 2
    with pytest.raises(BadData, match="module size 3 with 2 block.*expected .*module size 4"):
        load_network(path, expect=Structure(4, 2, (0, 1)))
    cases = {
        "truncated": lambda: path.write_bytes(path.read_bytes()[:200]),
        "garbage": lambda: path.write_bytes(b"not a zip file at all"),
        "not a network": lambda: save_tensors(path, {"a": torch.ones(2)}),
        "nan": lambda: save_tensors(path, {"structure": {"module_size": 3, "n_blocks": 1,
                                                         "head_blocks": [0]},
                                           "state": {k: v * float("nan") for k, v in
                                                     _net(blocks=1).state_dict().items()}}),
        "missing tensor": lambda: save_tensors(path, {"structure": _net().structure().to_dict(),
                                                      "state": _net(blocks=1).state_dict()}),
    }
    for name, damage in cases.items():
        damage()
        with pytest.raises(BadData) as e:
            load_network(path)
        msg = str(e.value)
        assert msg.startswith(f"{path}: ") and len(msg.splitlines()) == 1, (name, msg)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_network(tmp_path / "absent.pt")


def test_garbled_json_names_its_file(tmp_path):
    from modgrow.io import BadData, read_json
    p = tmp_path / "r.json"
    p.write_bytes(b'{"a": 1,')
    with pytest.raises(BadData, match=f"^{p}: not valid JSON"):
        read_json(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BadData, match=f"^{p}: not valid JSON"):
        read_json(p)


# a tiny run that completes N = 2, 3 in well under a second
FAST = GrowthConfig(module_size=3, max_n=3, eval_every=10, eval_batches=2, batch_size=32,
                    confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)


def test_a_stored_network_is_checked_against_its_hash_and_config(store):
    from modgrow.io import BadData, save_network, sha256_file
    run = ex.load_or_run(FAST, progress=False)
    net_file, res_file = run.path / "network.pt", run.path / "result.json"
    assert run.history["network_sha256"] == sha256_file(net_file)
    assert ex.load_run(FAST).network().n_blocks == 2
    good = net_file.read_bytes()
    save_network(net_file, _net(3, 2))  # the right structure, other weights: only the hash tells
    with pytest.raises(BadData, match=f"^{net_file}: SHA-256 does not match") as e:
        ex.load_run(FAST)
    assert len(str(e.value).splitlines()) == 1
    # a result stored before hashes were recorded is accepted, but its structure still checked
    hist = json.loads(res_file.read_text())
    del hist["network_sha256"]
    write_json(res_file, hist)
    assert ex.load_run(FAST).network().n_blocks == 2
    save_network(net_file, _net(4, 2))
    with pytest.raises(BadData, match="module size 4 .* expected .*module size 3"):
        ex.load_run(FAST).network()
    net_file.write_bytes(good)
    hist["network_sha256"] = "0" * 64
    write_json(res_file, hist)
    with pytest.raises(BadData, match="SHA-256"):
        ex.load_run(FAST)


def test_stored_runs_only_refuses_to_train_but_computes_analyses(store):
    with ex.stored_runs_only():
        with pytest.raises(FileNotFoundError, match="only stored runs"):
            ex.load_or_run(FAST, progress=False)
        assert ex.load_or_compute("analysis", "demo", {"a": 1}, lambda: {"v": 1})["data"] == {"v": 1}
    assert not (store / "runs").exists() and not ex.scratch_dir().exists()
    run = ex.load_or_run(FAST, progress=False)  # outside the block a missing run trains again
    with ex.stored_runs_only():
        assert ex.load_or_run(FAST, progress=False).path == run.path


def test_import_never_replaces_a_stored_result_without_force(store, tmp_path):
    from modgrow.training import train_curriculum
    folder = tmp_path / "run"
    train_curriculum(FAST, folder, progress=False)
    first = ex.import_run_folder(folder)
    before = (first.path / "result.json").read_bytes()
    with pytest.raises(FileExistsError, match="result.json already exists.*--force"):
        ex.import_run_folder(folder)
    assert (first.path / "result.json").read_bytes() == before
    again = ex.import_run_folder(folder, force=True)
    assert again.path == first.path and ex.load_run(FAST) is not None


def test_listing_flags_unreadable_results_and_lists_the_others(store):
    import os
    import time
    for i in range(3):
        ex.load_or_compute("analysis", f"demo{i}", {"i": i}, lambda: {"v": 1})
    folders = sorted((store / "analysis").iterdir())
    (folders[1] / "result.json").write_text('{"kind": "analysis", "con')
    stale = folders[2] / ".result.json.x1y2z3.tmp"
    stale.write_text("{")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    killed = store / "analysis" / "demo9-000000000000"   # a first write killed before its rename
    killed.mkdir()
    (killed / ".result.json.q1w2e3.tmp").write_text("{")
    os.utime(killed / ".result.json.q1w2e3.tmp", (time.time() - 7200, time.time() - 7200))
    rows = ex.list_results()
    assert [r["result"] for r in rows] == [f"analysis/{f.name}" for f in folders]
    assert ["problem" in r for r in rows] == [False, True, False]
    assert rows[1]["problem"].startswith(str(folders[1] / "result.json"))
    assert not stale.exists() and list(killed.iterdir()) == []


def test_reproduce_expects_no_bit_exact_match_after_a_thread_change(store):
    run = ex.load_or_run(FAST, progress=False)
    assert ex.reproduce(run.path, progress=False)["bit_exact_expected"]
    hist = json.loads((run.path / "result.json").read_text())
    hist.update(thread_changes=[{"after_n": 2, "from": 1, "to": 2}], bit_exact_reproduction=False)
    write_json(run.path / "result.json", hist)
    rep = ex.reproduce(run.path, progress=False)
    assert rep["same_platform"] and not rep["bit_exact_expected"]


def test_platform_case_compares_the_cpu_when_the_stored_run_records_it():
    from modgrow.io import provenance
    now = provenance()
    assert now["cpu_model"] and now["cpu_capability"]
    run = {"provenance": dict(now)}
    assert ex.platform_case(run, now) == (True, True) and ex.cpu_recorded(run)
    other_cpu = {"provenance": {**now, "cpu_model": "another CPU"}}
    assert ex.platform_case(other_cpu, now) == (False, False)
    other_isa = {"provenance": {**now, "cpu_capability": "NO AVX"}}
    assert ex.platform_case(other_isa, now) == (False, False)
    # a run stored before CPUs were recorded: same platform by torch, machine and threads only
    old = {"provenance": {k: v for k, v in now.items() if k not in ex.CPU_KEYS}}
    assert ex.platform_case(old, now) == (True, True) and not ex.cpu_recorded(old)
    resumed = {**run, "bit_exact_reproduction": False}
    assert ex.platform_case(resumed, now) == (True, False)


def test_a_run_in_progress_is_stored_as_the_run_up_to_the_n_it_reached(store):
    from modgrow.training import train_curriculum
    cfg = GrowthConfig(module_size=3, max_n=6, eval_every=10, eval_batches=2, batch_size=32,
                       confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)
    work = ex.scratch_dir() / ex.run_path(cfg).name
    with pytest.raises(FileNotFoundError, match="no run in progress"):
        ex.store_reached(cfg)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, work, resume=True, progress=False, stop_after_steps=60)
    reached = json.loads((work / "history.json").read_text())["stages"][-1]["n"]
    assert 2 <= reached < 6
    stored = ex.store_reached(cfg)
    short = dataclasses.replace(cfg, max_n=reached)
    assert stored.config == short and ex.load_run(short).history["status"] == "complete"
    # the very run that a max_n of `reached` gives, stage for stage and weight for weight
    fresh = train_curriculum(short, progress=False)
    strip = lambda h: [{k: v for k, v in s.items() if k != "seconds"} for s in h["stages"]]  # noqa: E731
    assert strip(stored.history) == strip(fresh.history)
    for a, b in zip(stored.network().state_dict().values(), fresh.network.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(FileExistsError, match="stored already"):
        ex.store_reached(cfg)
    # the run in progress goes on to its own max_n untouched
    done = train_curriculum(cfg, work, resume=True, progress=False)
    assert done.history["max_n_reached"] == 6
    assert strip(done.history)[:len(strip(fresh.history))] == strip(fresh.history)


def test_a_parked_run_resumes_in_a_fresh_checkout_to_the_uninterrupted_run(store):
    from modgrow.training import train_curriculum
    cfg = GrowthConfig(module_size=3, max_n=5, eval_every=10, eval_batches=2, batch_size=32,
                       confirm_batches=2, threshold=0.6, seed=2, max_steps_per_stage=500)
    assert ex.park_run(cfg) is None and ex.unpark_run(cfg) is None   # nothing in progress
    work = ex.scratch_dir() / ex.run_path(cfg).name
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, work, resume=True, progress=False, stop_after_steps=60)
    reached = json.loads((work / "history.json").read_text())["stages"][-1]["n"]
    parked = ex.park_run(cfg)
    # only what a resume needs: the history and the last stage checkpoint
    assert sorted(p.name for p in parked.iterdir()) == ["history.json", f"stage_{reached:03d}.pt"]
    shutil.rmtree(ex.scratch_dir())                                  # a fresh checkout
    assert ex.unpark_run(cfg) == work
    assert ex.unpark_run(cfg) is None                                # a run in scratch is kept
    run = ex.load_or_run(cfg, progress=False)
    fresh = train_curriculum(cfg, progress=False)
    strip = lambda h: [{k: v for k, v in s.items() if k != "seconds"} for s in h["stages"]]  # noqa: E731
    assert run.max_n_reached == 5 and strip(run.history) == strip(fresh.history)
    for a, b in zip(run.network().state_dict().values(), fresh.network.state_dict().values()):
        assert torch.equal(a, b)
    assert ex.park_run(cfg) is None                                  # stored: nothing to park
    assert ex.unpark_run(cfg) is None and not parked.exists()        # stored: parked copy goes


def test_a_parked_run_of_another_config_is_refused(store):
    from modgrow.training import train_curriculum
    cfg = GrowthConfig(module_size=3, max_n=4, eval_every=10, eval_batches=2, batch_size=32,
                       confirm_batches=2, threshold=0.6, seed=3, max_steps_per_stage=500)
    work = ex.scratch_dir() / ex.run_path(cfg).name
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, work, resume=True, progress=False, stop_after_steps=40)
    parked = ex.park_run(cfg)
    other = dataclasses.replace(cfg, seed=4)
    shutil.copytree(parked, ex.parked_dir() / ex.run_path(other).name)
    with pytest.raises(ValueError, match="config differs in \\['seed'\\]"):
        ex.unpark_run(other)


def test_raising_max_n_carries_a_stored_run_over_exactly(store):
    """A run stopped on a budget below its max_n is the longer config's run as it is; a run that
    reached its max_n resumes from its last stage checkpoint; both give the run the longer
    config trains from scratch, stage for stage and weight for weight."""
    from modgrow.training import train_curriculum
    strip = lambda h: [{k: v for k, v in s.items() if k != "seconds"} for s in h["stages"]]  # noqa: E731
    base = dict(module_size=3, eval_every=10, eval_batches=2, batch_size=32, confirm_batches=2,
                threshold=0.6, seed=1, max_steps_per_stage=500)
    for short, longer_stop in ((GrowthConfig(max_n=6, max_total_steps=60, **base), "total_budget"),
                               (GrowthConfig(max_n=3, **base), None)):
        run = ex.load_or_run(short, progress=False)
        out = ex.raise_max_n(short, 5 if longer_stop is None else 9)
        long = dataclasses.replace(short, max_n=5 if longer_stop is None else 9)
        if longer_stop:
            assert run.history["stop"] == longer_stop and isinstance(out, ex.StoredRun)
            assert out.history["stored_from"] == {"run": run.path.name, "max_n": short.max_n}
        else:
            assert out == ex.scratch_dir() / ex.run_path(long).name
        got = ex.load_or_run(long, progress=False)
        fresh = train_curriculum(long, progress=False)
        assert strip(got.history) == strip(fresh.history)
        assert got.history["stop"] == fresh.history["stop"]
        for a, b in zip(got.network().state_dict().values(), fresh.network.state_dict().values()):
            assert torch.equal(a, b)
        with pytest.raises(FileExistsError, match="stored already"):
            ex.raise_max_n(short, long.max_n)
    with pytest.raises(ValueError, match="does not raise"):
        ex.raise_max_n(short, 3)
    gone = GrowthConfig(max_n=2, **base)
    ex.load_or_run(gone, progress=False)
    shutil.rmtree(ex.scratch_dir() / ex.run_path(gone).name)
    with pytest.raises(FileNotFoundError, match="stage checkpoints are gone"):
        ex.raise_max_n(gone, 4)
