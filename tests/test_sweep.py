"""Sweeps through submitit: local jobs end to end on the quick profile (stored at the keys that
``compute`` uses, loaded by a second sweep, failures reported with their logs), and the SLURM
submission that a fake ``sbatch`` receives."""

import json
import os
import pickle
import stat
import sys
from pathlib import Path

import pytest

from modgrow import store
from modgrow.__main__ import main
from modgrow.experiments import get
from modgrow.profiles import QUICK
from modgrow.sweep import JobSpec, RunJob, plan
from modgrow.training import train_curriculum


@pytest.fixture
def quick_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_PROFILE", "quick")
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a job run in this process sets it
    return tmp_path


def test_local_sweep_stores_runs_at_compute_keys_then_loads(quick_store, capsys):
    keys = [store.run_path(c).name for c in get("growth").configs(QUICK)]
    assert main(["sweep", "growth", "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert all(f"{k}  missing" in listing for k in keys)
    assert not (quick_store / "runs" / "sweep").exists()  # nothing submitted

    assert main(["sweep", "growth", "--array-parallelism", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 done, 0 running, 0 failed" in out and "analyses done" in out
    results = [store.results_dir() / "runs" / k / "result.json" for k in keys]
    assert all(p.exists() for p in results)
    logs = sorted((quick_store / "runs" / "sweep" / "growth").glob("*_log.out"))
    assert len(logs) == 2 and all("complete, max N 3" in p.read_text() for p in logs)

    # the second sweep submits nothing and loads what the first stored
    mtimes = [p.stat().st_mtime_ns for p in results]
    assert main(["sweep", "growth"]) == 0
    out = capsys.readouterr().out
    assert "2 stored, 0 to run" in out and "running" not in out
    assert [p.stat().st_mtime_ns for p in results] == mtimes
    assert len(list((quick_store / "runs" / "sweep" / "growth").glob("*_log.out"))) == 2


def test_failed_job_exits_1_and_names_its_log(quick_store, monkeypatch, capsys):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")  # the job refuses to compute: it fails
    assert main(["sweep", "scaling", "--log-dir", str(quick_store / "logs")]) == 1
    out = capsys.readouterr().out
    assert "0 done, 0 running, 1 failed" in out
    log = Path(out.split("; log ")[1].split()[0])
    assert log.parent == quick_store / "logs" and "MODGROW_NO_COMPUTE=1" in log.read_text()


def test_resubmitted_job_resumes_from_the_scratch_checkpoints(quick_store):
    spec = plan("scaling", QUICK)[0]
    cfg = get("scaling").configs(QUICK)[0]
    work = store.scratch_dir() / spec.key
    with pytest.raises(KeyboardInterrupt):  # the first job is killed after a few stages
        train_curriculum(cfg, work, progress=False, stop_after_steps=700)
    done = json.loads((work / "history.json").read_text())["stages"]
    assert 0 < len(done) < cfg.max_n - 1
    assert RunJob()(spec) == {"key": spec.key, "status": "complete", "max_n": cfg.max_n}
    stored = json.loads((store.run_path(cfg) / "result.json").read_text())["stages"]
    assert stored[:len(done)] == done  # the killed job's stages, not recomputed ones


def test_job_refuses_a_config_that_changed_since_submission(quick_store):
    spec = plan("scaling", QUICK)[0]
    with pytest.raises(ValueError, match="changed since submission"):
        RunJob()(JobSpec(spec.experiment, spec.index, "grow-other-000000000000", spec.profile,
                         spec.results))


def _fake_slurm(bin_dir: Path, record: Path) -> None:
    bin_dir.mkdir()
    scripts = {
        "sbatch": f'#!/bin/sh\necho "$@" > {record}/args\ncp "$1" {record}/submission.sh\n'
                  'echo "Submitted batch job 12345"\n',
        "srun": "#!/bin/sh\nexit 0\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)


def test_slurm_submission_is_one_array_with_the_flags(quick_store, monkeypatch, capsys):
    record = quick_store / "record"
    record.mkdir()
    _fake_slurm(quick_store / "bin", record)
    monkeypatch.setenv("PATH", f"{quick_store / 'bin'}{os.pathsep}{os.environ['PATH']}")
    logs = quick_store / "shared" / "logs"
    assert main(["sweep", "ablations", "--executor", "slurm", "--partition", "cpu-long",
                 "--time", "90", "--cpus-per-task", "2", "--threads", "2",
                 "--array-parallelism", "3", "--log-dir", str(logs)]) == 0
    out = capsys.readouterr().out
    assert "submitted SLURM job 12345, 4 tasks on partition cpu-long" in out
    assert "MODGROW_PROFILE=quick" in out and "python -m modgrow compute ablations --stored-only" in out

    sub = (record / "submission.sh").read_text()
    assert (record / "args").read_text().split()[0].endswith(".sh")
    for line in ("#SBATCH --array=0-3%3", "#SBATCH --partition=cpu-long", "#SBATCH --time=90",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --job-name=modgrow-ablations",
                 "export MODGROW_PROFILE=quick", "export OMP_NUM_THREADS=2",
                 f"export MODGROW_RESULTS={store.results_dir().resolve()}"):
        assert line in sub, line
    assert f"{sys.executable} -u -m submitit.core._submit {logs}" in sub
    # each task runs RunJob on one planned config
    specs = []
    for i in range(4):
        with open(logs / f"12345_{i}_submitted.pkl", "rb") as f:
            delayed = pickle.load(f)
        assert isinstance(delayed.function, RunJob)
        specs.append(delayed.args[0])
    assert [s.key for s in specs] == [s.key for s in plan("ablations", QUICK)]
    assert {s.threads for s in specs} == {2}


def test_slurm_without_sbatch_is_a_one_line_error(quick_store, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(quick_store))  # no sbatch, no srun
    assert main(["sweep", "growth", "--executor", "slurm"]) == 2
    cap = capsys.readouterr()
    assert len(cap.err.strip().splitlines()) == 1 and "sbatch" in cap.err and cap.out == ""
    with pytest.raises(SystemExit) as e:
        main(["sweep", "nonesuch"])
    assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
