"""Gated (GRU, LSTM) multi-head networks: shapes, parameter counts and the sizing helper,
seeded initialisation, checkpoints, the optimiser, and tiny curriculum runs end to end."""

import dataclasses

import pytest
import torch
from torch import nn

from modgrow import store
from modgrow.gated import GatedRNN, hidden_size_for, parameter_count
from modgrow.io import BadData, load_network, load_tensors, save_network, save_tensors
from modgrow.network import count_parameters, largest_size, nonmodular_parameter_count
from modgrow.training import (GATED_DEFAULTS, GrowthConfig, Stage, evaluate, grow, new_network,
                              train_curriculum)

# a faster learning rate than the authors' 1e-3 keeps the runs below a few seconds
TINY = dict(optimizer="adam", lr=1e-2, module_size=16, max_n=3, eval_batches=2,
            confirm_batches=4)


def strip(hist):
    stages = [{k: v for k, v in s.items() if k != "seconds"} for s in hist["stages"]]
    return {"config": hist["config"], "stages": stages, "status": hist["status"]}


@pytest.mark.parametrize("cell, module", [("gru", nn.GRU), ("lstm", nn.LSTM)])
def test_forward_shapes_and_pytorch_cells(cell, module):
    net = GatedRNN(cell, 8, torch.Generator().manual_seed(0))
    assert isinstance(net.rnn, module) and net.rnn.batch_first and net.rnn.input_size == 1
    for _ in range(3):
        net.add_head(0)
    x = torch.randint(0, 2, (5, 7, 1)).float()
    assert net.final_states(x).shape == (5, 8)
    assert net.logits(x).shape == (3, 5, 2)
    assert net.logits(x, [2]).shape == (1, 5, 2)
    assert net.n_blocks == 1 and net.n_neurons == 8 and net.head_blocks == [0, 0, 0]
    with pytest.raises(ValueError, match="one block"):
        net.add_head(1)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("hidden, heads", [(1, 1), (7, 4), (40, 29)])
def test_parameter_count_matches_the_modules(cell, hidden, heads):
    net = GatedRNN(cell, hidden)
    for _ in range(heads):
        net.add_head()
    n = sum(p.numel() for p in net.parameters())
    assert parameter_count(cell, hidden, heads) == n == count_parameters(net)["total"]["all"]
    c = count_parameters(net)["total"]
    assert c["input"] + c["within"] + c["readout"] == n and c["between"] == c["tau"] == 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_hidden_size_for_a_budget_is_the_largest_that_fits(cell):
    for budget in (parameter_count(cell, 1, 5), 1000, 7488, 31_708, parameter_count(cell, 57, 5)):
        h = hidden_size_for(cell, budget, 5)
        assert parameter_count(cell, h, 5) <= budget < parameter_count(cell, h + 1, 5)
    assert hidden_size_for(cell, parameter_count(cell, 57, 5), 5) == 57
    with pytest.raises(ValueError, match="below the smallest"):
        hidden_size_for(cell, parameter_count(cell, 1, 5) - 1, 5)
    with pytest.raises(ValueError, match="cell"):
        hidden_size_for("rnn", 1000, 5)


def test_nonmodular_leaky_count_and_sizing_helper():
    cfg = GrowthConfig(architecture="nonmodular", module_size=13, max_n=6)
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    for _ in range(3):
        grow(net, cfg, g)
    assert nonmodular_parameter_count(13, 4) == count_parameters(net)["total"]["all"]
    size = largest_size(lambda s: nonmodular_parameter_count(s, 4), 1000)
    assert nonmodular_parameter_count(size, 4) <= 1000 < nonmodular_parameter_count(size + 1, 4)


def test_seeded_initialisation_uses_pytorchs_distribution():
    a = GatedRNN("lstm", 20, torch.Generator().manual_seed(3))
    b = GatedRNN("lstm", 20, torch.Generator().manual_seed(3))
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    w = torch.cat([p.detach().flatten() for p in a.rnn.parameters()])
    bound = 1 / 20 ** 0.5
    assert w.abs().max() <= bound
    assert w.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.05)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_checkpoint_round_trip_is_strict(cell, tmp_path):
    net = GatedRNN(cell, 6, torch.Generator().manual_seed(1))
    net.add_head()
    net.add_head(source=0, noise=0.1)
    save_network(tmp_path / "n.pt", net, rng=torch.Generator().get_state())
    back, ck = load_network(tmp_path / "n.pt")
    assert isinstance(back, GatedRNN) and back.structure() == net.structure()
    assert ck["structure"]["cell"] == cell
    for k, v in net.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    ck["structure"]["hidden_size"] = 7
    save_tensors(tmp_path / "bad.pt", ck)
    with pytest.raises(BadData, match="size mismatch"):
        load_network(tmp_path / "bad.pt")
    ck = load_tensors(tmp_path / "n.pt")
    ck["structure"]["n_heads"] = 1
    save_tensors(tmp_path / "bad.pt", ck)
    with pytest.raises(BadData, match="Unexpected key"):
        load_network(tmp_path / "bad.pt")


def test_gated_defaults_and_optimisers():
    assert GATED_DEFAULTS == {"optimizer": "adam", "lr": 1e-3}
    g = torch.Generator().manual_seed(0)
    gru = GrowthConfig(**GATED_DEFAULTS, architecture="gru", module_size=8)
    opt = Stage(new_network(gru, g), gru).opt
    assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]["lr"] == 1e-3
    assert gru.clip == 2.0
    leaky = GrowthConfig()  # the leaky networks keep Nesterov SGD, lr 0.1, momentum 0.1
    opt = Stage(new_network(leaky, g), leaky).opt
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["nesterov"]
    assert (opt.defaults["lr"], opt.defaults["momentum"]) == (0.1, 0.1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(architecture="gru", gamma=0.5), "modular network only"),
    (dict(architecture="lstm", fix_within=True), "modular network only"),
    (dict(architecture="gru", within_from_first=True), "within_from_first"),
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(optimizer="adam", momentum=0.3), "momentum applies to the sgd optimizer only"),
    (dict(architecture="rnn"), "architecture"),
])
def test_bad_gated_configs_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GrowthConfig(**kwargs)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_every_parameter_trains_in_a_gated_stage(cell):
    cfg = GrowthConfig(**{**TINY, "architecture": cell})
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    grow(net, cfg, g)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    Stage(net, cfg).step(g)
    assert all(not torch.equal(v, net.state_dict()[k]) for k, v in before.items())


@pytest.mark.parametrize("cell, task", [("gru", "parity"), ("lstm", "dms")])
def test_tiny_gated_run_end_to_end(cell, task, tmp_path):
    extra = {"task": "dms", "bit_prob": 0.5} if task == "dms" else {}
    cfg = GrowthConfig(**TINY, architecture=cell, **extra)
    res = train_curriculum(cfg, tmp_path, progress=False)
    h = res.history
    assert h["status"] == "complete" and [s["n"] for s in h["stages"]] == [2, 3]
    assert isinstance(res.network, GatedRNN) and len(res.network.heads) == 2
    net, _ = load_network(tmp_path / "stage_003.pt")
    for k, v in res.network.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k
    acc = evaluate(net, [2, 3], 4, 128, torch.Generator().manual_seed(5), cfg.bit_prob,
                   task=cfg.task)
    assert min(acc) > 0.9
    assert store.run_name(cfg).startswith(f"{cell}-m16-s0-n3")


def test_killed_gated_run_resumes_to_the_same_history(tmp_path):
    cfg = GrowthConfig(**TINY, architecture="lstm", task="dms", bit_prob=0.5)
    full = train_curriculum(cfg, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False,
                         stop_after_steps=full.history["stages"][0]["steps"] + 10)
    resumed = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    assert strip(resumed.history) == strip(full.history)
    assert dataclasses.asdict(cfg) == resumed.history["config"]
