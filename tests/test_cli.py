"""The command line: help, one-line errors, an end-to-end growth run, the benchmark."""

import contextlib
import dataclasses
import io
import json
import subprocess
import sys
import types

import pytest


def run(*args):
    """The command in a fresh interpreter (as a user runs it)."""
    return subprocess.run([sys.executable, "-m", "modgrow", *args], capture_output=True,
                          text=True, timeout=600)


def cli(*args):
    """The same command through ``main`` in this process (help and argument errors: a fresh
    interpreter would spend seconds importing torch for each)."""
    from modgrow.__main__ import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return types.SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(autouse=True)
def _help_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps help to the terminal's width


def test_help_explains_every_command():
    r = cli("--help")
    assert r.returncode == 0
    for cmd in ("grow", "baseline", "gated", "bench", "reproduce", "results", "compute", "sweep"):
        assert cmd in r.stdout
    g = cli("grow", "--help").stdout
    import dataclasses

    from modgrow.training import GrowthConfig
    for f in dataclasses.fields(GrowthConfig):
        if f.name != "architecture":
            assert "--" + f.name.replace("_", "-") in g, f.name
    for flag in ("--out", "--resume", "--device", "--threads"):
        assert flag in g
    assert "(default 0.05)" in cli("baseline", "--help").stdout  # the non-modular learning rate
    gd = cli("gated", "--help").stdout  # the authors' LSTM: Adam, lr 1e-3
    assert "--cell {gru,lstm}" in gd and "(default 0.001)" in gd and "(default adam)" in gd
    c = cli("compute", "--help").stdout
    for name in ("growth", "baseline", "fidelity", "--stored-only"):
        assert name in c
    s = cli("sweep", "--help").stdout
    for flag in ("--executor", "--partition", "--time", "--cpus-per-task", "--array-parallelism",
                 "--threads", "--log-dir", "--dry-run", "MODGROW_PROFILE", "MODGROW_RESULTS",
                 "growth"):
        assert flag in s, flag


def test_bad_flags_exit_2_with_one_line():
    r = cli("grow", "--module-size", "0", "--out", "x")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "module_size" in r.stderr
    r = cli("grow", "--lr", "nan", "--out", "x")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = cli("compute", "growth", "--shard", "3")
    assert r.returncode == 2 and "--shard" in r.stderr
    r = cli("grow", "--max-n", "1", "--out", "x")
    assert r.returncode == 2 and "max_n" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("grow", "--task", "copy", "--out", "x")
    assert r.returncode == 2 and "task must be one of" in r.stderr
    r = cli("frobnicate")
    assert r.returncode == 2


def test_compute_stored_only_trains_nothing_and_names_what_is_missing(tmp_path, monkeypatch):
    """--stored-only with runs missing: exit 2, one line (how many, the first one's name), and
    nothing trained or stored; a stored run is not counted as missing."""
    from modgrow import profiles, store
    from modgrow.experiments import curriculum

    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    m5, m10 = curriculum.growth_configs(profiles.QUICK)  # module sizes 5 and 10, seed 0

    def stored_only():
        r = cli("compute", "growth", "--stored-only", "--quiet")
        assert r.returncode == 2 and r.stdout == "", r.stdout + r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        return r.stderr

    err = stored_only()
    assert "2 of 2 runs of growth" in err and store.run_path(m5).name in err, err
    assert not any(tmp_path.iterdir()), sorted(tmp_path.rglob("*"))
    store.load_or_run(m10, progress=False)  # the quicker of the two (seconds)
    before = sorted(tmp_path.rglob("*"))
    err = stored_only()
    assert "1 of 2 runs of growth" in err and store.run_path(m5).name in err, err
    assert store.run_path(m10).name not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_reproduce_help_says_statistics_reruns_every_seed():
    r = cli("reproduce", "--help")
    assert r.returncode == 0
    for words in ("--statistics", "EXPENSIVE", "every seed", "--scratch", "same platform",
                  "t prediction interval"):
        assert words in " ".join(r.stdout.split()), words


def test_reproduce_statistics_of_an_unknown_experiment_exits_2_with_one_line(tmp_path):
    import os
    env = {**os.environ, "MODGROW_RESULTS": str(tmp_path / "results"),
           "MODGROW_PROFILE": "quick"}
    r = subprocess.run([sys.executable, "-m", "modgrow", "reproduce", "--statistics", "growht"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "unknown experiment 'growht'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "results").exists()


def test_grow_end_to_end_writes_history_and_checkpoints(tmp_path):
    out = tmp_path / "run"
    r = run("grow", "--module-size", "10", "--max-n", "4", "--seed", "0", "--out", str(out),
            "--quiet", "--eval-batches", "4", "--confirm-batches", "8")
    assert r.returncode == 0, r.stderr
    h = json.loads((out / "history.json").read_text())
    assert [s["n"] for s in h["stages"]] == [2, 3, 4]
    assert set(h["stages"][0]) >= {"n", "steps", "epochs", "seconds", "accuracy"}
    assert sorted(p.name for p in out.glob("stage_*.pt")) == [
        "stage_002.pt", "stage_003.pt", "stage_004.pt"]
    r = run("grow", "--module-size", "10", "--max-n", "4", "--out", str(out), "--quiet")
    assert r.returncode == 2 and "--resume" in r.stderr


def test_bench_json_reports_both_engines():
    r = run("bench", "--module-size", "4", "--n", "5", "--batch-size", "32", "--repeats", "2",
            "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_modules"] == 4 and d["naive_ms"] > 0 and d["fast_ms"] > 0
    assert d["speedup"] == round(d["naive_ms"] / d["fast_ms"], 2)


def test_bench_large_json_reports_per_batch_and_pooled_rows(capsys):
    from modgrow.__main__ import main
    assert main(["bench", "--large", "--module-size", "3", "--n", "6", "--batch-size", "16",
                 "--pools", "1,3", "--thread-counts", "1", "--rounds", "1", "--steps", "3",
                 "--test-batches", "1", "--peak-size", "256", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n_modules"] == 5 and d["frozen_modules"] == 4 and d["steps_per_round"] == 3
    assert d["peak_gflops"]["1"] > 0 and d["peak_size"] == 256
    rows = {row["pool"]: row for row in d["rows"]}
    assert set(rows) == {1, 3} and rows[1]["manual_bptt"] is False and rows[3]["manual_bptt"]
    for row in rows.values():
        assert row["threads"] == 1 and row["step_ms"] > 0 and row["gflops"] >= 0
        assert row["amortised_ms"] == pytest.approx(
            row["step_ms"] + d["eval_share"] * row["test_batch_ms"], abs=0.11)
    assert rows[1]["speedup"] == 1.0
    assert rows[3]["speedup"] == round(rows[1]["amortised_ms"] / rows[3]["amortised_ms"], 2)


def test_bench_perturb_times_the_profiles_sweep_and_per_module_adds_groups(capsys, monkeypatch):
    from modgrow.__main__ import main
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    out = {}
    for extra in ([], ["--per-module"]):
        assert main(["bench", "--perturb", "--modules", "3", "--module-size", "4", "--json",
                     *extra]) == 0
        out[bool(extra)] = json.loads(capsys.readouterr().out)
    d = out[False]
    assert d["profile"] == "quick" and d["n_modules"] == 3 and d["heads"] == 3
    assert d["groups"] == 4 and d["eps"] == 5 and d["trials"] == 2  # quick: 4 eps points + 0
    assert d["variants_per_trial"] == 20 and d["wall_s"] > 0 and d["cpu_s"] > 0
    assert out[True]["groups"] == 4 + 3 + 2  # within@0..2, between@1..2
    assert main(["bench", "--perturb", "--large"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_engine_flags_refuse_bad_values_in_one_line(tmp_path, capsys):
    from modgrow.__main__ import main
    for bad in ("0", "-3"):
        assert main(["grow", "--prefix-pool", bad, "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert err == f"error: prefix_pool must be an integer >= 1, got {bad}\n"
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as e:
        main(["bench", "--large", "--pools", "0,2"])
    assert e.value.code == 2
    assert "--pools: must be integers >= 1, got '0,2'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--large", "--thread-counts", "1,100000"])
    assert "--thread-counts: must be <= 1024, got '1,100000'" in capsys.readouterr().err
    for bad in (["--test-batches", "-1"], ["--chunk", "-2"], ["--n", "2"]):
        assert main(["bench", "--large", "--module-size", "2", "--peak-size", "8", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_compute_store_reached_stores_runs_in_progress_only(tmp_path, monkeypatch):
    """--store-reached: nothing in progress is one error line; a killed run is stored up to the
    N it solved (the shorter run), and that is reported."""
    from modgrow import profiles, store
    from modgrow.experiments import beyond
    from modgrow.training import train_curriculum

    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    r = cli("compute", "scaling-far", "--store-reached")
    assert r.returncode == 2 and "no run of scaling-far in progress" in r.stderr
    (cfg,) = beyond.far_configs(profiles.QUICK)
    work = store.scratch_dir() / store.run_path(cfg).name
    n_stages = []

    def stop_after_two_stages(check):
        n_stages.append(check["n"])
        if len(set(n_stages)) > 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, work, progress=False, on_check=stop_after_two_stages)
    r = cli("compute", "scaling-far", "--store-reached")
    assert r.returncode == 0, r.stderr
    assert f"{work.name}: stored up to N = 3 as grow-m10-s1-n3" in r.stdout
    assert store.load_run(dataclasses.replace(cfg, max_n=3)).max_n_reached == 3
