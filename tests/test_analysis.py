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


def test_paired_verdict_words_follow_interval_seeds_and_direction():
    fast = [100, 120, 90, 110, 105]
    slow = [300, 330, 280, 310, 350]
    assert verdicts.paired_verdict(fast, slow, "lower")[0] == "holds"
    assert verdicts.paired_verdict(fast[:3], slow[:3], "lower")[0] == "suggestive"  # 3 seeds
    assert verdicts.paired_verdict(slow, fast, "lower")[0] == "fails"
    mixed = [100, 400, 95, 420, 110]
    assert verdicts.paired_verdict(mixed, [200] * 5, "lower")[0] == "not distinguishable"
    word, text = verdicts.paired_verdict(fast, slow, "lower")
    assert "5 of 5 seeds" in text and "sign test" in text


def test_group_verdict_compares_intervals_not_means():
    assert verdicts.group_verdict([10, 11, 12, 10, 11], [5, 6, 5, 6, 5])[0] == "holds"
    assert verdicts.group_verdict([10, 11, 12], [5, 6, 5])[0] == "suggestive"
    assert verdicts.group_verdict([5, 6, 5], [10, 11, 12])[0] == "fails"
    assert verdicts.group_verdict([5, 9, 6], [6, 8, 7])[0] == "not distinguishable"
    assert verdicts.group_verdict([5, 6], [float("nan")])[0] == "not tested"


def test_threshold_sensitivity_reports_both_sides():
    text = verdicts.sensitivity(lambda e: verdicts.single_epoch_rule(450, 0.9, e), 500)
    assert text == "thresholds -20 %: fails; +20 %: holds"  # median 450 against 400 and 600


def test_markdown_table():
    t = report.table([{"a": 1, "b": 0.123456}, {"a": 20000, "b": float("nan")}])
    assert t.markdown().splitlines() == ["| a | b |", "|---|---|", "| 1 | 0.123 |",
                                         "| 20,000 | – |"]


def test_curriculum_verdicts_separate_forgetting_from_false_passes():
    hist = [history([500, 100, 200, 300, 400]) for _ in range(3)]
    heads = {str(n): 0.99 for n in range(2, 7)}
    kept = {"own": {**heads, "6": 0.97}, "final": {**heads, "6": 0.97}}  # below 98 %, not lost
    lost = {"own": heads, "final": {**heads, "3": 0.95}}
    rows = verdicts.curriculum_verdicts(hist, [kept] * 3, {})
    assert [r["verdict"] for r in rows] == ["holds", "holds"]
    assert "3 of 15 heads read at or below 98 %" in rows[1]["this book"]
    rows = verdicts.curriculum_verdicts(hist, [lost] * 3, {})
    assert rows[1]["verdict"] == "holds partly"  # 12 of 15 heads kept


def test_length_verdict_reads_a_tiny_change_as_no_change():
    flat_mod, flat_non = [-0.004, -0.003, -0.003, -0.004, -0.003], [0.0] * 5
    row = verdicts.length_verdict(flat_mod, flat_non)
    assert row["verdict"] == "not distinguishable" and "would say 'fails'" in row["this book"]
    worse = [-0.2, -0.25, -0.22, -0.21, -0.24]  # modular loses 20 points: a real difference
    assert verdicts.length_verdict(worse, flat_non)["verdict"] == "fails"
    better = [0.0] * 5
    assert verdicts.length_verdict(better, worse)["verdict"] == "holds"


def test_rerun_verdict_says_when_it_sits_on_its_threshold():
    from modgrow.experiments.fidelity import rerun_verdict
    rows = lambda accs: [{"newest head": a, "lowest head": a - 0.001} for a in accs]
    near = rerun_verdict(rows([0.9788, 0.9802, 0.9804, 0.9806, 0.9834]))
    assert near["verdict"] == "holds" and "sits on its threshold" in near["this book"]
    assert "1 of 5 below 98 %" in near["this book"] and "(any N) 0.9778" in near["this book"]
    clear = rerun_verdict(rows([0.985, 0.99, 0.99, 0.991, 0.995]))
    assert clear["verdict"] == "holds" and "threshold" not in clear["this book"]
    assert rerun_verdict(rows([0.97, 0.99, 0.99]))["verdict"] == "fails"


def test_one_epoch_verdicts_reads_the_rows_chapter_3_writes():
    from modgrow.experiments.curriculum import one_epoch_verdicts
    rows = [{"claim": "each new N is solved within about one epoch (M_m = 15)", "verdict": "holds"},
            {"claim": "each new N is solved within about one epoch (M_m = 5)", "verdict": "fails"},
            {"claim": "old tasks are kept while the network grows (frozen modules)",
             "verdict": "holds"}]
    assert one_epoch_verdicts(rows) == {15: "holds", 5: "fails"}


def test_one_epoch_verdict_counts_the_unsolved_stage_and_moves_thresholds_each_its_own_way():
    def hist(steps, stop="max_n", budget=10_000):
        return {"config": {"module_size": 10, "max_steps_per_stage": budget,
                           "architecture": "modular", "seed": 0},
                "stop": stop, "status": "stopped", "max_n_reached": 1 + len(steps),
                "stages": [{"n": 2 + i, "steps": k, "seconds": 1.0}
                           for i, k in enumerate([50] + steps)]}
    solved = [hist([100, 200, 300, 400]) for _ in range(5)]
    row = verdicts.curriculum_verdicts(solved, [{"own": {"3": 0.99}, "final": {"3": 0.99}}], {})[0]
    assert row["verdict"] == "holds" and "20 stages" in row["this book"]
    # one run stopped on a stage: that stage counts, at its budget, as more than an epoch
    stopped = solved[:4] + [hist([100], "stage_budget")]
    row = verdicts.curriculum_verdicts(stopped, [{"own": {"3": 0.99}, "final": {"3": 0.99}}], {})[0]
    assert "18 stages" in row["this book"] and "1 of them the unsolved" in row["this book"]
    # stricter means a shorter epoch and a larger share; looser the opposite
    assert verdicts.one_epoch_sensitivity(300, 0.85).startswith(
        "thresholds 20 % stricter (400 steps, 96%): holds partly; 20 % looser (600 steps, 64%): holds")
    assert verdicts.on_epoch_threshold(300, 0.82) and not verdicts.on_epoch_threshold(300, 0.95)


def test_comparisons_word_weighs_ahead_against_behind():
    assert verdicts.comparisons_word(4, 0, 4) == "holds"
    assert verdicts.comparisons_word(4, 0, 4, all_firm=False) == "suggestive"
    assert verdicts.comparisons_word(2, 0, 16) == "holds partly"
    assert verdicts.comparisons_word(7, 2, 16) == "holds partly"
    assert verdicts.comparisons_word(2, 6, 16) == "fails"
    assert verdicts.comparisons_word(0, 0, 16) == "not distinguishable"


def test_a_comparison_the_curriculum_caps_is_left_out_only_when_the_modular_side_loses():
    """Modular runs that sat at the curriculum's last N (30) were stopped by the plan: a
    comparison they do not win is left out and counted; one they win still counts; runs below
    the cap count as usual."""
    capped, low, high = [30, 30, 30, 29, 30], [10, 11, 10, 12, 11], [40, 41, 39, 42, 40]
    rows = [{"neurons": 100, "modular M_m=10": capped, "modular M_m=5": low, "non-modular": high},
            {"neurons": 20, "modular M_m=10": capped, "non-modular": [8, 9, 8, 8, 9]}]
    row = verdicts._comparisons(rows, "1a", "modular higher", "neurons", last_n={10: 30, 5: 30})
    text = row["this book"]
    assert "ahead in 1, behind in 1 of 2 comparisons" in text and "1 left out" in text
    assert "100 neurons, M_m=10: 29.8 vs 40.4 (left out: 4 of 5 modular runs" in text
    assert "20 neurons, M_m=10: 29.8 vs 8.4 (holds)" in text      # capped but ahead: counted
    assert row["verdict"] == "holds partly" and "left out" in row["rule"]
    # without the curriculum's last N nothing is left out: behind in 2 of 3 -> fails
    plain = verdicts._comparisons(rows, "1a", "modular higher", "neurons")
    assert "behind in 2 of 3" in plain["this book"] and plain["verdict"] == "fails"
    assert "left out" not in plain["this book"] + plain["rule"]
