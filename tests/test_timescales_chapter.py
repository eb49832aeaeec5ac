"""Chapter 6: the recording against a naive loop, tau_net of networks whose answer is known,
silent neurons, and the verdict rules on synthetic numbers."""

import math

import numpy as np
import pytest
import torch

from modgrow import engine, tau_measures as tm
from modgrow.experiments import timescales as ch6
from modgrow.network import RNN
from modgrow.timescales import isolated_neuron_timescale


def tiny_net(blocks=3, m=4, seed=0) -> RNN:
    g = torch.Generator().manual_seed(seed)
    net = RNN(m, generator=g)
    for _ in range(blocks - 1):
        net.add_block(generator=g)
    if blocks > 1:
        with torch.no_grad():
            net.blocks[1].tau.fill_(0.5)    # clamped to 1 in the forward pass
    return net


def test_recording_matches_naive_loop_on_growing_prefixes():
    net = tiny_net()
    T, trials, burn_in, seed = 11, 3, 4, 7
    rec, p = tm.record_activity(net, T, trials, burn_in, seed, chunk=4)   # chunks 4, 4, 3
    assert rec.shape == (trials, T, net.n_blocks, net.module_size)
    g = torch.Generator().manual_seed(seed)
    x, p_ref = tm.bernoulli_input(trials, burn_in + T, g)
    h0 = net.initial_state(trials, generator=g)
    np.testing.assert_array_equal(p, p_ref.numpy())
    with torch.no_grad():
        for t in range(T):
            ref = engine.reference_final_states(net, x[:, :burn_in + t + 1], h0)  # [K, B, M]
            np.testing.assert_allclose(rec[:, t], ref.permute(1, 0, 2).numpy(), atol=1e-6)


def test_bernoulli_input_has_one_p_per_trial():
    x, p = tm.bernoulli_input(6, 20_000, torch.Generator().manual_seed(0))
    assert x.shape == (6, 20_000, 1) and p.shape == (6,)
    assert len(set(p.tolist())) == 6
    np.testing.assert_allclose(x[..., 0].mean(1).numpy(), p.numpy(), atol=0.02)


def _set(net, **values):
    with torch.no_grad():
        for b in net.blocks:
            for name, v in values.items():
                if getattr(b, name) is not None:
                    getattr(b, name).fill_(v)


def test_memoryless_network_has_tau_net_near_zero_and_silent_neurons_are_counted():
    net = tiny_net(blocks=2, m=4)
    _set(net, tau=1.0, w_rec=0.0, w_ff=0.0, b_ff=0.0, b_rec=0.0, w_in=1.0, b_in=0.2)
    with torch.no_grad():
        net.blocks[1].w_in[:2] = 0.0       # constant drive: silent after one step
    a = tm.network_timescales(net, n_solved=1, T=3000, trials=4, burn_in=50)
    taus = np.array([np.nan if v is None else v for v in a["neurons"]["tau_net"]])
    silent = np.array([0, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    assert a["n_silent"] == 2 and a["neurons"]["silent"] == silent.astype(int).tolist()
    assert np.all(np.isnan(taus[silent])) and np.all(taus[~silent] < 0.3)
    assert a["n_failed"] == 0 and a["frac_silent"] == 2 / 8
    assert [m["solved"] for m in a["modules"]] == [True, False]
    assert a["modules"][1]["n_silent"] == 2 and a["modules"][0]["tau_net_pop"] < 0.3
    assert a["neurons"]["isolated"] == [0.0] * 8


def test_linear_leaky_neuron_recovers_its_isolated_timescale():
    """No recurrence and a drive that stays positive (the leaky ReLU is linear there): each
    neuron is an AR(1) process with coefficient 1 - 1/tau, so tau_net = -1/ln(1-1/tau)."""
    net = tiny_net(blocks=1, m=3)
    _set(net, w_rec=0.0, b_rec=0.0, w_in=1.0, b_in=1.0)
    with torch.no_grad():
        net.blocks[0].tau.copy_(torch.tensor([2.0, 5.0, 10.0]))
    a = tm.network_timescales(net, T=10_000, trials=6, burn_in=200)
    expected = isolated_neuron_timescale(np.array([2.0, 5.0, 10.0]))
    np.testing.assert_allclose(a["neurons"]["tau_net"], expected, rtol=0.1)


def test_trained_taus_are_clamped():
    net = tiny_net()
    assert tm.trained_taus(net)[1].tolist() == [1.0] * 4


def test_spearman_trend_and_classes():
    up = tm.spearman_trend(range(10), np.arange(10) ** 2)
    assert up["rho"] == pytest.approx(1.0) and up["p"] < 0.05
    assert tm.trend_class(up["rho"], up["p"]) == "up"
    assert tm.trend_class(-0.8, 0.001) == "down"
    assert tm.trend_class(0.8, 0.2) == "flat"
    short = tm.spearman_trend([0, 1], [1, 2])
    assert math.isnan(short["rho"]) and tm.trend_class(short["rho"], short["p"]) == "flat"
    assert math.isnan(tm.spearman_trend([0, 1, 2, 3], [np.nan, 1, np.nan, 2])["rho"])


def test_depth_verdict_rule():
    up3, mixed = ["up", "up", "flat"], ["up", "flat", "flat"]
    assert ch6.depth_verdict({5: up3, 10: ["up"] * 3}) == "holds"
    assert ch6.depth_verdict({5: up3, 10: mixed}) == "holds partly"
    assert ch6.depth_verdict({5: up3, 10: ["down", "down", "up"]}) == "not distinguishable"
    assert ch6.depth_verdict({5: ["down", "down", "flat"], 10: mixed}) == "fails"
    assert ch6.depth_verdict({5: mixed, 10: ["flat"] * 3}) == "suggestive"
    assert ch6.depth_verdict({5: ["flat"] * 3}) == "not distinguishable"


def test_other_verdict_rules():
    assert ch6.flat_verdict({5: ["flat"] * 3, 10: ["up", "flat", "flat"]}) == "holds"
    assert ch6.flat_verdict({5: ["up", "up", "flat"], 10: ["flat"] * 3}) == "holds partly"
    assert ch6.flat_verdict({5: ["down", "down", "flat"], 10: ["up"] * 3}) == "fails"
    assert ch6.range_verdict([1.3, 1.5, 1.7], 1.2, 1.75) == "holds"
    assert ch6.range_verdict([1.3, 1.5, 1.9], 1.2, 1.75) == "holds partly"
    assert ch6.range_verdict([1.9, 2.0, 1.5], 1.2, 1.75) == "fails"
    assert ch6.trend_verdict(0.5, 0.01) == "holds"
    assert ch6.trend_verdict(0.5, 0.2) == "suggestive"
    assert ch6.trend_verdict(-0.5, 0.01) == "fails"
    assert ch6.trend_verdict(math.nan, math.nan) == "not distinguishable"
    assert ch6.share_verdict(3, 3) == "holds" and ch6.share_verdict(2, 3) == "holds partly"
    assert ch6.share_verdict(1, 3) == "fails"


class _Run:
    def __init__(self, arch, reached, n_start=2):
        from types import SimpleNamespace
        self.config = SimpleNamespace(architecture=arch, n_start=n_start)
        self.max_n_reached = reached


def test_solved_blocks_exclude_an_extra_module():
    assert ch6.n_solved_blocks(_Run("modular", 39), 39) == 38      # one extra, unsolved
    assert ch6.n_solved_blocks(_Run("modular", 39), 38) == 38
    assert ch6.n_solved_blocks(_Run("modular", None), 1) == 0
    assert ch6.n_solved_blocks(_Run("nonmodular", 16), 1) == 1


def test_generations_read_both_growth_generations_and_agree_with_the_ledger(monkeypatch):
    """Chapter 6's generation table (stored analyses only): one row per generation, five seeds
    per module size, and the margin row's verdicts are the ledger's."""
    from modgrow.profiles import PAPER
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    plain, margin = ch6.generations(PAPER)
    assert (plain["generation"], margin["generation"]) == ("plain confirmation", "with the margin")
    for row in (plain, margin):
        counts = row["tau_net rising (per size)"].split(", ")
        assert [c.split(":")[0] for c in counts] == [str(m) for m in PAPER.module_sizes]
        assert all(c.endswith(f"/{len(PAPER.seeds)}") for c in counts)
    ledger = {r["claim"]: r["verdict"] for r in ch6.verdicts(PAPER)}
    assert margin["tau_net grows with depth"] == ledger[
        "tau_net grows with module depth, as along the cortical hierarchy"]
    assert margin["trained tau stays flat"] == ledger[
        "trained tau stays flat across modules while tau_net changes"]


def test_near_majority_marks_counts_one_seed_from_flipping():
    assert [ch6._near_majority(k, 5) for k in range(6)] == [False, False, True, True, False, False]
    assert [ch6._near_majority(k, 4) for k in range(5)] == [False, False, True, True, False]
