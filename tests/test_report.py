"""The book's generated tables: the verdict table of the front page and ledger, and the methods
page's hyper-parameter, profile and run tables."""

import dataclasses
from pathlib import Path

import pytest

from modgrow import report
from modgrow.experiments import CHAPTERS, REGISTRY
from modgrow.profiles import PAPER, QUICK
from modgrow.training import NONMODULAR_DEFAULTS
from modgrow.verdicts import WORDS

ROOT = Path(__file__).resolve().parent.parent

ROWS = [
    {"chapter": "1 task", "claim": "a | b", "verdict": "holds"},
    {"chapter": "3 curriculum", "claim": "c", "verdict": "fails"},
    {"chapter": "3 curriculum", "claim": "d", "verdict": "not distinguishable"},
    {"chapter": "3 curriculum (fidelity)", "claim": "e", "verdict": "suggestive"},
]


def test_claims_are_numbered_per_chapter():
    ids = [r["id"] for r in report.number_claims(ROWS)]
    assert ids == ["1.1", "3.1", "3.2", "F.1"]


def test_every_verdict_word_has_its_own_badge_colour():
    assert set(report.BADGE_COLOURS) == set(WORDS) == set(report.VERDICT_MEANINGS)
    assert len(set(report.BADGE_COLOURS.values())) == len(WORDS)
    b = report.badge("holds partly")
    assert b.startswith("<span") and ">holds partly</span>" in b
    assert report.BADGE_COLOURS["holds partly"] in b and "http" not in b


def test_verdict_table_has_badges_links_and_ids():
    md = report.verdict_table(ROWS, {"3 curriculum": "03_curriculum.ipynb"}).markdown()
    lines = md.splitlines()
    assert lines[0] == "| id | claim | verdict | chapter |"
    assert len(lines) == 2 + len(ROWS)
    assert "| 1.1 | a / b |" in lines[2]                    # a pipe cannot break the table
    assert "[3 curriculum](03_curriculum.ipynb)" in lines[3]
    assert lines[2].endswith("| 1 task |")                 # no page, no link
    assert report.badge("fails") in lines[3]
    # ids already present are kept
    rows = [{**r, "id": "X"} for r in ROWS]
    assert all("| X |" in l for l in report.verdict_table(rows).markdown().splitlines()[2:])


def test_verdict_counts_include_every_word():
    counts = report.verdict_counts(ROWS)
    assert list(counts) == list(WORDS) and sum(counts.values()) == len(ROWS)
    assert counts["not tested"] == 0 and counts["fails"] == 1


def test_every_chapter_of_the_ledger_links_to_a_page_of_the_book():
    chapters = [m.CHAPTER for m in CHAPTERS]
    links = report.chapter_links(chapters, ROOT / "_toc.yml", ROOT / "book")
    assert set(links) == set(chapters)
    for ch, rel in links.items():
        assert (ROOT / "book" / rel).is_file(), ch
    assert links["3 curriculum (fidelity)"] == "fidelity.ipynb"
    assert links["3 curriculum"] == "03_curriculum.ipynb"


def test_chapter_key_rejects_nonsense():
    assert report.chapter_key("6 timescales") == ("6", "timescales", None)
    with pytest.raises(ValueError):
        report.chapter_key("3 curriculum (a b)")


def test_hyperparameter_table_covers_every_field_and_architecture():
    from dataclasses import fields

    from modgrow.training import GrowthConfig

    t = report.hyperparameter_table({"modular": {},
                                     "non-modular": {"architecture": "nonmodular",
                                                     **NONMODULAR_DEFAULTS}})
    assert [r["field"] for r in t.rows] == [f.name for f in fields(GrowthConfig)]
    by = {r["field"]: r for r in t.rows}
    assert by["lr"]["modular"] == GrowthConfig().lr
    assert by["lr"]["non-modular"] == NONMODULAR_DEFAULTS["lr"]
    assert by["gamma"]["non-modular"] == "n/a"
    assert by["max_total_steps"]["modular"] == "none"
    assert all(r["meaning"] for r in t.rows)
    checked = report.hyperparameter_table({"ours": {}, "check": {"criterion": "check"}})
    by = {r["field"]: r for r in checked.rows}
    assert by["confirm_batches"]["ours"] == GrowthConfig().confirm_batches
    assert by["confirm_batches"]["check"] == by["confirm_margin"]["check"] == "n/a"


def test_runs_and_profile_tables():
    t = report.runs_table(REGISTRY.values(), PAPER)
    assert [r["experiment"] for r in t.rows] == list(REGISTRY)
    assert all(r["runs"] == len(REGISTRY[r["experiment"]].configs(PAPER)) for r in t.rows)
    p = report.profile_table(PAPER, QUICK)
    assert p.columns == ["field", "paper", "quick"]
    assert {r["field"] for r in p.rows} >= {"seeds", "module_sizes", "stage_budget"}


def test_words_lists_numbers_as_prose():
    assert report.words([20, 50, 100, 150]) == "20, 50, 100 and 150"
    assert report.words([5]) == "5"
    assert report.words([10_000, 50_000]) == "10,000 and 50,000"
    with pytest.raises(ValueError, match="nothing to list"):
        report.words([])


def test_protocol_glue_gives_each_page_key_its_quantity():
    keys = {"x_seeds": "seeds", "x_sizes": "module_sizes", "x_budget": "stage_budget",
            "x_lr": "lr_nonmodular", "x_n0m": "n0_modules"}
    assert report.protocol_glue(PAPER, keys) == {
        "x_seeds": len(PAPER.seeds), "x_sizes": report.words(PAPER.module_sizes),
        "x_budget": "10,000", "x_lr": NONMODULAR_DEFAULTS["lr"], "x_n0m": PAPER.n0 - 1}
    assert list(report.protocol_glue(QUICK, keys)) == list(keys)  # the page's order and keys
    with pytest.raises(ValueError, match="unknown quantities.*'seed'"):
        report.protocol_glue(PAPER, {"x": "seed"})


def test_every_protocol_quantity_has_a_value_in_every_profile():
    for p in (PAPER, QUICK):
        values = report.protocol_glue(p, {q: q for q in report.PROTOCOL})
        assert all(v is not None for v in values.values()), p.name


@pytest.mark.parametrize("profile", [PAPER, QUICK, dataclasses.replace(PAPER, long_budget_max_size=0)],
                         ids=["paper", "quick", "paper-without-long"])
def test_the_long_budget_sentences_follow_the_profiles_scope(profile):
    """A profile that runs no long-budget baseline (out of scope) says so and draws no open
    squares; one that runs some names their sizes in the sentence, caption and legend."""
    keys = {"s": "long_budget_sentence", "c": "long_budget_caption", "l": "long_budget_legend"}
    text = report.protocol_glue(profile, keys)
    if "baseline-long" in profile.out_of_scope:
        assert "was not run" in text["s"] and text["c"] == text["l"] == ""
    else:
        sizes = sorted({c.module_size for c in REGISTRY["baseline-long"].configs(profile)})
        assert sizes and f"of {report.words(sizes)} neurons" in text["s"]
        last = {c.max_n for c in REGISTRY["baseline-long"].configs(profile)}
        assert last == {profile.long_budget_max_n} and f"to N = {last.pop()} " in text["s"]
        assert text["c"].startswith(" Open squares") and text["l"].startswith("; open with")


def test_runs_per_group_gives_a_count_or_a_range():
    assert report.runs_per_group({10: [1, 2, 3], 20: [4, 5, 6]}) == 3
    assert report.runs_per_group({10: [1, 2, 3], 20: [4, 5, 6, 7, 8]}) == "3–5"


def test_stored_training_counts_each_run_once_and_marks_readers(monkeypatch):
    """An experiment's cost is the recorded wall time of its own stored runs; runs listed again
    by a later experiment (an analysis reading them) are not counted twice."""
    from types import SimpleNamespace

    from modgrow import report, store
    from modgrow.experiments.spec import Experiment
    from modgrow.training import GrowthConfig

    a, b, c = (GrowthConfig(seed=s, max_n=3) for s in (0, 1, 2))
    walls = {0: 3600.0, 1: 1800.0}   # seed 2 is not stored
    monkeypatch.setattr(store, "load_run", lambda cfg: SimpleNamespace(
        history={"wall_seconds": walls[cfg.seed]}) if cfg.seed in walls else None)
    exps = [Experiment("train", "ch", "trains", lambda p: [a, b, c]),
            Experiment("reader", "ch", "reads", lambda p: [a, b]),
            Experiment("none", "ch", "nothing at this scale", lambda p: [])]
    costs = report.stored_training(exps, profile=None)
    assert costs["train"] == {"runs": 3, "stored": 2, "seconds": 5400.0, "reads_only": False,
                              "shared": {}}
    assert costs["reader"]["reads_only"] and costs["reader"]["seconds"] == 0
    assert costs["reader"]["shared"] == {"train": 2}
    box = report.rerun_box("x", exps, costs)
    assert "compute train`: trains; 2 of 3 runs stored, 1.5 h of recorded training\n" in box
    assert "compute reader`: reads; it reads the runs of `train`\n" in box
    assert "compute none`: nothing at this scale; no runs at this scale" in box
    # an experiment sharing some of its configs with an earlier one counts the rest, and says so
    d = GrowthConfig(seed=3, max_n=3)
    mixed = Experiment("mixed", "ch", "some shared", lambda p: [a, d])
    cost = report.stored_training(exps[:1] + [mixed], profile=None)["mixed"]
    assert cost["runs"] == 1 and cost["shared"] == {"train": 1} and not cost["reads_only"]
    assert ("some shared; 0 of 1 runs stored, 0 min of recorded training; 1 more of its runs are "
            "counted under `train`, which lists them first") in report.rerun_box(
                "x", [mixed], {"mixed": cost})


def test_stored_training_names_the_prefixes_of_runs_still_going(monkeypatch):
    """A long run not finished yet counts as not stored; the prefix the book reads meanwhile is
    named with the N it reached and its recorded time, and drops out once the run is stored."""
    from types import SimpleNamespace

    from modgrow import report, store
    from modgrow.experiments.spec import Experiment
    from modgrow.training import GrowthConfig

    targets = [GrowthConfig(seed=s, max_n=200) for s in (1, 4)]
    prefixes = [GrowthConfig(seed=1, max_n=158), GrowthConfig(seed=4, max_n=83)]
    stored = {(1, 158): 9720.0, (4, 83): 3960.0}

    def load(cfg):
        wall = stored.get((cfg.seed, cfg.max_n))
        return None if wall is None else SimpleNamespace(
            history={"wall_seconds": wall}, max_n_reached=cfg.max_n)
    monkeypatch.setattr(store, "load_run", load)
    exp = Experiment("far", "ch", "grows far", lambda p: targets, partial=lambda p: prefixes)
    cost = report.stored_training([exp], profile=None)["far"]
    assert cost["stored"] == 0 and cost["partial"] == {"ns": [158, 83], "seconds": 13680.0}
    assert ("0 of 2 runs stored, 0 min of recorded training; still going: 2 stored up to the N "
            "reached so far (N = 158, 83; 3.8 h)") in report.rerun_box("x", [exp], {"far": cost})
    stored[(1, 200)] = 20000.0   # seed 1 finished: only seed 4's prefix is still going
    cost = report.stored_training([exp], profile=None)["far"]
    assert cost["stored"] == 1 and cost["partial"]["ns"] == [83]


def test_long_budget_text_counts_how_the_longer_runs_ended():
    hists = {20: [{"stop": "stage_budget"}, {"stop": "stage_budget"}, {"stop": "total_budget"}]}
    text = report.long_budget_text(PAPER, "fails", "20 neurons: 3.0 vs 9.8", hists)
    assert "claim 1a at that budget: fails" in text and "20 neurons: 3.0 vs 9.8" in text
    assert "Of these 3 longer runs, 2 stopped on a stage not solved within the 10,000-step" in text
    assert text.endswith("and 1 on the whole-run budget (for those, the highest N is a lower bound).")
    assert "lower bound" in report.long_budget_text(PAPER, "not tested", "", {})
    hists[100] = [{"stop": "complete"}]
    text = report.long_budget_text(PAPER, "fails", "x", hists)
    assert text.endswith(", 1 on the whole-run budget and 1 reached the curriculum's last N"
                         ", N = 60 (for those, the highest N is a lower bound).")
    plateaus = {20: [{"stop": "stage_budget"}]}
    assert report.long_budget_text(PAPER, "fails", "x", plateaus).endswith(
        "(whether a longer stage would solve it was not tested: not shown to be a ceiling) and 0 "
        "on the whole-run budget.")


def test_run_tables_show_headers_in_words():
    rows = [{"module_size": 50, "max_n": 13, "total_steps": 10_000}]
    md = report.table(rows, None, report.RUN_LABELS_NONMODULAR).markdown()
    assert md.splitlines()[0] == "| neurons | highest N | total steps |"
    assert "10,000" in md.splitlines()[2]
    assert report.table(rows, ["max_n"], report.RUN_LABELS).markdown().startswith("| highest N |")
    assert report.table(rows).markdown().startswith("| module_size |")  # no labels: the keys


def test_experiment_summaries_name_the_profiles_values():
    """A summary's {field} names become the profile's values (the rerun box and the CLI's help
    show the sizes a profile runs); every registered summary formats in every profile, and a
    name that is not a profile field is a clear error."""
    import dataclasses

    import pytest

    from modgrow import profiles, report
    from modgrow.experiments import REGISTRY
    from modgrow.experiments.spec import Experiment

    for p in profiles.PROFILES.values():
        for e in REGISTRY.values():
            assert "{" not in e.describe(p), e.name
    long = REGISTRY["baseline-long"]
    wide = dataclasses.replace(profiles.PAPER, long_budget_max_size=200)
    assert "up to 150 neurons" in long.describe(profiles.PAPER)
    assert "up to 20 neurons" in long.describe(profiles.QUICK)
    assert "up to 200 neurons" in report.rerun_box("x", [long], {}, wide)
    with pytest.raises(ValueError, match="'no_such_field'"):
        Experiment("bad", "ch", "up to {no_such_field}", lambda p: []).describe(profiles.PAPER)
