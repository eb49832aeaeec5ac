"""``python -m modgrow reproduce --statistics EXPERIMENT`` (issue #14): every run of an experiment
recomputed into a scratch store, its statistics compared per group with the stored runs'
intervals.

The experiment is a tiny one registered for the tests (the quick profile's experiments take a
minute and have one seed per group): two groups of three seeds (module sizes 3 and 4) and a group
of one seed (module size 5), each run a few SGD steps."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from modgrow import experiments
from modgrow.__main__ import main
from modgrow.experiments import Experiment
from modgrow.io import write_json
from modgrow.replicate import interval
from modgrow.training import GrowthConfig

FAST = dict(max_n=3, eval_every=10, eval_batches=2, batch_size=32, confirm_batches=2,
            threshold=0.6, max_steps_per_stage=500)


def tiny_configs(profile) -> list[GrowthConfig]:
    return ([GrowthConfig(module_size=m, seed=s, **FAST) for m in (3, 4) for s in (0, 1, 2)]
            + [GrowthConfig(module_size=5, seed=0, **FAST)])


TINY = Experiment("tiny", "tests", "a tiny experiment for the tests", tiny_configs)


@pytest.fixture(autouse=True)
def tiny_registered(monkeypatch):
    monkeypatch.setitem(experiments.REGISTRY, "tiny", TINY)
    monkeypatch.setenv("MODGROW_PROFILE", "quick")


@pytest.fixture(scope="module")
def stored_world(tmp_path_factory) -> Path:
    """A results store holding every run of 'tiny'."""
    root = tmp_path_factory.mktemp("stat")
    mp = pytest.MonkeyPatch()
    mp.setenv("MODGROW_RESULTS", str(root / "results"))
    mp.setitem(experiments.REGISTRY, "tiny", TINY)
    try:
        from modgrow.profiles import QUICK
        experiments.compute("tiny", QUICK, progress=False)
    finally:
        mp.undo()
    return root


@pytest.fixture
def world(stored_world, tmp_path, monkeypatch) -> Path:
    """A copy of the stored world, the store pointed at it."""
    root = tmp_path / "w"
    shutil.copytree(stored_world, root)
    monkeypatch.setenv("MODGROW_RESULTS", str(root / "results"))
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(out: str) -> dict[tuple[str, str], str]:
    """(group, statistic) -> the table row."""
    table = {}
    for line in out.splitlines():
        for stat in ("max N reached", "total steps", "median steps/stage"):
            if f"  {stat} " in line:
                table[(line.split(f"  {stat} ")[0].strip(), stat)] = line
    return table


def test_interval_is_the_t_prediction_interval_of_the_recomputed_mean():
    m, lo, hi = interval([0.0, 2.0], 2)
    half = 12.7062 * math.sqrt(2) * math.sqrt(1 / 2 + 1 / 2)
    assert m == 1 and lo == pytest.approx(1 - half, rel=1e-4) and hi == pytest.approx(1 + half,
                                                                                         rel=1e-4)
    m, lo, hi = interval([3.0, 3.0, 3.0], 3)
    assert (m, lo, hi) == (3, 3, 3)
    m, lo, hi = interval([7.0], 1)
    assert m == 7 and math.isnan(lo) and math.isnan(hi)


def test_same_platform_all_within_and_the_store_untouched(world, capsys):
    before = snapshot(world)
    rc = main(["reproduce", "--statistics", "tiny", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    assert "bit-exact identity expected; 7 of 7 runs identical" in out
    table = rows(out)
    assert len(table) == 9  # 3 groups x 3 statistics
    for stat in ("max N reached", "total steps", "median steps/stage"):
        for group in ("module_size=3", "module_size=4"):
            row = table[(group, stat)]
            assert " yes" in row and " NO" not in row and " n/a" not in row, row
        assert " n/a" in table[("module_size=5", stat)]
        assert "one seed: cannot be judged" in table[("module_size=5", stat)]
    assert out.strip().splitlines()[-1].startswith("WITHIN: all 6 judged rows")
    assert "3 rows not judged" in out.strip().splitlines()[-1]
    assert snapshot(world) == before  # nothing written into the results store or beside it


def test_tampered_stored_steps_fall_outside(world, capsys):
    # the stored module-size-3 runs claim 100 times the steps they took; result.json carries no
    # hash of its own (only of network.pt), so the store still loads them
    for p in (world / "results" / "runs").glob("grow-m3-*/result.json"):
        d = json.loads(p.read_text())
        for s in d["stages"]:
            s["steps"] *= 100
        write_json(p, d)
    rc = main(["reproduce", "--statistics", "tiny", "--quiet"])
    out, _ = capsys.readouterr()
    assert rc == 1, out
    table = rows(out)
    assert " NO" in table[("module_size=3", "total steps")]
    assert " NO" in table[("module_size=3", "median steps/stage")]
    assert " NO" not in table[("module_size=3", "max N reached")]
    assert all(" NO" not in table[("module_size=4", s)]
               for s in ("max N reached", "total steps", "median steps/stage"))
    assert "4 of 7 runs identical" in out  # the tampered runs are no longer identical
    assert out.strip().splitlines()[-1].startswith("OUTSIDE: 2 of 6 judged rows")


def test_scratch_store_is_kept_and_reused_never_the_results_store(world, capsys):
    scratch = world / "scratch"
    assert main(["reproduce", "--statistics", "tiny", "--quiet", "--scratch", str(scratch)]) == 0
    assert len(list((scratch / "runs").glob("*/result.json"))) == 7
    kept = snapshot(scratch)
    assert main(["reproduce", "--statistics", "tiny", "--quiet", "--scratch", str(scratch)]) == 0
    assert snapshot(scratch) == kept  # loaded, not recomputed
    capsys.readouterr()
    for bad in (world / "results", world / "results" / "runs" / "x", world):
        assert main(["reproduce", "--statistics", "tiny", "--scratch", str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "overlaps the results store" in err[0], err


@pytest.mark.parametrize("argv, culprit", [
    (["reproduce", "--statistics", "no-such-exp"], "unknown experiment 'no-such-exp'"),
    (["reproduce", "--statistics", "tiny", "--up-to-n", "3"], "--up-to-n"),
    (["reproduce", "grow-m3", "--scratch", "x"], "--scratch goes with --statistics only"),
])
def test_bad_input_exits_2_with_one_line(world, capsys, argv, culprit):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0] and "Traceback" not in err, err


def test_missing_stored_runs_exit_2_before_computing(world, capsys, monkeypatch):
    shutil.rmtree(next((world / "results" / "runs").glob("grow-m4-s1-*")))
    from modgrow import replicate
    monkeypatch.setattr(replicate, "train_curriculum",
                        lambda *a, **k: pytest.fail("computed before checking the store"))
    assert main(["reproduce", "--statistics", "tiny", "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "1 of 7 runs are not in the results store" in lines[0]
    assert "compute tiny" in lines[0]


def test_runs_stored_on_another_platform_are_compared_by_statistics_only(world, capsys):
    for p in (world / "results" / "runs").glob("grow-m4-*/result.json"):
        d = json.loads(p.read_text())
        d["provenance"]["torch_version"] = "1.0.0+othercpu"
        write_json(p, d)
    assert main(["reproduce", "--statistics", "tiny", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert ("3 of 7 runs stored on another platform" in out
            and "no bit-exact identity expected, statistics only" in out
            and "(4 of the 4 runs stored on this platform identical)" in out), out
