"""The curriculum trainer: criterion, freezing invariants, resume, failure paths."""

import dataclasses
import json

import pytest
import torch

from modgrow.training import (GrowthConfig, _mark_trainable, grow, lr_multiplier,
                              load_network, new_network, train_curriculum)

QUICK = dict(max_n=5, seed=0, eval_batches=4)


def strip(hist):
    """History without wall times and provenance (which legitimately differ between runs)."""
    stages = [{k: v for k, v in s.items() if k != "seconds"} for s in hist["stages"]]
    return {"config": hist["config"], "stages": stages, "status": hist["status"]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grow")
    res = train_curriculum(GrowthConfig(**QUICK), out, progress=False)
    return out, res


def test_quick_growth_reaches_criterion(quick_run):
    out, res = quick_run
    h = res.history
    assert h["status"] == "complete" and h["max_n_reached"] == 5
    assert [s["n"] for s in h["stages"]] == [2, 3, 4, 5]
    for s in h["stages"]:
        acc = list(s["accuracy"].values())
        assert acc[-1] > 0.98 and sum(acc) / len(acc) > 0.98
        assert s["steps"] % 50 == 0 and s["epochs"] == -(-s["steps"] // 500)
    assert res.network.n_blocks == 4 and res.network.head_blocks == [0, 1, 2, 3]
    on_disk = json.loads((out / "history.json").read_text())
    assert strip(on_disk) == strip(h)
    assert on_disk["provenance"]["torch_version"] == torch.__version__
    net, _ = load_network(out / "stage_005.pt")
    for a, b in zip(net.state_dict().values(), res.network.state_dict().values()):
        assert torch.equal(a, b)


def test_killed_run_resumes_to_the_same_history(quick_run, tmp_path):
    _, full = quick_run
    cfg = GrowthConfig(**QUICK)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False, stop_after_steps=700)
    partial = json.loads((tmp_path / "history.json").read_text())
    assert 0 < len(partial["stages"]) < 4
    with pytest.raises(FileExistsError, match="resume"):
        train_curriculum(cfg, tmp_path, progress=False)
    resumed = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    assert strip(resumed.history) == strip(full.history)


def test_resume_refuses_a_different_config(quick_run):
    out, _ = quick_run
    with pytest.raises(ValueError, match="config differs in \\['lr'\\]"):
        train_curriculum(GrowthConfig(**QUICK, lr=0.3), out, resume=True, progress=False)


def test_hard_frozen_parameters_stay_bit_identical_for_a_whole_stage():
    cfg = GrowthConfig(max_n=4, eval_batches=2)
    g = torch.Generator().manual_seed(0)
    res = train_curriculum(dataclasses.replace(cfg, max_n=3), progress=False)
    net = res.network
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grow(net, cfg, g)
    groups, first = _mark_trainable(net, cfg)
    assert first == 2
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.1, nesterov=True)
    from modgrow.tasks import parity_batch
    from modgrow.training import training_loss
    for _ in range(30):
        x, y = parity_batch([2, 3, 4], 64, generator=g)
        loss = training_loss(net, x, y, first, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = net.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k  # taus and heads of old modules included
    assert not torch.equal(after["blocks.2.w_rec"], net.blocks[1].w_rec)


def test_soft_freezing_scales_learning_rates_and_old_modules_move():
    cfg = GrowthConfig(gamma=0.5)
    assert [lr_multiplier(cfg, 3, b, "within") for b in range(3)] == [0.25, 0.5, 1.0]
    res = train_curriculum(GrowthConfig(max_n=3, gamma=0.5, eval_batches=2), progress=False)
    res0 = train_curriculum(GrowthConfig(max_n=2, gamma=0.5, eval_batches=2), progress=False)
    # module 0 trained on during stage N=3 with half the learning rate: it moved
    assert not torch.equal(res.network.blocks[0].w_rec, res0.network.blocks[0].w_rec)


def test_fix_within_never_moves_recurrent_weights():
    g = torch.Generator().manual_seed(0)
    init = new_network(GrowthConfig(), g).blocks[0].w_rec.clone()
    res = train_curriculum(GrowthConfig(max_n=3, fix_within=True, eval_batches=2), progress=False)
    assert torch.equal(res.network.blocks[0].w_rec, init)
    assert lr_multiplier(GrowthConfig(fix_within=True), 2, 1, "between") == 1.0


def test_nonmodular_baseline_trains_all_heads_on_one_population():
    cfg = GrowthConfig(architecture="nonmodular", module_size=16, max_n=3, lr=0.05,
                       eval_batches=2)
    res = train_curriculum(cfg, progress=False)
    assert res.network.n_blocks == 1 and res.network.head_blocks == [0, 0]
    assert res.history["status"] == "complete"


def test_step_budget_stops_the_run_and_says_so(tmp_path):
    cfg = GrowthConfig(max_n=6, max_steps_per_stage=50, eval_batches=2, seed=0)
    res = train_curriculum(cfg, tmp_path, progress=False)
    assert res.history["status"] == "stopped"
    assert "not solved within 50 steps" in res.history["message"]
    assert json.loads((tmp_path / "history.json").read_text())["status"] == "stopped"


@pytest.mark.parametrize("kwargs, match", [
    (dict(architecture="transformer"), "architecture"),
    (dict(module_size=0), "module_size"),
    (dict(max_n=1), "max_n"),
    (dict(lr=-1.0), "lr"),
    (dict(gamma=2.0), "gamma"),
    (dict(noise=-0.1), "noise"),
    (dict(architecture="nonmodular", gamma=0.5), "modular network only"),
    (dict(bit_prob="often"), "bit_prob"),
])
def test_bad_configs_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GrowthConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown config fields"):
        GrowthConfig.from_dict({"modul_size": 3})


def test_total_step_budget_stops_the_run():
    cfg = GrowthConfig(max_n=8, max_total_steps=700, eval_batches=2, seed=0)
    res = train_curriculum(cfg, progress=False)
    assert res.history["status"] == "stopped"
    assert "total step budget of 700" in res.history["message"]
    assert sum(s["steps"] for s in res.history["stages"]) < 700
