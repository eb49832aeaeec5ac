"""Analyses, comparisons and verdict rules on small known cases."""

import pytest
import torch

from modgrow import analysis, compare, report, verdicts
from modgrow.training import GrowthConfig, network_at_stage


@pytest.mark.parametrize("n, k, bit_prob", [(6, 0, "per_batch"), (6, 4, "per_batch"),
                                            (5, 2, 0.5), (4, 3, 0.8)])
def test_best_accuracy_formula_matches_simulation(n, k, bit_prob):
    sim = analysis.simulate_best_accuracy(n, k, 100_000, seed=1, bit_prob=bit_prob)
    assert sim == pytest.approx(analysis.best_accuracy_seeing(n, k, bit_prob), abs=0.01)


def test_full_recurrent_matrix_is_block_lower_bidiagonal():
    cfg = GrowthConfig(module_size=3, max_n=5)
    net = network_at_stage(cfg, 5, torch.Generator().manual_seed(0))
    w = analysis.full_recurrent_matrix(net)
    assert w.shape == (12, 12)
    assert torch.all(torch.diagonal(w) == 0)
    blocks = lambda r, c: w[3 * r:3 * r + 3, 3 * c:3 * c + 3]
    for r in range(4):
        for c in range(4):
            nonzero = bool(blocks(r, c).abs().sum() > 0)
            assert nonzero == (c in (r, r - 1)), (r, c)


def history(steps, module_size=10, arch="modular"):
    cfg = GrowthConfig(architecture=arch, module_size=module_size, max_n=len(steps) + 1)
    return {"config": cfg.__dict__, "stages": [{"n": i + 2, "steps": s, "seconds": 1.0}
                                               for i, s in enumerate(steps)],
            "status": "complete", "max_n_reached": len(steps) + 1}


def test_max_n_within_budgets():
    h = history([100, 200, 300, 400])  # N = 2..5 with 1..4 modules of 10
    assert compare.max_n_within(h) == 5
    assert compare.max_n_within(h, neurons=25) == 3
    assert compare.max_n_within(h, total_steps=600) == 4
    assert compare.max_n_within(h, total_steps=50) == 0
    rows = compare.params_by_stage(h)
    assert [r["neurons"] for r in rows] == [10, 20, 30, 40]
    assert compare.max_n_within(h, params=rows[1]["total"]) == 3
    assert all(r["trainable"] == rows[1]["trainable"] for r in rows[1:])


def test_run_summary_and_single_epoch_rule():
    s = analysis.run_summary(history([5000, 100, 200, 900]))
    assert s["median_steps"] == 200 and s["one_epoch_fraction"] == pytest.approx(2 / 3)
    assert verdicts.single_epoch_rule(200, 0.9) == "holds"
    assert verdicts.single_epoch_rule(200, 0.6) == "holds partly"
    assert verdicts.single_epoch_rule(600, 0.9) == "fails"


def test_beats_needs_the_mean_above_the_other_interval():
    assert verdicts._beats([10, 10, 10], [5, 6, 7])
    assert not verdicts._beats([6, 7, 8], [5, 6, 7])
    assert verdicts._beats([3.0], [2.0]) and not verdicts._beats([2.0], [2.0])


def test_markdown_table():
    t = report.table([{"a": 1, "b": 0.123456}, {"a": 20000, "b": float("nan")}])
    assert t.markdown().splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.123 |",
                                         "| 20,000 | – |"]


def test_forgetting_rule():
    assert verdicts._forgetting_rule([0.99] * 19 + [0.97]) == "holds"
    assert verdicts._forgetting_rule([0.99] * 10 + [0.96] * 10) == "holds partly"
    assert verdicts._forgetting_rule([0.99] * 10 + [0.90]) == "fails"
