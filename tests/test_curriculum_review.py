"""Chapter 3 after the referee's review: the re-measure of every head against the confirmation
that ended its stage, the scaling run (one selected seed) and its trend of steps with N, the
seeds' spread over the N every seed reached, the one-epoch threshold, the freezing sentence and
the settings the prose states, read from the configs."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

from modgrow import profiles
from modgrow.experiments import curriculum
from modgrow.profiles import PAPER, QUICK
from modgrow.training import GrowthConfig

BOOK = Path(__file__).resolve().parent.parent / "book"


def _history(stages, *, n_start=2, module_size=10, stop="complete", criterion="confirmed",
             margin=0.003, confirm_batches=100, eval_batches=10, threshold=0.98, budget=10_000):
    """A stored-history stand-in: ``stages`` as (steps, accuracy of the newest head) from
    N = n_start on."""
    return {"config": {"n_start": n_start, "module_size": module_size, "criterion": criterion,
                       "confirm_margin": margin, "confirm_batches": confirm_batches,
                       "eval_batches": eval_batches, "threshold": threshold,
                       "max_steps_per_stage": budget},
            "stop": stop, "max_n_reached": n_start + len(stages) - 1,
            "stages": [{"n": n_start + i, "steps": k, "seconds": k / 100,
                        "accuracy": {str(n_start + i): a}}
                       for i, (k, a) in enumerate(stages)]}


# ----- the re-measure -----------------------------------------------------------------------

def test_remeasure_pairs_each_head_with_the_value_that_ended_its_stage():
    h = _history([(100, 0.99), (200, 0.985), (50, 0.984)])
    ret = {"own": {"2": 0.985, "3": 0.979, "4": 0.980}}
    rm = curriculum.remeasure([h], [ret])
    assert rm["heads"] == 3 and rm["below"] == 2  # at or below 98 %
    assert math.isclose(rm["bar"], 0.983) and rm["stage batches"] == 100
    assert rm["batches"] == curriculum.HEAD_BATCHES
    assert rm["ended above bar"] == 3 and rm["lowest ended"] == 0.984
    assert math.isclose(rm["mean own"], np.mean([0.985, 0.979, 0.980]))
    assert math.isclose(rm["mean ended"], np.mean([0.99, 0.985, 0.984]))
    diff = np.array([0.985 - 0.99, 0.979 - 0.985, 0.980 - 0.984])
    se = np.std(diff, ddof=1) / math.sqrt(1 + curriculum.HEAD_BATCHES / 100)
    assert math.isclose(rm["se"], 100 * se)
    assert math.isclose(rm["p at bar"], st.norm.cdf((0.98 - 0.983) / se))


def test_remeasure_reads_the_check_under_the_single_check_criterion_and_refuses_mixed_runs():
    h = _history([(100, 0.99), (200, 0.985)], criterion="check", margin=0.0)
    rm = curriculum.remeasure([h], [{"own": {"2": 0.99, "3": 0.98}}])
    assert rm["bar"] == 0.98 and rm["stage batches"] == 10
    confirmed = _history([(100, 0.99)])
    with pytest.raises(ValueError, match="differ in their criterion"):
        curriculum.remeasure([h, confirmed], [{"own": {"2": 0.99}}, {"own": {"2": 0.99}}])


def test_stored_growth_runs_ended_every_stage_above_the_bar(monkeypatch):
    """The chapter says every stage ended on a confirmation above 98 % plus the margin, and that
    the re-measure's standard error is larger than a binomial count of its sequences gives (its
    batches differ in p and length)."""
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    runs = [r for rs in curriculum.runs_by_size(curriculum.growth_configs(PAPER)).values()
            for r in rs]
    rm = curriculum.remeasure([r.history for r in runs], [curriculum.retention(r) for r in runs])
    assert rm["ended above bar"] == rm["heads"] > 0
    assert math.isclose(rm["bar"], 0.98 + PAPER.growth_confirm_margin)
    binomial = 100 * math.sqrt(rm["mean own"] * (1 - rm["mean own"])
                               / (256 * curriculum.HEAD_BATCHES))
    assert binomial < rm["se"] < 1


# ----- the scaling run ----------------------------------------------------------------------

def test_scaling_seed_is_the_fastest_first_edition_seed_of_its_module_size(monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    choice = curriculum.scaling_choice(PAPER)  # the committed first-edition runs
    assert choice is not None and choice["fastest"]
    assert choice["seed"] == curriculum.SCALING_SEED == curriculum.scaling_config(PAPER).seed
    assert curriculum.scaling_config(PAPER).criterion == "check"
    assert curriculum.scaling_choice_words(choice).startswith(
        f"Seed {choice['seed']} was chosen as the fastest of the first edition's "
        f"{len(PAPER.legacy_seeds)} runs of module size {curriculum.SCALING_MODULE_SIZE}")


def test_scaling_choice_words_say_when_the_seed_is_not_the_fastest_or_not_stored():
    choice = {"seed": 2, "module size": 10, "common N": 30, "steps": {0: 900, 1: 100, 2: 500},
              "fastest": False}
    assert curriculum.scaling_choice_words(choice) == (
        "Seed 2 is not the fastest of the first edition's 3 runs of module size 10 (500 SGD "
        "steps to N = 30, against 100 and 900).")
    assert "not one of this profile's" in curriculum.scaling_choice_words(
        {**choice, "steps": {0: 900}})
    assert "not stored" in curriculum.scaling_choice_words(None)


def test_steps_trend_reads_the_rise_of_steps_with_n_and_the_groups():
    steps = [50, 100, 50, 100, 150, 100, 150, 200, 150, 250, 300, 200]
    h = _history([(300, 1.0)] + [(k, 0.99) for k in steps])
    t = curriculum.steps_trend(h)
    ns = np.arange(3, 3 + len(steps))
    res = st.spearmanr(ns, steps)
    assert math.isclose(t["rho"], res.statistic) and math.isclose(t["p"], res.pvalue)
    assert t["stages"] == len(steps)
    assert t["first"]["ns"] == (3, 6) and t["first"]["median"] == 75
    assert t["last"]["ns"] == (11, 14) and t["last"]["mean"] == np.mean([150, 250, 300, 200])
    assert math.isclose(t["first"]["ms per step"], 10.0)  # seconds = steps / 100
    words = curriculum.steps_trend_words(t)
    assert words.startswith("Its steps per stage rise with N (Spearman rank correlation")
    assert "N = 3–6" in words and "N = 11–14" in words and "wall time per step" in words


def test_steps_trend_says_when_there_is_no_trend_or_too_few_stages():
    flat = curriculum.steps_trend(_history([(300, 1.0)] + [(k, 0.99) for k in [100, 50] * 6]))
    assert "show no monotone trend with N" in curriculum.steps_trend_words(flat)
    few = curriculum.steps_trend(_history([(300, 1.0), (50, 0.99), (100, 0.99)]))
    assert math.isnan(few["rho"])
    assert curriculum.steps_trend_words(few) == \
        "Its 2 stages after the first are too few to show a trend."


# ----- spread and the one-epoch threshold ---------------------------------------------------

def test_seed_spread_compares_seeds_over_the_n_every_seed_reached():
    short = _history([(100, 1.0), (100, 0.99), (100, 0.99)], stop="stage_budget")  # N = 2-4
    long = _history([(100, 1.0), (300, 0.99), (300, 0.99), (5000, 0.99)])           # N = 2-5
    spread = curriculum.seed_spread({10: [short, long]})
    assert spread[10] == {"common N": 4, "steps": [300, 700], "ratio": 700 / 300}


def test_one_epoch_shares_count_the_stopped_stage_at_its_budget():
    a = _history([(300, 1.0), (100, 0.99), (600, 0.99)], stop="stage_budget", budget=10_000)
    b = _history([(300, 1.0), (400, 0.99)], module_size=20)
    shares = curriculum.one_epoch_shares([a, b])
    assert shares[10] == {"stages": 3, "within": 1, "share": 1 / 3, "median": 600.0}
    assert shares[20]["stages"] == 1 and shares[20]["share"] == 1.0


def test_one_epoch_shares_match_the_verdict_rows(monkeypatch):
    """The chapter's threshold sentence and the verdict table count the same stages."""
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    import re
    runs = [r for rs in curriculum.runs_by_size(curriculum.growth_configs(PAPER)).values()
            for r in rs]
    shares = curriculum.one_epoch_shares([r.history for r in runs])
    rows = {int(r["claim"].rsplit("= ", 1)[1].rstrip(")")): r["this book"]
            for r in curriculum.verdicts(PAPER)
            if r["claim"].startswith("each new N is solved within about one epoch")}
    assert set(rows) == set(shares)
    for m, text in rows.items():
        assert int(re.search(r"(\d+) stages of", text).group(1)) == shares[m]["stages"]
        assert int(re.search(r"(\d+)% of stages within", text).group(1)) == \
            round(100 * shares[m]["share"])


def test_epoch_threshold_words_name_the_sizes_either_side_and_the_stages_that_turn_them():
    shares = {5: {"stages": 95, "within": 37, "share": 37 / 95},
              15: {"stages": 140, "within": 118, "share": 118 / 140},
              20: {"stages": 133, "within": 104, "share": 104 / 133}}
    words = curriculum.epoch_threshold_words(shares)
    assert words.startswith("Module sizes 15 and 20 sit either side of the rule's 80 % threshold "
                            "(84 % and 78 % of stages within one epoch)")
    # 112 of 140 stages are needed: 118 - 112 + 1 = 7 fewer fail it; 107 of 133: 3 more pass it
    assert "7 fewer stages within an epoch would take module size 15 below it" in words
    assert "3 more would take module size 20 to it" in words
    one = curriculum.epoch_threshold_words({15: shares[15]})
    assert one.startswith("Module size 15 sits close to the rule's 80 % threshold (84 % of")
    assert one.endswith("so its verdict turns on a few stages.")
    assert curriculum.epoch_threshold_words({5: shares[5]}) == ""


# ----- freezing and the settings of the prose -----------------------------------------------

def test_freeze_sentence_states_steps_only_and_that_wall_time_was_not_compared():
    q = {"ratio": 0.3, "low": 0.1, "high": 0.8, "b_larger": 5, "n": 5}
    text = curriculum._freeze_sentence({"duplicate, soft freeze (gamma=0.5)": q}, "to N = 20")
    assert "counts of SGD steps" in text and "not measured" in text
    assert "each of those steps trains every module" not in text


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_protocol_values_are_the_configs(profile):
    values = curriculum.protocol_values(profile)
    defaults = GrowthConfig()
    assert values == {"eval_every": defaults.eval_every, "noise": defaults.noise,
                      "abl_m": 10, "soft_gamma": 0.5, "head_batches": curriculum.HEAD_BATCHES}
    assert curriculum.ABLATIONS["duplicate, soft freeze (gamma=0.5)"]["gamma"] == 0.5
    assert set(profiles.ALL_ABLATIONS) == set(curriculum.ABLATIONS)


def test_chapter_3_prose_drops_the_over_readings_and_glues_what_it_states():
    nb = json.loads((BOOK / "03_curriculum.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    for gone in ("lucky check", "criterion's doing", "not its number of steps",
                 "each of those steps trains every module", "every 50 SGD steps", "0.05 ξ",
                 "× 0.5", "module size 10, seed 2", "20 fresh batches"):
        assert gone not in text, gone
    captions = " ".join(c["metadata"].get("mystnb", {}).get("figure", {}).get("caption", "")
                        for c in nb["cells"])
    assert "20 fresh batches" not in captions and "module size 10" not in captions
    for key in ("ch3_remeasure_se", "ch3_p_at_bar", "ch3_bar", "ch3_scale_trend",
                "ch3_scale_choice", "ch3_spread_n", "ch3_epoch_threshold", "ch3_eval_every",
                "ch3_noise", "ch3_soft_gamma", "ch3_head_batches"):
        assert f"`{key}" in text, key
