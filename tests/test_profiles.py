"""Profiles: the scale of the book's experiments, validated when built."""

import dataclasses

import pytest

from modgrow import profiles
from modgrow.experiments import curriculum


def test_ablation_labels_are_the_profiles_labels():
    assert tuple(curriculum.ABLATIONS) == profiles.ALL_ABLATIONS


def test_a_profile_can_run_a_subset_of_the_ablations():
    p = dataclasses.replace(profiles.QUICK, ablation_variants=profiles.ALL_ABLATIONS[:2])
    assert list(curriculum.ablation_configs(p)) == list(profiles.ALL_ABLATIONS[:2])


@pytest.mark.parametrize("field", ["ablation_variants", "margin_ablation_variants"])
@pytest.mark.parametrize("variants", [("random init, hard freeze",), ("duplicate, hard freeze", "typo")])
def test_bad_ablation_variants_are_refused(field, variants):
    with pytest.raises(ValueError, match=f"{field} must include"):
        dataclasses.replace(profiles.QUICK, **{field: variants})


def test_unknown_profile_name_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV, "huge")
    with pytest.raises(ValueError, match="must be one of"):
        profiles.active()


def test_the_long_budget_curriculum_cannot_end_below_the_baselines():
    from modgrow.experiments.baseline import long_baseline_configs
    with pytest.raises(ValueError, match="long_budget_max_n \\(29\\) must be at least"):
        dataclasses.replace(profiles.PAPER, long_budget_max_n=29)
    assert {c.max_n for c in long_baseline_configs(profiles.PAPER)} == {profiles.PAPER.long_budget_max_n}
