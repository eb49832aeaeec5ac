"""Drift from initialisation: initial modules replayed exactly from a run's stage checkpoints."""

import dataclasses
import shutil

import pytest
import torch

from modgrow import drift, store, training
from modgrow.training import GrowthConfig

TINY = GrowthConfig(module_size=3, max_n=4, eval_every=10, eval_batches=2, batch_size=32,
                    confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)


def _stored(cfg, tmp_path, monkeypatch, recorded=None):
    """Run ``cfg`` through the store; with ``recorded``, also note every module's parameters at
    the moment the curriculum added it (an independent record of the initial weights)."""
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    if recorded is None:
        return store.load_or_run(cfg, progress=False)
    new_network, grow = training.new_network, training.grow

    def new_network_rec(c, g):
        net = new_network(c, g)
        recorded.append(net.block_parameters(0))
        return net

    def grow_rec(net, c, g, template=None):
        out = grow(net, c, g, template)
        recorded.append(net.block_parameters(-1))
        return out
    with monkeypatch.context() as m:
        m.setattr(training, "new_network", new_network_rec)
        m.setattr(training, "grow", grow_rec)
        run = store.load_or_run(cfg, progress=False)
    return run


@pytest.mark.parametrize("changes", [{}, {"duplicate": False}])
def test_replayed_initial_modules_are_the_ones_training_started_from(tmp_path, monkeypatch,
                                                                     changes):
    recorded = []
    run = _stored(dataclasses.replace(TINY, **changes), tmp_path, monkeypatch, recorded)
    assert run.max_n_reached == 4
    replay = drift.initial_blocks(run)
    assert len(replay) == len(recorded) == 3     # modules of N = 2..4
    for a, b in zip(replay, recorded):
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_drift_is_zero_for_fixed_weights_and_positive_for_trained_ones(tmp_path, monkeypatch):
    run = _stored(dataclasses.replace(TINY, fix_within=True, duplicate=False), tmp_path,
                  monkeypatch)
    d = drift.module_drift(run)
    assert d["modules"] == 3
    assert d["drift"]["within"] == [0.0] * 3           # fixed: never moved
    assert d["drift"]["between"][0] is None            # module 0 has no between-module matrix
    assert all(x > 0 for x in d["drift"]["between"][1:] + d["drift"]["input"])


def test_relative_change_ignores_the_masked_diagonal():
    w0 = torch.tensor([[5.0, 3.0], [0.0, 4.0]])
    w = w0 + torch.diag(torch.tensor([100.0, -7.0]))   # only the diagonal moves
    assert drift.relative_change(w, w0, "w_rec") == 0.0
    assert drift.relative_change(w, w0, "w_ff") == pytest.approx(
        float(torch.linalg.norm(torch.tensor([100.0, -7.0])) / torch.linalg.norm(w0)))


def test_drift_is_stored_once_and_needs_the_runs_own_checkpoints(tmp_path, monkeypatch):
    run = _stored(TINY, tmp_path, monkeypatch)
    first = drift.module_drift(run)
    scratch = store.scratch_dir() / run.path.name
    kept = tmp_path / "kept"
    shutil.copytree(scratch, kept)
    shutil.rmtree(scratch)
    assert drift.module_drift(run) == first                 # read back without checkpoints
    with pytest.raises(FileNotFoundError, match="no run folder with stage checkpoints"):
        drift.initial_blocks(run)
    (kept / "stage_003.pt").unlink()
    with pytest.raises(FileNotFoundError, match="stage_003.pt: the checkpoint of stage N=3"):
        drift.initial_blocks(run, kept)
    other = tmp_path / "other"
    training.train_curriculum(dataclasses.replace(TINY, seed=7), other, progress=False)
    with pytest.raises(ValueError, match="seed"):
        drift.initial_blocks(run, other)
