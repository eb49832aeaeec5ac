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


# ----- size-controlled N trend, robust depth trend, like-with-like range, mediation margin ------

def test_stratified_spearman_ignores_a_trend_made_by_the_strata():
    """y is set by the stratum (size) alone and x rises with the stratum: the pooled trend is
    strong, the within-stratum one is not; a real within-stratum trend is found."""
    size = np.repeat([20, 50, 100, 150], 6)
    x = size / 10 + np.tile(np.arange(6), 4)                     # N: set by size, plus spread
    wiggle = np.array([0.3, -0.1, 0.5, 0.0, -0.4, 0.2])          # rho +0.26 against arange(6)
    y = size / 100 + 0.01 * np.concatenate([wiggle, wiggle[::-1]] * 2)   # size only, on net
    assert tm.spearman_trend(x, y)["p"] < 1e-4
    none = tm.stratified_spearman(x, y, size, n_perm=2000)
    assert none["rho"] == pytest.approx(0.0, abs=1e-12) and none["p"] > 0.5
    assert none["strata"] == 4 and none["n"] == 24
    real = tm.stratified_spearman(x, y + 0.05 * x, size, n_perm=2000)
    assert real["rho"] > 0.9 and real["p"] < 0.01
    assert all(r > 0.9 for r in real["per_stratum"].values())
    down = tm.stratified_spearman(x, y - 0.05 * x, size, n_perm=2000)
    assert down["rho"] < -0.9 and down["p"] < 0.01


def test_stratified_spearman_leaves_out_strata_without_a_rank_correlation():
    x = [1, 2, 3, 4, 5, 5, 5, 1, 2]
    y = [1, 2, 3, 5, 4, 9, 9, 1, np.nan]
    s = ["a", "a", "a", "b", "b", "b", "c", "d", "d"]   # b: 3 pairs; c, d: too few
    r = tm.stratified_spearman(x, y, s, n_perm=500)
    assert r["strata"] == 2 and r["n"] == 6
    assert r["per_stratum"]["a"] == pytest.approx(1.0)
    assert math.isnan(r["per_stratum"]["c"]) and math.isnan(r["per_stratum"]["d"])
    assert math.isnan(tm.stratified_spearman([1, 2], [1, 2], [0, 0])["rho"])
    with pytest.raises(ValueError, match="shape"):
        tm.stratified_spearman([1, 2, 3], [1, 2, 3], [0, 0])


def test_n_verdict_needs_the_within_size_trend():
    up, flat = {"rho": 0.7, "p": 0.001}, {"rho": 0.1, "p": 0.8}
    assert ch6.n_verdict(up, {"rho": 0.6, "p": 0.01}) == "holds"
    assert ch6.n_verdict(up, {"rho": 0.02, "p": 0.9}) == "suggestive"
    assert ch6.n_verdict(up, {"rho": -0.3, "p": 0.4}) == "suggestive"
    assert ch6.n_verdict(flat, {"rho": -0.3, "p": 0.4}) == "not distinguishable"
    assert ch6.n_verdict(up, {"rho": -0.6, "p": 0.01}) == "fails"


def _analysis(medians, m=2, n_solved=None, iso=None, tau_net=None):
    n_solved = len(medians) if n_solved is None else n_solved
    mods = [{"depth": d, "solved": d < n_solved, "tau_net_median": v, "tau_net_pop": v,
             "tau_mean": 1.0} for d, v in enumerate(medians)]
    k = len(medians) * m
    return {"modules": mods, "n_solved": n_solved, "module_size": m,
            "neurons": {"block": np.repeat(np.arange(len(medians)), m).tolist(),
                        "tau_net": tau_net or [1.0] * k, "isolated": iso or [0.0] * k}}


def test_depth_trend_from_module_two_removes_a_step_in_the_first_modules():
    step = _analysis([0.1, 0.4] + [1.95, 2.0, 1.9, 2.1, 1.93, 2.05, 1.92, 2.08, 1.98, 2.03,
                                   2.01, 2.06])
    assert tm.trend_class(**{k: ch6.depth_trend(step)[k] for k in ("rho", "p")}) == "up"
    assert ch6.depth_trend(step, min_depth=2)["n"] == 12
    assert tm.trend_class(**{k: ch6.depth_trend(step, min_depth=2)[k]
                             for k in ("rho", "p")}) == "flat"
    climb = _analysis([0.1 * d for d in range(10)])
    assert tm.trend_class(**{k: ch6.depth_trend(climb, min_depth=2)[k]
                             for k in ("rho", "p")}) == "up"


def test_robust_depth_verdict_is_the_weaker_of_the_two_tests():
    all_up = {5: ["up"] * 5, 10: ["up"] * 4 + ["flat"]}
    assert ch6.depth_robust_verdict(all_up, all_up) == "holds"
    only_5 = {5: ["up"] * 4 + ["flat"], 10: ["up"] + ["flat"] * 4}
    assert ch6.depth_robust_verdict(all_up, only_5) == "holds partly"
    assert ch6.depth_robust_verdict(all_up, {5: ["flat"] * 5, 10: ["up", "flat"]}) == \
        "suggestive"
    assert ch6.weaker("holds", "fails", "suggestive") == "fails"
    # the share a size needs: 3 of 5 is a majority, not more than 60 %
    three = {5: ["up"] * 3 + ["flat"] * 2}
    assert ch6.depth_verdict(three) == "holds" and ch6.depth_verdict(three, 0.6) == "suggestive"


def test_like_with_like_range_verdict():
    f = ch6.like_with_like_range_verdict
    assert f([1.37], 1.2, 1.75) == "suggestive"          # one network: too few to hold
    assert f([1.0], 1.2, 1.75) == "not distinguishable"  # nor to reject
    assert f([1.3, 1.4, 1.5, 1.6, 1.0], 1.2, 1.75) == "holds"
    assert f([1.3, 1.4, 1.5, 1.0, 1.0], 1.2, 1.75) == "holds partly"
    assert f([1.3, 1.4, 1.0, 1.0, 1.0], 1.2, 1.75) == "fails"
    assert f([], 1.2, 1.75) == "not distinguishable"


def test_mediation_needs_a_margin_over_the_isolated_timescale():
    """Isolated timescale 0 (trained tau at 1): a tau_net of 0.3 exceeds it, but not by the
    margin; unsolved blocks and unfitted neurons are left out."""
    a = _analysis([0.3, 0.3, 5.0], m=2, n_solved=2, iso=[0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
                  tau_net=[0.3, 0.3, 0.3, 1.2, None, None])
    m = ch6.mediation(a)
    assert m["neurons"] == 4 and m["above"] == 1.0 and m["above margin"] == 0.25
    assert m["isolated median"] == 0.0
    assert ch6.mediation(a, margin=0.1)["above margin"] == 1.0
    assert ch6.mediation(a, margin=0.8)["above margin"] == 0.0
    assert ch6.mediated_verdict([0.25, 0.9]) == "fails"
    assert ch6.mediated_verdict([0.75, 0.9, 0.2]) == "holds partly"
    assert ch6.mediated_verdict([0.75, 0.9]) == "holds"


def test_validation_summary_finds_the_floor():
    def row(tau, med, within, case="single", taus=None):
        return {"case": case, "tau_true": tau, "tau_median": med,
                "rel_error": (med - tau) / tau, "frac_within_10pct": within,
                "taus": taus or [med], "n_at_bound": 0}
    val = [row(0.1, 0.01, 0.0), row(0.2, 0.21, 0.9, taus=[0.2, 0.3]), row(0.5, 0.5, 1.0),
           row(5.0, 4.0, 0.3), row(50.0, 49.0, 0.8), row(20.0, 19.0, 1.0, "mixture")]
    s = ch6.validation_summary(val)
    assert s["smallest resolved"] == 0.2 and s["floor"] == 0.1 and s["floor median"] == 0.01
    assert s["small max ratio"] == pytest.approx(1.5)
    assert s["small worst error"] == pytest.approx(0.05)
    assert s["unresolved up to long"] == [0.1, 5.0] and s["big tau"] == 50.0
    assert s["worst error"] == pytest.approx(0.05) and s["mean within"] == pytest.approx(2.9 / 3)
