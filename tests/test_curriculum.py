"""Chapter 3's ablations under its own criterion: which runs they share with chapter 3's growth
and with claim 6, and how seeds are paired (steps to the last N that every variant reached)."""

import dataclasses
import math

import pytest

from modgrow import profiles
from modgrow.experiments import curriculum, perturbations
from modgrow.store import load_or_run, run_path


def _names(cfgs):
    return [run_path(c).name for c in cfgs]


@pytest.mark.parametrize("profile", [profiles.PAPER, profiles.QUICK], ids=lambda p: p.name)
def test_margin_ablations_share_the_growth_runs_and_claim_6s_control(profile):
    cfgs = curriculum.margin_ablation_configs(profile)
    assert list(cfgs) == [v for v in profiles.ALL_ABLATIONS if v in profile.margin_ablation_variants]
    growth = [c for c in curriculum.growth_configs(profile) if c.module_size == 10]
    assert _names(cfgs["duplicate, hard freeze"]) == _names(growth)
    control = perturbations.fixed_configs(profile)["full training, random init"]
    assert _names(cfgs["random init, hard freeze"]) == _names(control)
    for label, cs in cfgs.items():
        assert [c.seed for c in cs] == list(profile.seeds)
        for c in cs:
            assert c.module_size == 10 and c.confirm_margin == profile.growth_confirm_margin > 0
            if label != "duplicate, hard freeze":
                assert c.max_n == profile.fixed_max_n
                assert dataclasses.replace(c, **{k: getattr(growth[0], k) for k in
                                                 ("gamma", "duplicate", "seed", "max_n")}) \
                    == growth[0]   # nothing else differs from the growth run


def test_margin_ablation_summary_pairs_seeds_at_the_last_n_every_variant_reached(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    profile = profiles.QUICK
    summary = curriculum.margin_ablation_summary(profile)
    assert summary["n_max"] == profile.fixed_max_n
    runs = {label: [load_or_run(c, progress=False) for c in cfgs]
            for label, cfgs in curriculum.margin_ablation_configs(profile).items()}
    for i, seed in enumerate(profile.seeds):
        reached = [min(rs[i].max_n_reached or 0, profile.fixed_max_n) for rs in runs.values()]
        assert summary["common N"][i] == min(reached)
    for label, rs in runs.items():
        v = summary["variants"][label]
        n = summary["common N"][0]
        assert v["steps to common N"][0] == sum(s["steps"] for s in rs[0].stages if s["n"] <= n)
        if label == "duplicate, hard freeze":
            assert v["paired"] is None
        else:
            ref = summary["variants"]["duplicate, hard freeze"]["steps to common N"][0]
            assert math.isclose(v["paired"]["ratio"], v["steps to common N"][0] / ref)
    words = curriculum.ablation_words(profile)
    assert words["margin run"] == "; ".join(profiles.ALL_ABLATIONS)
    assert "with the margin" in words["freeze"] and "soft freezing" in words["freeze"]


def test_freeze_sentence_names_each_variant_run_and_says_when_none_was():
    q = {"ratio": 0.5, "low": 0.4, "high": 0.6, "b_larger": 5, "n": 5}
    text = curriculum._freeze_sentence({"duplicate, no freeze (gamma=1)": q,
                                        "random init, hard freeze": q}, "to N = 20")
    assert "0.50 [0.40, 0.60] times the default's steps with no freezing (5 of 5 seeds fewer)" \
        in text and "soft" not in text and "(to N = 20; paired by seed" in text
    assert curriculum._freeze_sentence({}, "x") == \
        "Soft and no freezing were not run at this scale."
