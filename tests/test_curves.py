"""Learning curves within a stage: recomputed from a stage checkpoint, the same stage as stored."""

import dataclasses
import shutil

import pytest

from modgrow import store
from modgrow.curves import recompute_stage, stage_curve
from modgrow.training import GrowthConfig, train_curriculum

# a tiny run whose stages take a few checks (module size 3, low threshold: seconds)
TINY = GrowthConfig(module_size=3, max_n=4, eval_every=10, eval_batches=2, batch_size=32,
                    confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)


@pytest.fixture
def stored(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    return store.load_or_run(TINY, progress=False)


def test_every_check_is_reported_and_the_run_is_the_same_without_listening():
    seen = []
    heard = train_curriculum(TINY, progress=False, on_check=seen.append)
    plain = train_curriculum(TINY, progress=False)
    strip = lambda h: [{k: v for k, v in s.items() if k != "seconds"} for s in h["stages"]]  # noqa: E731
    assert strip(heard.history) == strip(plain.history)
    for stage in heard.history["stages"]:
        mine = [c for c in seen if c["n"] == stage["n"]]
        assert len(mine) == stage["checks"]
        assert [c["step"] for c in mine] == list(range(10, stage["steps"] + 1, 10))
        assert sum(c.get("confirmed") is False for c in mine) == stage["rejected"]
        assert mine[-1]["confirmed"] is True and mine[-1]["confirmation"] == pytest.approx(
            list(stage["accuracy"].values()), abs=1e-5)  # the history rounds to 5 places
        assert len(mine[-1]["accuracy"]) == len(stage["accuracy"])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_recomputed_stage_is_the_stored_stage(stored, n):
    curve = recompute_stage(stored, n)
    stage = stored.stages[n - 2]
    assert curve["reproduced"] and curve["steps"] == curve["stored_steps"] == stage["steps"]
    assert len(curve["checks"]) == stage["checks"] and curve["checks"][-1]["confirmed"] is True
    assert curve["checks"][-1]["confirm_newest"] == pytest.approx(list(stage["accuracy"].values())[-1],
                                                                  abs=1e-5)


def test_curves_are_stored_once_and_a_changed_checkpoint_is_not_passed_off(stored, tmp_path):
    first = stage_curve(stored, 3)
    scratch = store.scratch_dir() / stored.path.name
    kept = tmp_path / "kept"
    shutil.copytree(scratch, kept)
    shutil.rmtree(scratch)  # the stored curve no longer needs the checkpoints
    assert stage_curve(stored, 3) == first
    with pytest.raises(FileNotFoundError, match="stage_002.pt: the checkpoint of the stage"):
        recompute_stage(stored, 3)
    # another network (same structure) in the checkpoint's place: recomputed, not passed off
    other = tmp_path / "other"
    train_curriculum(dataclasses.replace(TINY, seed=7, max_n=2), other, progress=False)
    shutil.copy(other / "stage_002.pt", kept / "stage_002.pt")
    assert recompute_stage(stored, 3, folder=kept)["reproduced"] is False
    # another run's folder is refused outright
    with pytest.raises(ValueError, match="config differs in \\['seed'\\]"):
        recompute_stage(stored, 3, folder=other)


def test_stages_that_cannot_be_recomputed_are_refused(stored):
    with pytest.raises(ValueError, match="did not solve N=5"):
        recompute_stage(stored, 5)
    shuffled = store.StoredRun(dataclasses.replace(TINY, order="shuffled"), stored.history,
                               stored.path)
    with pytest.raises(ValueError, match="shuffled"):
        recompute_stage(shuffled, 3)
