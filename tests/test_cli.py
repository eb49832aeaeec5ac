"""The command line: help, one-line errors, an end-to-end growth run, the benchmark."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "modgrow", *args], capture_output=True,
                          text=True, timeout=600)


def test_help_explains_every_command():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("grow", "baseline", "gated", "bench", "reproduce", "results", "compute", "sweep"):
        assert cmd in r.stdout
    g = run("grow", "--help").stdout
    import dataclasses

    from modgrow.training import GrowthConfig
    for f in dataclasses.fields(GrowthConfig):
        if f.name != "architecture":
            assert "--" + f.name.replace("_", "-") in g, f.name
    for flag in ("--out", "--resume", "--device", "--threads"):
        assert flag in g
    assert "(default 0.05)" in run("baseline", "--help").stdout  # the non-modular learning rate
    gd = run("gated", "--help").stdout  # the authors' LSTM: Adam, lr 1e-3
    assert "--cell {gru,lstm}" in gd and "(default 0.001)" in gd and "(default adam)" in gd
    c = run("compute", "--help").stdout
    for name in ("growth", "baseline", "fidelity"):
        assert name in c
    s = run("sweep", "--help").stdout
    for flag in ("--executor", "--partition", "--time", "--cpus-per-task", "--array-parallelism",
                 "--threads", "--log-dir", "--dry-run", "MODGROW_PROFILE", "MODGROW_RESULTS",
                 "growth"):
        assert flag in s, flag


def test_bad_flags_exit_2_with_one_line():
    r = run("grow", "--module-size", "0", "--out", "x")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "module_size" in r.stderr
    r = run("grow", "--lr", "nan", "--out", "x")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = run("compute", "growth", "--shard", "3")
    assert r.returncode == 2 and "--shard" in r.stderr
    r = run("grow", "--max-n", "1", "--out", "x")
    assert r.returncode == 2 and "max_n" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("grow", "--task", "copy", "--out", "x")
    assert r.returncode == 2 and "task must be one of" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_reproduce_help_says_statistics_reruns_every_seed():
    r = run("reproduce", "--help")
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
