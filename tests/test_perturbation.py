"""Chapter 5: the perturbation, the two accuracy measures, eps50, and the claim-6 options."""

import math

import numpy as np
import pytest
import torch

from modgrow import engine, perturbation as pt
from modgrow.training import GrowthConfig, Stage, grow, lr_multiplier, new_network


def _net(blocks=3, m=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = GrowthConfig(module_size=m)
    net = new_network(cfg, g)
    for _ in range(blocks - 1):
        grow(net, cfg, g)
    return net


@pytest.mark.parametrize("eps", [0.01, 0.5, 3.0])
def test_perturbation_size_and_zero_diagonal(eps):
    w = torch.randn(7, 7)
    d = pt.perturbation(w, eps, torch.Generator().manual_seed(1), off_diagonal=True)
    off = w * (1 - torch.eye(7))
    assert torch.allclose(torch.linalg.norm(d), eps * torch.linalg.norm(off), rtol=1e-5)
    assert torch.all(torch.diagonal(d) == 0)
    d2 = pt.perturbation(w, eps, torch.Generator().manual_seed(1))
    assert torch.allclose(torch.linalg.norm(d2), eps * torch.linalg.norm(w), rtol=1e-5)


def test_each_matrix_normalised_by_its_own_norm():
    net = _net()
    names = pt.matrix_names(net, "hidden")
    assert names == ["blocks.0.w_rec", "blocks.1.w_rec", "blocks.1.w_ff", "blocks.2.w_rec",
                     "blocks.2.w_ff"]
    params = dict(net.named_parameters())
    with torch.no_grad():
        params["blocks.1.w_rec"].mul_(10)
    new = pt.perturbed(net, names, 0.2, torch.Generator().manual_seed(0))
    for n in names:
        ref = params[n].detach()
        if n.endswith("w_rec"):
            ref = ref * (1 - torch.eye(ref.shape[0]))
        assert torch.allclose(torch.linalg.norm(new[n] - params[n]), 0.2 * torch.linalg.norm(ref),
                              rtol=1e-5)


def test_eps_zero_leaves_accuracy_unchanged():
    net = _net()
    ns = [2, 3, 4]
    names = pt.matrix_names(net, "hidden")
    res = pt.evaluate_variants(net, ns, lambda g: [{}, pt.perturbed(net, names, 0.0, g)],
                               trials=2, warmup=10, steps=40, batch=8)
    assert np.array_equal(res["stream"][:, 0], res["stream"][:, 1])
    assert np.array_equal(res["eos"][:, 0], res["eos"][:, 1])


def test_copies_compute_what_the_network_computes_alone():
    """Chained copies with a diverging copy in the middle: the others are unaffected."""
    net = _net()
    ns = [2, 3, 4]
    names = pt.matrix_names(net, "hidden")
    big = pt.perturbed(net, names, 50.0, torch.Generator().manual_seed(3))
    big = {k: v * 30 for k, v in big.items()}
    kw = dict(trials=1, warmup=10, steps=300, batch=4)
    alone = pt.evaluate_variants(net, ns, lambda g: [{}], **kw)
    mixed = pt.evaluate_variants(net, ns, lambda g: [{}, big, {}], **kw)
    assert mixed["diverged"][0].tolist() == [False, True, False]
    for m in ("stream", "eos"):
        assert np.array_equal(mixed[m][:, 0], alone[m][:, 0])
        assert np.array_equal(mixed[m][:, 2], alone[m][:, 0])


def test_chained_copy_matches_engine_on_the_original():
    net = _net()
    x = (torch.rand(3, 30, 1, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    h0 = net.initial_state(3, torch.Generator().manual_seed(1))
    ref = engine.run(net, x, h0).finals.double()
    big = pt.replicate(net, 2)
    fin = engine.run(big, x.double(), h0.repeat(2, 1, 1).double()).finals
    assert torch.allclose(fin[:3], ref, atol=1e-5) and torch.allclose(fin[3:], ref, atol=1e-5)


def test_streaming_labels_against_direct_parity():
    g = torch.Generator().manual_seed(0)
    bits = (torch.rand(2, 50, generator=g) < 0.5).long()
    ns = [1, 2, 5, 13]
    lab = pt.streaming_labels(bits, ns)
    for b in range(2):
        for t in range(50):
            for j, n in enumerate(ns):
                want = -1 if t < n - 1 else int(sum(bits[b, t - n + 1:t + 1].tolist()) % 2)
                assert lab[b, t, j].item() == want


def test_eps50_interpolation():
    eps = pt.eps_grid(10)
    # r falls linearly in log eps from 1 at 0.01 to 0 at 10: crossing at sqrt(0.01 * 10)
    logs = np.log(eps[1:])
    r = [1.0] + list(1 - (logs - logs[0]) / (logs[-1] - logs[0]))
    assert math.isclose(pt.eps50(eps, r), math.sqrt(0.1), rel_tol=1e-9)
    # a step between grid points i and i+1 -> geometric interpolation
    r = [1, 1, 1, 1, 1, 0.9, 0.1, 0, 0, 0, 0]
    assert math.isclose(pt.eps50(eps, r), math.exp((math.log(eps[5]) + math.log(eps[6])) / 2))
    assert pt.eps50(eps, [1.0] * 11) == math.inf
    assert pt.eps50(eps, [1.0] + [0.2] * 10) == 0.0
    assert math.isnan(pt.eps50(eps, [math.nan] * 11))


def test_relative_accuracy():
    assert np.allclose(pt.relative([1.0, 0.75, 0.5], 1.0), [1, 0.5, 0])
    assert np.isnan(pt.relative([0.6], 0.5)).all()


def test_truncate_keeps_the_first_stages():
    net = _net(blocks=4)
    sub = pt.truncate(net, 2)
    assert sub.n_blocks == 2 and len(sub.heads) == 2
    x = torch.ones(2, 6, 1)
    h0 = net.initial_state(2, torch.Generator().manual_seed(0))
    assert torch.equal(engine.run(net, x, h0).finals[:2], engine.run(sub, x, h0[:2]).finals)


def test_similarity_and_transplants():
    net = _net(blocks=4)
    c = pt.module_similarity(net, "w_rec", [1, 2, 3])
    assert c.shape == (3, 3) and np.allclose(np.diag(c), 1)
    v = pt.transplants(net, "w_ff", [(1, 2)])
    assert v[0] == {} and torch.equal(v[1]["blocks.1.w_ff"], net.blocks[2].w_ff)


# ----- claim 6 options ----------------------------------------------------------------------------

def _cfg(**kw):
    return GrowthConfig(module_size=5, max_n=4, criterion="check", eval_batches=2, **kw)


def test_within_from_first_validation():
    with pytest.raises(ValueError, match="within_from_first"):
        GrowthConfig(within_from_first=True, fix_within=True)
    with pytest.raises(ValueError, match="within_from_first"):
        GrowthConfig(architecture="nonmodular", within_from_first=True)
    assert GrowthConfig().within_from_first is False


def test_within_from_first_trains_module0_then_copies_and_freezes():
    cfg = _cfg(within_from_first=True)
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    w0 = net.blocks[0].w_rec.detach().clone()
    stage = Stage(net, cfg)
    for _ in range(3):
        stage.step(g)
    assert not torch.equal(w0, net.blocks[0].w_rec)  # module 0 trains its within weights
    grow(net, cfg, g)
    assert torch.equal(net.blocks[1].w_rec, net.blocks[0].w_rec)
    assert torch.equal(net.blocks[1].b_rec, net.blocks[0].b_rec)
    w1, ff1 = net.blocks[1].w_rec.detach().clone(), net.blocks[1].w_ff.detach().clone()
    stage = Stage(net, cfg)
    for _ in range(3):
        stage.step(g)
    assert torch.equal(w1, net.blocks[1].w_rec)  # bit-identical over the stage
    assert not torch.equal(ff1, net.blocks[1].w_ff)  # the other weights learn
    assert lr_multiplier(cfg, 2, 1, "within") == 0 and lr_multiplier(cfg, 1, 0, "within") == 1


def test_fix_within_freezes_every_module():
    cfg = _cfg(fix_within=True, duplicate=False)
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    grow(net, cfg, g)
    w = [b.w_rec.detach().clone() for b in net.blocks]
    stage = Stage(net, cfg)
    for _ in range(3):
        stage.step(g)
    assert all(torch.equal(a, b.w_rec) for a, b in zip(w, net.blocks))
    assert not torch.equal(net.blocks[0].w_rec, net.blocks[1].w_rec)  # fresh random per module


def test_combining_module_sizes_keeps_a_failure_visible():
    from modgrow.experiments.perturbations import combine
    assert combine(["fails", "fails"]) == "fails"
    assert combine(["fails", "fails", "not distinguishable"]) == "fails"
    assert combine(["fails", "not distinguishable"]) == "not distinguishable"
    assert combine(["fails", "suggestive"]) == "not distinguishable"
    assert combine(["holds", "not distinguishable"]) == "holds partly"
    assert combine(["holds", "fails"]) == "not distinguishable"
    assert combine(["suggestive", "not distinguishable"]) == "not distinguishable"
    assert combine([]) == "not distinguishable"


def test_stacked_parameters_give_the_scan_of_the_replacement_weights_bit_for_bit():
    """The sweep stacks a perturbed network's parameters once and scans in chunks: the same
    numbers as passing the replacement weights to every chunk; mixing both, unknown names and a
    stack of the wrong size are refused."""
    net = _net(blocks=4)
    w = pt.perturbed(net, pt.matrix_names(net, "hidden"), 0.5, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(3, 40, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(3, g)
    with torch.no_grad():
        a = engine.run(net, x, h0, record=[0, 3], weights=w)
        st = engine.stack_parameters(net, weights=w)
        b = engine.run(net, x, h0, record=[0, 3], stacked=st)
        plain = engine.run(net, x, h0, record=[0, 3])
    assert torch.equal(a.finals, b.finals) and torch.equal(a.states, b.states)
    assert not torch.equal(a.finals, plain.finals)  # the weights were used
    with pytest.raises(ValueError, match="not both"):
        engine.run(net, x, h0, weights=w, stacked=st)
    with pytest.raises(ValueError, match="unknown parameters"):
        engine.stack_parameters(net, weights={"blocks.9.w_rec": torch.zeros(5, 5)})
    with pytest.raises(ValueError, match="unknown parameters"):
        engine.stack_parameters(net, weights={"blocks.0.w_ff": torch.zeros(5, 5)})  # module 0
    with pytest.raises(ValueError, match="stacked parameters of 4 blocks"):
        engine.run(net, x, h0[:2], 0, 2, stacked=st)


# ----- claim 6: which runs, read how far ------------------------------------------------------

def test_claim6_runs_share_chapter3_protocol_and_full_training_is_chapter3s_run():
    from dataclasses import replace

    from modgrow.experiments import perturbations as ch5
    from modgrow.experiments.curriculum import growth_configs
    from modgrow.profiles import PAPER
    book = ch5.fixed_configs(PAPER)
    growth = [c for c in growth_configs(PAPER) if c.module_size == 10]
    assert book[ch5.FULL] == growth
    variant_fields = dict(duplicate=True, fix_within=False, within_from_first=False)
    for label, cfgs in book.items():
        assert [c.seed for c in cfgs] == list(PAPER.fixed_seeds)
        for c, g in zip(cfgs, growth):
            # only the variant's own switches and the N budget differ from chapter 3's run
            assert replace(c, max_n=g.max_n, **variant_fields) == g, label
    legacy = ch5.legacy_fixed_configs(PAPER)
    assert all(c.criterion == "check" and c.confirm_margin == 0
               for cs in legacy.values() for c in cs)
    assert {c.criterion for cs in book.values() for c in cs} == {"confirmed"}


def _Run(cfg, steps, stop="max_n"):
    """A stored run with these steps per stage from N = n_start (no network on disk)."""
    from pathlib import Path

    from modgrow.store import StoredRun
    return StoredRun(cfg, {"stages": [{"n": cfg.n_start + i, "steps": k}
                                      for i, k in enumerate(steps)],
                           "max_n_reached": cfg.n_start + len(steps) - 1 if steps else None,
                           "stop": stop}, Path("."))


def test_read_to_truncates_a_longer_run_and_keeps_a_shorter_runs_stop():
    from modgrow.experiments.perturbations import read_to
    long = _Run(GrowthConfig(max_n=8), [10, 20, 30, 40, 50, 60, 70])     # solved N = 2..8
    r = read_to(long, 5)
    assert (r["max N"], r["ns"], r["steps"], r["stop"]) == (5, [2, 3, 4, 5], [10, 20, 30, 40],
                                                            "max_n")
    short = _Run(GrowthConfig(max_n=8), [10, 20], stop="stage_budget")   # stopped at N = 4
    r = read_to(short, 5)
    assert (r["max N"], r["steps"], r["stop"]) == (3, [10, 20], "stage_budget")
    none = read_to(_Run(GrowthConfig(max_n=8), [], stop="stage_budget"), 5)
    assert none["max N"] == 1 and none["steps"] == []


def test_fixed_summary_pairs_each_variant_with_full_training_to_their_common_n(monkeypatch):
    from dataclasses import replace

    from modgrow.experiments import perturbations as ch5
    from modgrow.profiles import PAPER
    profile = replace(PAPER, fixed_seeds=(0, 1), fixed_max_n=4)
    cfgs = ch5.fixed_configs(profile)
    steps = {  # (label, seed) -> steps per stage from N = 2
        (ch5.FULL, 0): [10, 10, 10, 10, 10], (ch5.FULL, 1): [20, 20, 20],   # read to N = 4
        ("fixed random", 0): [40, 40], ("fixed random", 1): [80, 80, 80],   # seed 0 stops at 3
        ("full training, random init", 0): [20, 20, 20]}                     # seed 0 only
    runs = {}
    for label, cs in cfgs.items():
        for c in cs:
            if (label, c.seed) in steps:
                k = steps[label, c.seed]
                runs[c] = _Run(c, k, "max_n" if c.n_start + len(k) - 1 >= 4 else "stage_budget")
    monkeypatch.setattr(ch5, "_stored_or_run", runs.get)
    fx = ch5.fixed_summary(profile)
    assert fx[ch5.FULL]["max N"] == [4, 4] and fx[ch5.FULL]["total steps"] == [30, 60]
    row = fx["fixed random"]
    assert row["max N"] == [3, 4] and row["common N"] == [3, 4]
    assert row["stop"] == ["stage_budget", "max_n"]
    # seed 0: 80 steps against full training's 20 to N = 3; seed 1: 240 against 60 to N = 4
    assert row["paired"]["ratio"] == pytest.approx(4.0) and row["paired"]["a_larger"] == 2
    assert fx["fixed copy of module 0"]["missing seeds"] == [0, 1]
    # fixed random's own control is full training from random initialisation
    assert row["control"] == "full training, random init"
    assert fx["fixed copy of module 0"]["control"] == ch5.FULL
    # seed 0 only: 80 steps against the control's 40 to N = 3
    assert row["paired control"]["n"] == 1 and row["paired control"]["ratio"] == pytest.approx(2.0)
    table = ch5.fixed_table(fx)
    assert [r["stage budget hit"] for r in table if r["variant"] == "fixed random"] == [1]


@pytest.mark.parametrize("fixed, full, verdict", [
    ([20] * 5, [20] * 5, "holds partly"),      # full training at the cap: an upper bound only
    ([12] * 5, [20] * 5, "holds partly"),
    ([6] * 5, [20] * 5, "fails"),
    ([20] * 3, [20] * 5, "suggestive"),        # too few seeds
    ([], [20] * 5, "not distinguishable"),     # nothing stored yet
    ([18] * 5, [19, 20, 20, 19, 20], "holds"),  # full training below the cap: the share counts
])
def test_claim6_verdict_rule(fixed, full, verdict):
    from modgrow.experiments import perturbations as ch5
    from modgrow.profiles import PAPER

    def row(ns):
        return {"max N": ns, "missing seeds": [], "paired": None, "stop": []}
    fx = {"fixed random": row(fixed), "fixed copy of module 0": row([20] * 5), ch5.FULL: row(full),
          "full training, random init": row([])}
    out = ch5.claim6_verdict(PAPER, fx)
    assert out["verdict"] == verdict      # fixed random's word, never the better copy variant's
    assert ("an upper bound" in out["this book"]) == (full == [20] * 5)
    assert "input weights, timescales and readout train too" in out["this book"]


def test_claim6_share_against_capped_full_training_is_bracketed_by_the_higher_cap():
    """Full training reached the cap in every run: against the same runs read to N = 30, a fixed
    run stopped below the cap keeps its N, one at the cap may reach anything up to 30."""
    from modgrow.experiments.perturbations import fixed_share, share_word
    reach = {"cap": 30, "max N": [30] * 5}
    sh = fixed_share([13, 13, 17, 20, 17], [20] * 5, 20, reach)
    assert sh["share"] == pytest.approx(0.8) and sh["capped"]
    assert sh["low"] == pytest.approx(16 / 30) and sh["high"] == pytest.approx(18 / 30)
    assert share_word(sh, 5) == "holds partly"            # 80 % at the cap, 53-60 % at 30
    copy = fixed_share([16, 17, 20, 20, 20], [20] * 5, 20, reach)
    assert copy["high"] == pytest.approx(24.6 / 30)
    assert share_word(copy, 5) == "holds partly"          # spans holds and holds partly
    assert share_word(fixed_share([20] * 5, [20] * 5, 20, reach), 5) == "holds partly"
    # full training stops at 24 when allowed 30: 83 % or more even against that
    assert share_word(fixed_share([20] * 5, [20] * 5, 20, {"cap": 30, "max N": [24] * 5}), 5) \
        == "holds"
    assert share_word(fixed_share([5, 5, 20, 20, 20], [20] * 5, 20, reach), 5) \
        == "not distinguishable"                          # 33-67 %: reaches fails
    assert share_word(fixed_share([5] * 5, [20] * 5, 20, reach), 5) == "fails"
    free = fixed_share([16] * 5, [18] * 5, 20, reach)     # full training below its cap
    assert not free["capped"] and free["low"] == free["high"] == pytest.approx(16 / 18)
    assert share_word(free, 5) == "holds"


@pytest.mark.parametrize("dup, rnd, verdict", [
    ([0.5] * 5, [0.6] * 5, "holds"),
    ([2.0] * 5, [1.5] * 5, "fails"),
    ([1.4, 1.3, 1.5, 1.2, 1.4], [0.3] * 5, "fails"),          # the paper's protocol decides
    ([0.5] * 5, [1.0, 0.9, 1.1, 0.8, 1.2], "holds"),
    ([0.5] * 4, [0.6] * 4, "not distinguishable"),             # < 5 networks decide nothing
    ([0.5, 0.5, 2.0, 2.0, 0.5], [0.6] * 5, "not distinguishable"),  # 3 of 5 under duplication
    ([], [0.6] * 5, "not distinguishable"),                     # nothing stored for duplication
])
def test_drift_verdict_rule(dup, rnd, verdict):
    from modgrow.experiments.perturbations import drift_verdict
    rows = {"duplicate": [{"within / between": x} for x in dup],
            "random init": [{"within / between": x} for x in rnd]}
    out = drift_verdict(rows, 20)
    assert out["verdict"] == verdict
    if not dup:
        assert "duplicate: no networks stored" in out["this book"]
    assert "the modules of N <= 20)" in out["this book"]
    if dup == [1.4, 1.3, 1.5, 1.2, 1.4]:
        assert out["this book"].endswith("with random init: holds.")


def test_claim6_verdict_says_how_it_moves_with_its_threshold():
    from modgrow.experiments import perturbations as ch5
    from modgrow.profiles import PAPER

    def row(ns):
        return {"max N": ns, "missing seeds": [], "paired": None, "stop": []}
    fx = {"fixed random": row([13, 13, 17, 20, 15]), "fixed copy of module 0": row([]),
          ch5.FULL: row([19] * 5), "full training, random init": row([])}
    out = ch5.claim6_verdict(PAPER, fx)          # 82 % of full training's max N
    assert out["verdict"] == "holds"
    assert "on the rule's 80% threshold" in out["this book"]
    assert out["rule"].endswith("thresholds -20 %: holds; +20 %: holds partly")


def test_claim_4_is_read_against_either_baselines_and_the_book_uses_the_margin(monkeypatch):
    """The book's claim-4 rows are those against chapter 4's baselines (margin); the comparison
    without the margin reads the second edition's stored sweeps of the plain baselines."""
    from modgrow.experiments import baseline, perturbations as ch5
    from modgrow.profiles import PAPER
    from modgrow.store import run_path
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    for margin in (True, False):
        runs = ch5.robustness_runs(PAPER, margin)["nonmodular"]
        names = {r.path.name for rs in runs.values() for r in rs}
        assert names and names <= {run_path(c).name for c in
                                   baseline.baseline_configs(PAPER, margin)}
    book = ch5.verdicts(PAPER)[:2]
    assert book == ch5.claim4_verdicts(PAPER, ch5.robustness(PAPER))
    plain = ch5.claim4_without_margin(PAPER)
    assert [r["claim"] for r in plain] == [r["claim"] for r in book]
    assert [r["this book"] for r in plain] != [r["this book"] for r in book]


# ----- claim 4: partners at equal counts ------------------------------------------------------

def _sweep(seed, eps50, neurons, params, acc0=0.99):
    return {"seed": seed, "neurons": neurons, "parameters": params,
            "groups": {"hidden": {"stream": {"eps50": eps50, "acc0": acc0}}}}


def _rob():
    """Non-modular sizes 50 and 100 neurons (1,000 and 4,000 parameters) and modular networks
    with 100 neurons and 2,000 parameters (half-way in log parameters) and with 200 neurons and
    8,000 parameters (beyond both ranges)."""
    seeds = range(5)
    return {"nonmodular": {50: [_sweep(s, 0.1, 50, 1000, 1.0) for s in seeds],
                           100: [_sweep(s, 0.4, 100, 4000, 1.0) for s in seeds]},
            "modular": {10: [_sweep(s, 0.2 * (1.1 if s else 1.3), 100, 2000, 0.97)
                             for s in seeds],
                        20: [_sweep(s, 0.5, 200, 8000, 0.98) for s in seeds]},
            "iclr": None}


def test_count_partner_equal_interpolated_or_none():
    from modgrow.experiments.perturbations import count_partner
    sizes = {50: 1000, 100: 4000, 150: 9000}
    assert count_partner(1005, sizes) == {"kind": "equal", "sizes": (50,), "w": 0.0}
    p = count_partner(2000, sizes)
    assert p["kind"] == "interpolated" and p["sizes"] == (50, 100)
    assert p["w"] == pytest.approx(0.5)                  # half-way in log count
    far = count_partner(12000, sizes)
    assert far["kind"] == "none" and far["nearest"] == (150, pytest.approx(0.75))
    assert count_partner(500, sizes)["kind"] == "none"


def test_paired_eps50_interpolates_the_non_modular_side_in_log_count():
    """At 2,000 parameters the non-modular eps50 is the geometric mean of 0.1 and 0.4 (0.2): the
    modular networks (0.22 and 0.26) are 1.1 and 1.3 times more robust. At 100 neurons the
    partner is the 100-neuron network itself; 200 neurons and 8,000 parameters have none."""
    from modgrow.experiments.perturbations import paired_eps50
    rows = {(r["module size"], r["match"]): r for r in paired_eps50(_rob())}
    p = rows[10, "parameters"]
    assert p["partner"] == "interpolated" and p["non-modular"] == "interpolated 50–100 neurons"
    assert np.exp(p["diff"]) == pytest.approx([1.3, 1.1, 1.1, 1.1, 1.1])
    assert p["modular ahead"] == 5 and p["low"] > 1
    n = rows[10, "neurons"]
    assert n["partner"] == "equal" and np.exp(n["diff"]) == pytest.approx([0.65, 0.55, 0.55,
                                                                            0.55, 0.55])
    for key in ((20, "neurons"), (20, "parameters")):
        assert rows[key]["partner"] == "none" and rows[key]["diff"] == []
        assert math.isnan(rows[key]["ratio"])


def test_claim4_leaves_out_sizes_without_a_partner_and_states_the_start_accuracy():
    from modgrow.experiments import perturbations as ch5
    from modgrow.profiles import PAPER
    neurons, params = ch5.claim4_verdicts(PAPER, _rob())
    assert params["verdict"] == "holds"         # only module size 10 is compared
    assert "M_m=20 (8,000 parameters): none in range" in params["this book"]
    assert neurons["verdict"] == "fails"        # 100 vs 100 neurons; 200 neurons left out
    assert "modular 0.975 (0.970–0.980), non-modular 1.0000" in params["this book"]
    assert "10 of 10 modular networks start below every non-modular one" in params["this book"]


def test_an_interval_end_on_one_is_flagged():
    from modgrow.experiments.perturbations import on_the_line
    assert on_the_line({"low": 0.85, "high": 1.007})
    assert on_the_line({"low": 0.995, "high": 1.3})
    assert not on_the_line({"low": 0.85, "high": 1.03})
    assert not on_the_line({"low": math.nan, "high": math.nan})
    # the same edge as every paired verdict (verdicts.EDGE, 2 %), not a chapter's own
    from modgrow.verdicts import EDGE
    assert on_the_line({"low": 0.7, "high": 1 + 0.9 * EDGE})
    assert not on_the_line({"low": 0.7, "high": 1 + 1.5 * EDGE})


def test_start_accuracy_counts_modular_networks_below_every_non_modular_one():
    from modgrow.experiments.perturbations import start_accuracy
    rob = _rob()
    rob["modular"][10][0]["groups"]["hidden"]["stream"]["acc0"] = 1.0
    acc = start_accuracy(rob)
    assert acc["modular below"] == 9 and acc["modular"]["n"] == 10
    assert acc["nonmodular"]["min"] == 1.0 and acc["modular"]["max"] == 1.0


# ----- claim 5: thresholds and conditions -------------------------------------------------------

def test_claim5a_says_when_it_sits_on_its_agreement_threshold_and_what_eos_reads():
    from modgrow.experiments.perturbations import claim5a_verdict, sensitivity_word
    stream = {"ratio": 1.17, "low": 1.09, "high": 1.27, "a_larger": 15, "b_larger": 3, "n": 18}
    eos = {**stream, "a_larger": 14, "b_larger": 4}
    assert sensitivity_word(stream) == "holds" and sensitivity_word(eos) == "not distinguishable"
    out = claim5a_verdict(stream, eos)
    assert out["verdict"] == "holds"
    assert "15 agree where the rule needs 14.4: on the threshold" in out["this book"]
    assert "which reads 'not distinguishable'" in out["this book"]
    assert out["rule"].endswith("thresholds -20 %: holds; +20 %: not distinguishable")
    clear = claim5a_verdict({**stream, "a_larger": 18, "b_larger": 0}, eos)
    assert "on the threshold" not in clear["this book"]


def _cons(dup, rnd):
    """conservation() rows with these (within, between) mean correlations per network."""
    def nets(pairs):
        return [{"seed": i, "similarity": {"within": {"all pairs": w}, "between": {"all pairs": b}},
                 "transplant": {"stream": {"within": [w], "between": [b]}}}
                for i, (w, b) in enumerate(pairs)]
    return {"duplicate": nets(dup), "random init": nets(rnd)}


@pytest.mark.parametrize("dup, rnd, verdict", [
    ([(0.9, 0.8)] * 5, [(0.3, 0.1)] * 5, "holds"),
    ([(0.8, 0.9)] * 5, [(0.1, 0.3)] * 5, "fails"),
    ([(0.8, 0.9)] * 5, [(0.3, 0.1)] * 5, "holds partly"),   # only without duplication
    # noise around zero without duplication (3 of 5 ahead, means 0.007 vs 0.004): no side
    ([(0.78, 0.80), (0.95, 0.92), (0.91, 0.93), (0.86, 0.90), (0.91, 0.88)],
     [(-0.008, -0.006), (0.020, 0.011), (-0.008, 0.004), (0.011, 0.010), (0.020, -0.002)],
     "not distinguishable"),
    ([(0.9, 0.8)] * 3, [(0.3, 0.1)] * 3, "suggestive"),
    ([(math.nan, math.nan)] * 5, [(0.3, 0.1)] * 5, "not distinguishable"),
])
def test_conservation_verdict_needs_a_clear_side_per_initialisation(dup, rnd, verdict):
    from modgrow.experiments.perturbations import conservation_verdict
    for measure in ("similarity", "transplant"):
        out = conservation_verdict(_cons(dup, rnd), measure, "5x", "paper", 20)
        assert out["verdict"] == verdict, measure
        assert "the modules of N <= 20" in out["this book"]
