"""tools/run_queue.py: the queue of an experiment under the active profile, or under a profile
widened for the queue only (``--set``), and the one-line refusal of a bad setting."""

import importlib.util
from pathlib import Path

import pytest

from modgrow import profiles
from modgrow.experiments import baseline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rq():
    spec = importlib.util.spec_from_file_location("run_queue", ROOT / "tools" / "run_queue.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_set_widens_the_profile_for_the_queue_only(rq, monkeypatch):
    monkeypatch.setenv("MODGROW_PROFILE", "paper")
    plain = rq.queue(["baseline-long"], [])
    assert plain == baseline.long_baseline_configs(profiles.PAPER)
    wide = rq.widened(["long_budget_max_size=200", "baseline_sizes=(20, 50, 100, 150, 200)"])
    assert wide.long_budget_max_size == 200 and profiles.PAPER.long_budget_max_size != 200
    longer = rq.queue(["baseline-long"], [], wide)
    assert {c.module_size for c in longer} == set(profiles.PAPER.baseline_sizes) | {200}
    assert [c for c in longer if c.module_size != 200] == plain    # the same configs as before
    assert rq.queue(["baseline-long@50"], [], wide) == [c for c in longer if c.module_size == 50]
    fid = rq.widened(["fidelity_margin_variants=('clip all', 'authors')"])
    assert fid.fidelity_margin_variants == ("clip all", "authors")


@pytest.mark.parametrize("bad,message", [
    ("long_budget_max_size", "expected FIELD=VALUE"),
    ("no_such_field=3", "expected FIELD=VALUE"),
    ("name=x", "expected FIELD=VALUE"),
    ("long_budget_max_size=abc", "is not a Python literal"),
    ("far_runs=((1, 999),)", "far_runs needs"),
])
def test_a_bad_setting_is_refused_in_one_line(rq, bad, message, capsys, monkeypatch):
    monkeypatch.setenv("MODGROW_PROFILE", "paper")
    with pytest.raises(SystemExit) as e:
        rq.main(["baseline-long", "--set", bad])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert ": error: --set " in err and message in err


def test_park_copies_the_runs_in_progress_and_names_them(rq, tmp_path, monkeypatch, capsys):
    from modgrow import store
    from modgrow.training import GrowthConfig, train_curriculum
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    busy, idle = (GrowthConfig(module_size=3, max_n=5, eval_every=10, eval_batches=2,
                               batch_size=32, confirm_batches=2, threshold=0.6, seed=s)
                  for s in (5, 6))
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(busy, store.scratch_dir() / store.run_path(busy).name, resume=True,
                         progress=False, stop_after_steps=60)
    assert rq.park([busy, idle]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"parked {store.run_path(busy).name}: N = ")
    assert [p.name for p in store.parked_dir().iterdir()] == [store.run_path(busy).name]
