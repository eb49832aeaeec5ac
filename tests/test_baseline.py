"""Chapter 4's non-modular baselines: they end a stage by chapter 3's rule (margin included), the
second edition's baselines without the margin stay readable, and the comparison of the two pairs
runs by seed and counts steps to the last N both reached."""

import dataclasses
import math

import pytest

from modgrow.experiments import baseline, curriculum
from modgrow.profiles import PAPER, QUICK
from modgrow.store import load_or_run, load_run, run_path


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_baselines_use_chapter_3s_margin_and_the_plain_ones_differ_only_there(profile):
    grown = curriculum.growth_configs(profile)[0]
    for make in (baseline.baseline_configs, baseline.long_baseline_configs):
        strict, plain = make(profile), make(profile, margin=False)
        assert len(strict) == len(plain) > 0
        for a, b in zip(strict, plain):
            assert a.confirm_margin == grown.confirm_margin == profile.growth_confirm_margin > 0
            assert a.criterion == grown.criterion and a.confirm_batches == grown.confirm_batches
            assert b.confirm_margin == 0.0
            assert dataclasses.replace(a, confirm_margin=0.0) == b
            assert run_path(a).name != run_path(b).name


def test_the_second_editions_baselines_are_still_stored():
    assert all(load_run(c) is not None for c in baseline.baseline_configs(PAPER, margin=False))


def test_margin_effect_pairs_seeds_to_the_last_n_both_reached(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    profile = dataclasses.replace(QUICK, baseline_sizes=(20,))
    for margin in (False, True):
        for c in baseline.baseline_configs(profile, margin):
            load_or_run(c, progress=False)
    rows = baseline.margin_effect(profile)
    assert [r["neurons"] for r in rows] == [20]
    (row,) = rows
    strict, plain = (load_run(c) for c in (baseline.baseline_configs(profile)[0],
                                          baseline.baseline_configs(profile, False)[0]))
    assert row["max N, plain"] == str(plain.max_n_reached)
    assert row["max N, margin"] == str(strict.max_n_reached)
    n = min(strict.max_n_reached, plain.max_n_reached)

    def steps(run):  # counted a second way: from the history's stage records
        return sum(s["steps"] for s in run.history["stages"] if s["n"] <= n)
    assert math.isclose(row["paired"]["ratio"], steps(strict) / steps(plain))
    assert row["paired"]["n"] == 1


def test_verdict_changes_marks_exactly_the_claims_whose_verdict_moved(monkeypatch):
    def fake(profile, margin=True):
        words = {"1a. capacity": "fails", "2. speed": "holds" if margin else "holds partly",
                 "3a. length": "not distinguishable"}
        if margin:
            words["3b. transfer"] = "holds"
        return [{"claim": c, "verdict": v} for c, v in words.items()]
    monkeypatch.setattr(baseline, "verdicts", fake)
    rows = {r["claim"]: r for r in baseline.verdict_changes(PAPER)}
    assert [c for c, r in rows.items() if r["changed"]] == ["2. speed", "3b. transfer"]
    assert rows["2. speed"]["baselines without margin"] == "holds partly"
    assert rows["3b. transfer"]["baselines without margin"] == "not tested"
    assert rows["1a. capacity"]["baselines with margin"] == "fails"


def test_claims_2_and_3_pair_module_size_10_with_100_neurons_when_trained():
    import pytest
    from modgrow.experiments.baseline import paired_size
    assert paired_size([20, 50, 100, 200]) == 100
    assert paired_size({20: [], 50: []}) == 50      # a dict of runs by size works too
    with pytest.raises(ValueError, match="no non-modular sizes"):
        paired_size([])
