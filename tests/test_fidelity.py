"""The fidelity departures under chapter 3's own criterion (margin included, to fixed_max_n):
which configs they are, and how their summary pairs seeds."""

import dataclasses
import math

import pytest

from modgrow import profiles
from modgrow.experiments import curriculum, fidelity
from modgrow.store import load_or_run, run_path

CRITERION_VARIANTS = {"single check", "epoch test", "authors"}


def _widened(profile):
    return dataclasses.replace(profile, fidelity_margin_variants=tuple(
        v for v in fidelity.VARIANTS if v != "ours"))


@pytest.mark.parametrize("profile", [profiles.PAPER, profiles.QUICK], ids=lambda p: p.name)
def test_margin_variants_change_one_choice_of_the_growth_run(profile):
    profile = _widened(profile)
    cfgs = fidelity.margin_variant_configs(profile)
    assert list(cfgs) == list(fidelity.VARIANTS)
    growth = {c.seed: c for c in curriculum.growth_configs(profile) if c.module_size == 10}
    ours = [growth[s] for s in profile.fidelity_seeds]
    assert [run_path(c).name for c in cfgs["ours"]] == [run_path(c).name for c in ours]
    for label, cs in cfgs.items():
        assert [c.seed for c in cs] == list(profile.fidelity_seeds)
        if label == "ours":
            continue
        changes = fidelity.VARIANTS[label][0]
        for c, ref in zip(cs, ours):
            assert c.max_n == profile.fixed_max_n and c.module_size == 10
            if label in CRITERION_VARIANTS:
                assert c.criterion == "check" and c.confirm_margin == 0
            else:
                assert c.criterion == "confirmed"
                assert c.confirm_margin == profile.growth_confirm_margin > 0
            same = dataclasses.replace(c, max_n=ref.max_n, confirm_margin=ref.confirm_margin,
                                       **{k: getattr(ref, k) for k in changes})
            assert same == ref   # nothing else differs from the growth run


def test_margin_variants_refuse_unknown_labels_and_ours():
    for bad in (("clip al",), ("ours",)):
        p = dataclasses.replace(profiles.QUICK, fidelity_margin_variants=bad)
        with pytest.raises(ValueError, match="fidelity_margin_variants must be among"):
            fidelity.margin_variant_configs(p)


def test_margin_summary_pairs_each_variant_with_ours_at_the_last_n_both_reached(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    profile = profiles.QUICK
    rows = {r["variant"]: r for r in fidelity.margin_summary(profile)}
    runs = {label: [load_or_run(c, progress=False) for c in cfgs]
            for label, cfgs in fidelity.margin_variant_configs(profile).items()}
    assert set(rows) == {"ours", *profile.fidelity_margin_variants}
    assert rows["ours"]["against ours"] == "reference" and "paired" not in rows["ours"]
    for label, rs in runs.items():
        reached = [min(r.max_n_reached or 0, profile.fixed_max_n) for r in rs]
        assert rows[label]["max N per seed"] == " ".join(map(str, reached))
        if label == "ours":
            continue
        n = min(reached[0], min(runs["ours"][0].max_n_reached or 0, profile.fixed_max_n))
        mine, ref = (sum(s["steps"] for s in r.stages if s["n"] <= n)
                     for r in (rs[0], runs["ours"][0]))
        assert math.isclose(rows[label]["paired"]["ratio"], mine / ref)
        solved = [(s["steps"], r.config.steps_per_epoch) for r in rs for s in r.stages
                  if s["n"] <= profile.fixed_max_n]
        within = sum(k <= epoch for k, epoch in solved)
        assert rows[label]["stages in one epoch"].startswith(f"{within} of {len(solved)} (")


def test_epoch_share_counts_solved_stages_within_their_runs_epoch():
    runs = [{"ns": [2, 3, 4, 5], "steps": [500, 501, 100, 9999], "max N": 4, "epoch": 500},
            {"ns": [2, 3], "steps": [1000, 50], "max N": 3, "epoch": 1000}]
    # stage N = 5 of the first run is past its max N (a stage it did not solve): not counted
    assert fidelity.epoch_share(runs) == (4, 5)


def test_margin_scope_and_groups_say_what_was_run_and_how_it_compares():
    none = dataclasses.replace(profiles.PAPER, fidelity_margin_variants=())
    assert fidelity.margin_scope(none).startswith("Run at this N so far: none; not yet: single")
    assert fidelity.margin_scope(_widened(profiles.PAPER)) == "All 8 choices are run at this N."
    some = dataclasses.replace(profiles.PAPER, fidelity_margin_variants=("clip all",))
    assert "so far: clip all; not yet: single check, epoch test, copy untrained" in \
        fidelity.margin_scope(some)

    def row(name, ratio, low, high):
        return {"variant": name, "paired": {"ratio": ratio, "low": low, "high": high}}
    groups = fidelity.margin_groups([{"variant": "ours"}, row("a", 0.5, 0.4, 0.7),
                                     row("b", 2.0, 1.1, 3.0), row("c", 1.0, 0.9, 1.2),
                                     row("d", 0.8, 0.6, 1.0)])
    assert groups == {"fewer": "a (0.50x [0.40, 0.70])", "more": "b (2.00x [1.10, 3.00])",
                      "same": "c (1.00x [0.90, 1.20]), d (0.80x [0.60, 1.00])"}
    assert fidelity.margin_groups([{"variant": "ours"}])["more"] == "none"


def test_one_epoch_row_applies_chapter_3s_rule_to_the_authors_stored_runs():
    import statistics

    from modgrow import verdicts as rules
    p = profiles.PAPER
    row = fidelity.one_epoch_row(p)
    runs = [load_or_run(c, progress=False)
            for c in fidelity.margin_variant_configs(p)["authors"]]
    steps = [s["steps"] for r in runs for s in r.stages
             if r.config.n_start < s["n"] <= min(r.max_n_reached or 0, p.fixed_max_n)]
    steps += [r.config.max_steps_per_stage for r in runs
              if (r.max_n_reached or 0) < p.fixed_max_n and r.history["stop"] == "stage_budget"]
    frac = sum(k <= 500 for k in steps) / len(steps)
    assert row["verdict"] == rules.single_epoch_rule(statistics.median(steps), frac)
    assert f"of {len(steps)} stages" in row["this book"] and "20 % stricter" in row["rule"]


def test_conclusion_flags_an_interval_end_on_one():
    pr = {"ratio": 0.76, "low": 0.58, "high": 0.995, "a_larger": 0, "n": 5, "sign_p": 0.06}
    assert "fewer steps" in fidelity.conclusion(pr, [20] * 5, 20)
    assert "on the threshold" in fidelity.conclusion(pr, [20] * 5, 20)
    assert "on the threshold" not in fidelity.conclusion({**pr, "high": 0.9}, [20] * 5, 20)
