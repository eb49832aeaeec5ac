"""Chapter 7 (beyond parity): the DMS and gated experiments' configs, their equal-parameter
sizes, their registration, and verdicts and tables that read stored runs only."""

import dataclasses

import pytest
import torch

from pathlib import Path

from modgrow import compare, ledger, report, store
from modgrow.experiments import CHAPTERS, DRAFTS, REGISTRY, baseline, beyond, compute, curriculum
from modgrow.gated import parameter_count
from modgrow.profiles import PAPER, QUICK
from modgrow.training import GrowthConfig, network_at_stage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def quick_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MODGROW_NO_COMPUTE", raising=False)
    return tmp_path / "results"


def test_registered_as_a_chapter_with_its_page_in_the_book():
    assert {"dms-growth", "dms-baseline", "gated"} <= set(REGISTRY)
    assert beyond in CHAPTERS and beyond not in DRAFTS
    assert all(REGISTRY[n].chapter == "7 beyond" for n in ("dms-growth", "dms-baseline", "gated"))
    assert ledger.CHAPTERS is CHAPTERS
    assert (ROOT / "book" / "07_beyond.ipynb").exists()
    docs = report.toc_docs(ROOT / "_toc.yml")
    assert report.chapter_pages({beyond.CHAPTER}, docs) == {beyond.CHAPTER: "book/07_beyond"}


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_dms_configs(profile):
    grow, base = beyond.dms_growth_configs(profile), beyond.dms_baseline_configs(profile)
    for runs, arch in ((grow, "modular"), (base, "nonmodular")):
        assert [c.seed for c in runs] == list(profile.seeds)
        assert all(c.architecture == arch and c.task == "dms" and c.bit_prob == 0.5
                   and c.max_n == profile.dms_max_n for c in runs)
    assert all(c.module_size == 10 and c.max_total_steps is None for c in grow)
    ch4 = baseline.baseline_configs(profile)[0]
    assert all(c.lr == ch4.lr and c.max_total_steps == ch4.max_total_steps
               and c.max_steps_per_stage == ch4.max_steps_per_stage for c in base)
    # equal parameters: the largest population within the modular network's, counted on networks
    n = profile.dms_max_n
    budget = compare.parameters_at_stage(grow[0], n)["total"]
    size = base[0].module_size

    def leaky(h):
        cfg = GrowthConfig(architecture="nonmodular", module_size=h, max_n=n)
        return compare.parameters_at_stage(cfg, n)["total"]
    assert leaky(size) <= budget < leaky(size + 1)


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_gated_configs_match_their_budgets_and_chapter_4s_protocol(profile):
    n = profile.baseline_max_n
    budgets = beyond.gated_budgets(profile)
    ch4 = {c.module_size: c for c in baseline.baseline_configs(profile)}
    # the budgets are the modular network's and chapter 4's networks' own counts at N = n
    assert budgets["modular M_m=10"] == compare.parameters_at_stage(
        GrowthConfig(module_size=10, max_n=n), n)["total"]
    for h, cfg in ch4.items():
        assert budgets[f"non-modular {h}"] == compare.parameters_at_stage(cfg, n)["total"]
    cfgs = beyond.gated_configs(profile)
    for cell, sizes in beyond.gated_sizes(profile).items():
        for label, h in sizes.items():
            heads = beyond.heads_at(n)
            assert parameter_count(cell, h, heads) <= budgets[label] \
                < parameter_count(cell, h + 1, heads)
            net = network_at_stage(GrowthConfig(architecture=cell, module_size=h, max_n=n), n,
                                   torch.Generator())
            assert sum(p.numel() for p in net.parameters()) == parameter_count(cell, h, heads)
            mine = [c for c in cfgs if c.architecture == cell and c.module_size == h]
            trained = h in {sizes[lb] for lb in profile.gated_budgets}
            assert [c.seed for c in mine] == (list(profile.seeds) if trained else [])
    some = next(iter(ch4.values()))
    assert all(c.optimizer == "adam" and c.lr == 1e-3 and c.clip == 2.0 and c.task == "parity"
               and c.max_n == n and c.max_total_steps == some.max_total_steps
               and c.max_steps_per_stage == some.max_steps_per_stage for c in cfgs)
    keys = [store.run_path(c).name for c in cfgs]
    assert len(set(keys)) == len(keys)


def test_verdicts_read_stored_runs_only(quick_store, monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    assert beyond.verdicts(QUICK) == []  # nothing stored, and nothing computed
    monkeypatch.delenv("MODGROW_NO_COMPUTE")
    compute("dms-growth", QUICK, progress=False)
    assert beyond.dms_verdict(QUICK) == []  # the baseline is still missing
    compute("dms-baseline", QUICK, progress=False)
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    rows = beyond.verdicts(QUICK)
    assert len(rows) == 1 and rows[0]["claim"].startswith("on DMS")
    assert rows[0]["verdict"] in ("holds", "suggestive", "not distinguishable", "fails",
                                  "not tested")
    assert f"{beyond.dms_baseline_size(QUICK)} non-modular neurons" in rows[0]["this book"]
    # the task x architecture table holds only groups whose runs are all stored
    table = beyond.groups(QUICK)
    assert [(r["task"], r["network"].split(",")[0]) for r in table] == [
        ("DMS", "modular"), ("DMS", "non-modular")]
    for r in table:
        assert r["seeds"] == len(QUICK.seeds) == len(r["reached"])
        assert r["max N per seed"] == " ".join(map(str, r["reached"]))
        assert 0 < r["ms per step"] and 0 <= r["stopped"] <= r["seeds"]


def test_profiles_refuse_unknown_gated_budgets():
    with pytest.raises(ValueError, match="gated_budgets must be among"):
        dataclasses.replace(QUICK, gated_budgets=("non-modular 999",))


def test_a_difference_against_capped_modular_runs_is_called_a_lower_bound(monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    (dms,) = beyond.dms_verdict(PAPER)  # the stored DMS runs: every modular seed reached N = 30
    assert "every modular run reached the last N tried, so the difference is a lower bound" \
        in dms["this book"]
    for row in beyond.gated_verdicts(PAPER):  # modular parity runs within the budget: not capped
        assert "so the difference is a lower bound" not in row["this book"]


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_module_size_runs_are_chapter_3s_protocol_at_new_sizes(profile):
    extra = beyond.module_size_configs(profile)
    ref = curriculum.growth_configs(profile)[0]
    assert [(c.module_size, c.seed) for c in extra] == [
        (m, s) for m in profile.extra_module_sizes for s in profile.seeds]
    for c in extra:
        assert dataclasses.replace(c, module_size=ref.module_size, seed=ref.seed,
                                   max_n=ref.max_n) == ref
        assert c.max_n == max(n for _, n in profile.growth_max_n)
        assert c.module_size not in profile.module_sizes
    with pytest.raises(ValueError, match="already chapter 3's module sizes"):
        beyond.module_size_configs(dataclasses.replace(profile, extra_module_sizes=(10,)))


def test_best_module_size_is_named_only_when_its_interval_clears_the_others():
    rows = [{"module size": 5, "s": (900, 700, 1100)}, {"module size": 10, "s": (300, 250, 350)},
            {"module size": 30, "s": (400, 340, 460)}]
    assert beyond.best_by(rows, "s", lower=True) == "none within the intervals"  # 350 > 340
    rows[2]["s"] = (500, 380, 600)
    assert beyond.best_by(rows, "s", lower=True) == "M_m = 10"
    assert beyond.best_by(rows, "s", lower=False) == "M_m = 5"  # 700 > 600
    rows[2]["s"] = (800, 650, 950)
    assert beyond.best_by(rows, "s", lower=False) == "none within the intervals"
    rows[1]["s"] = (30, float("nan"), float("nan"))  # one seed: no interval, no winner
    assert beyond.best_by(rows, "s", lower=True) == "none within the intervals"
    shown = beyond.module_size_table([{"module size": 5, "max N": (29.0, 27.5, 30.0),
                                       "steps per N": (812.4, 700.0, 950.2),
                                       "eps50": {"networks": 4, "eps50": [1, 2, 3, 4],
                                                 "median": (2.5, 1.0, 4.0)}}])
    assert shown[0]["max N"] == "29.0 [27.5, 30.0]" and shown[0]["steps per N"] == "812 [700, 950]"
    assert shown[0]["eps50 (networks)"] == "2.50 [1.00, 4.00] (4)" and "eps50" not in shown[0]


def test_module_eps50_is_chapter_5s_sweep_of_the_networks_that_solved_perturb_n(quick_store):
    from modgrow.experiments import perturbations
    runs = [store.load_or_run(c, progress=False) for c in beyond.module_size_configs(QUICK)]
    e = beyond.module_eps50(runs, QUICK)
    solved = [r for r in runs if perturbations.solved_heads(r) >= QUICK.perturb_n - 1]
    assert e["networks"] == len(solved) and len(e["eps50"]) == len(solved)
    assert e["eps50"] == [perturbations.sweep(r, QUICK)["groups"]["hidden"]["stream"]["eps50"]
                          for r in solved]
    assert beyond.analyse_module_sizes(QUICK) == len(solved)
    none = beyond.module_eps50(runs, dataclasses.replace(QUICK, perturb_n=99))
    assert none["networks"] == 0 and all(x != x for x in none["median"])


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_noise_runs_are_chapter_3s_ablation_with_only_sigma_changed(profile):
    by_sigma = beyond.noise_configs(profile)
    assert list(by_sigma) == list(profile.noise_sigmas)
    ablation = curriculum.ablation_configs(profile)["duplicate, hard freeze"]
    assert by_sigma[beyond.DEFAULT_NOISE] == ablation  # the ablation's own runs, same store keys
    for sigma, cfgs in by_sigma.items():
        assert [c.seed for c in cfgs] == list(profile.seeds)
        assert all(c.noise == sigma and c.duplicate for c in cfgs)
        assert [dataclasses.replace(c, noise=beyond.DEFAULT_NOISE) for c in cfgs] == ablation
    groups = beyond.noise_groups(profile)
    assert list(groups)[-2:] == [beyond.UNTRAINED_COPY, "random init"]
    # the authors' off-by-one: the fidelity page's runs (same store keys), only the source differs
    from modgrow.experiments import fidelity
    from modgrow.store import run_path
    untrained = groups[beyond.UNTRAINED_COPY]
    assert [run_path(c).name for c in untrained] == \
        [run_path(c).name for c in fidelity.variant_configs(profile)["copy untrained"]]
    assert [dataclasses.replace(c, duplicate_source="trained") for c in untrained] == ablation
    assert "duplication-noise" in REGISTRY
    with pytest.raises(ValueError, match="must include chapter 3's sigma"):
        beyond.noise_configs(dataclasses.replace(profile, noise_sigmas=(0.0, 0.5)))


def test_noise_rows_pair_each_setting_with_the_default_sigma(quick_store, monkeypatch):
    assert beyond.noise_rows(QUICK) == []  # nothing stored: no rows, nothing computed
    assert not list(quick_store.glob("*/*/result.json"))
    for cfgs in beyond.noise_groups(QUICK).values():
        for c in cfgs:
            store.load_or_run(c, progress=False)
    rows = {r["initialisation"]: r for r in beyond.noise_rows(QUICK)}
    assert list(rows) == list(beyond.noise_groups(QUICK))
    ref = rows[f"copy, σ = {beyond.DEFAULT_NOISE:g}"]
    assert ref["ratio"]["ratio"] == pytest.approx(1.0) and ref["pairs"] == len(QUICK.seeds)
    for label, r in rows.items():
        assert r["pairs"] == len(QUICK.seeds)  # every quick run reaches its last N
        run = store.load_run(beyond.noise_groups(QUICK)[label][0])
        assert r["total steps"][0] == pytest.approx(run.total_steps)
        assert r["ratio"]["ratio"] == pytest.approx(run.total_steps / ref["total steps"][0])
    shown = beyond.noise_table(list(rows.values()))
    assert all(set(s) == set(shown[0]) for s in shown)


def _ratio(lo, hi, up=0, down=0, p=1.0):
    return {"ratio": (lo + hi) / 2, "low": lo, "high": hi, "a_larger": up, "b_larger": down,
            "sign_p": p, "n": up + down}


def test_noise_answer_sorts_settings_by_their_ratio_interval():
    def row(label, lo, hi, up=0, down=0, p=1.0):
        return {"initialisation": label, "ratio": _ratio(lo, hi, up, down, p)}
    rows = [row("copy, σ = 0.05", 1, 1), row("copy, σ = 0", 1.1, 2.0, 5, 0, 0.0625),
            row("copy, σ = 0.5", 0.5, 0.9, 0, 5, 0.0625), row("random init", 0.9, 1.3, 3, 2),
            {"initialisation": "copy, σ = 0.2"}]  # no pairs: left out
    rows.insert(1, row("copy, σ = 0.01", 0.7, 1.6, 2, 3))
    assert beyond.noise_answer(rows) == {
        "slower": "copy, σ = 0 (5 of 5 pairs slower, sign test p = 0.0625)",
        "faster": "copy, σ = 0.5 (5 of 5 pairs faster, sign test p = 0.0625)",
        "suggestive": "none", "not distinguishable": "copy, σ = 0.01; random init",
        "nearest": "random init, ratio 1.10 [0.90, 1.30]"}  # 0.1 from 1, against 0.3
    assert beyond.noise_answer(rows[:1]) == {"slower": "none", "faster": "none",
                                             "suggestive": "none",
                                             "not distinguishable": "none", "nearest": "none"}


def test_leaky_reference_is_chapter_4s_network():
    assert beyond.leaky_sizes(PAPER) == [h for h in PAPER.baseline_sizes
                                         if f"non-modular {h}" in PAPER.gated_budgets]
    ch4 = {(c.module_size, c.seed): c for c in baseline.baseline_configs(PAPER)}
    leaky = beyond.leaky_configs(PAPER)
    assert len(leaky) == len(beyond.leaky_sizes(PAPER)) * len(PAPER.seeds) > 0
    for c in leaky:
        assert c.confirm_margin == PAPER.growth_confirm_margin > 0
        assert c == ch4[(c.module_size, c.seed)]
    assert [c.module_size for c in beyond.leaky_configs(QUICK)] == [20]  # quick: that budget only
    assert "gated-leaky" in REGISTRY


def test_every_gated_budget_has_its_verdict_rows_and_gated_meets_leaky(monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    rows = beyond.gated_verdicts(PAPER)  # the stored runs
    labels = beyond.gated_labels(PAPER)
    assert len(rows) == len(labels) * len(beyond.gated_sizes(PAPER))
    for label in labels:
        assert sum(f"'{label}'" in r["this book"] for r in rows) == len(beyond.gated_sizes(PAPER))
    # each claim names the step budget (from the profile) and whose parameters set its budget
    claims = [r["claim"] for r in rows + beyond.dms_verdict(PAPER)]
    assert len(set(claims)) == len(claims)
    assert all(f"within {PAPER.baseline_total_steps:,} SGD steps" in c for c in claims)
    # the stored baselines: every one stopped on the whole-run budget, and the rows say so
    hs = beyond.stored_histories(beyond.gated_configs(PAPER) + beyond.dms_baseline_configs(PAPER))
    assert beyond.baseline_budget_stops(PAPER) == (len(hs), len(hs))
    assert all(f"5 of 5 {c} runs stopped on the whole-run budget" in r["this book"]
               for r in rows for c in ("GRU", "LSTM") if f" {c} units" in r["this book"])
    against = beyond.gated_against_leaky(PAPER)
    assert {(r["cell"], r["leaky neurons"]) for r in against} == {
        (cell.upper(), h) for cell in beyond.gated_sizes(PAPER) for h in beyond.leaky_sizes(PAPER)}
    networks = [g["network"] for g in beyond.groups(PAPER)]
    assert all(f"non-modular, {h} neurons" in networks for h in beyond.leaky_sizes(PAPER))


# ----- curriculum order and growth far past N = 30 (issue #12, items 3 and 4) -----------------

@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_order_runs_are_chapter_3s_ablation_with_only_the_order_changed(profile):
    by_order = beyond.order_configs(profile)
    assert list(by_order) == ["sequential", *profile.orders]
    ablation = curriculum.ablation_configs(profile)["duplicate, hard freeze"]
    assert by_order["sequential"] == ablation  # the ablation's own runs, same store keys
    for order, cfgs in by_order.items():
        assert [c.order for c in cfgs] == [order] * len(profile.seeds)
        assert [dataclasses.replace(c, order="sequential") for c in cfgs] == ablation
    registered = REGISTRY["curriculum-order"].configs(profile)
    assert registered == [c for o in profile.orders for c in by_order[o]]
    assert len({store.run_path(c) for cs in by_order.values() for c in cs}) == \
        len(profile.seeds) * (1 + len(profile.orders))


def test_order_rows_pair_each_order_with_the_sequential_one(quick_store):
    assert beyond.order_rows(QUICK) == [] and beyond.order_heads(QUICK) == []
    assert beyond.order_stops(QUICK) == ""
    for cfgs in beyond.order_groups(QUICK).values():
        for c in cfgs:
            store.load_or_run(c, progress=False)
    rows = {r["order"]: r for r in beyond.order_rows(QUICK)}
    assert list(rows) == ["sequential", "every second N", "shuffled after N = 2"]
    assert rows["sequential"]["ratio"]["ratio"] == pytest.approx(1.0)
    step2 = store.load_run(beyond.order_configs(QUICK)["step2"][0])
    assert rows["every second N"]["N values solved per seed"] == f"{len(step2.stages)}/1"
    assert rows["every second N"]["total steps"][0] == pytest.approx(step2.total_steps)
    heads = {h["order"]: h for h in beyond.order_heads(QUICK)}
    assert heads["every second N"]["heads"] == 1 and heads["sequential"]["heads"] == 2
    shown = beyond.order_table(list(rows.values()))
    assert "ratio to sequential [95 % CI]" in shown[0]
    assert beyond.order_stops(QUICK) == ("sequential: 0 of 1 runs; every second N: 0 of 1 runs; "
                                         "shuffled after N = 2: 0 of 1 runs")


def test_order_stops_name_the_step_each_stopped_run_failed(monkeypatch):
    cfg = dataclasses.replace(beyond.order_configs(QUICK)["shuffled"][0], max_n=12)
    stopped = store.StoredRun(cfg, {"status": "stopped", "stages": [{"n": 2}]}, Path("."))
    done = store.StoredRun(cfg, {"status": "complete", "stages": [{"n": 2}]}, Path("."))
    monkeypatch.setattr(beyond, "_stored_groups",
                        lambda groups: {"shuffled": [stopped, done]} if groups else None)
    from modgrow.training import curriculum_ns
    nxt = curriculum_ns(cfg)[1]
    assert beyond.order_stops(QUICK) == f"shuffled: 1 of 2 runs (seed 0: N = 2 → {nxt})"


def test_paired_answer_reads_the_interval_against_one():
    def row(label, lo, hi, up=0, down=0, p=1.0):
        return {"order": label, "ratio": _ratio(lo, hi, up, down, p)}
    rows = [row("sequential", 1, 1), row("every second N", 0.4, 0.8, 1, 5, 0.22),
            row("shuffled after N = 2", 0.95, 3.0, 3, 2)]
    assert beyond.paired_answer(rows, "order", "sequential") == {
        "slower": "none", "faster": "every second N (5 of 6 pairs faster, sign test p = 0.22)",
        "suggestive": "none", "not distinguishable": "shuffled after N = 2",
        "nearest": "shuffled after N = 2, ratio 1.98 [0.95, 3.00]"}
    # an interval that clears 1 on four pairs (sign test p >= 0.125) or with 3 of 5 agreeing
    # names no direction: the book's rule needs 5 pairs and 80 % of them agreeing
    few = [row("sequential", 1, 1), row("every second N", 2.0, 7.5, 4, 0, 0.125),
           row("shuffled after N = 2", 1.1, 1.9, 3, 2)]
    answer = beyond.paired_answer(few, "order", "sequential")
    assert answer["slower"] == "none" and answer["not distinguishable"] == "none"
    assert answer["suggestive"] == (
        "every second N, slower (4 of 4 pairs slower, sign test p = 0.125; the rule needs 5 pairs "
        "with 80 % agreeing); shuffled after N = 2, slower (3 of 5 pairs slower, sign test "
        "p = 1; the rule needs 5 pairs with 80 % agreeing)")


@pytest.mark.parametrize("profile", [PAPER, QUICK], ids=lambda p: p.name)
def test_far_runs_are_chapter_3s_growth_of_their_seeds_on_the_fast_engine(profile):
    cfgs = beyond.far_configs(profile)
    assert [(c.seed, c.max_n) for c in cfgs] == list(profile.far_runs)
    assert cfgs[0].seed == beyond.FAR_SEED
    for cfg in cfgs:
        assert cfg.max_n <= profile.far_target_n and cfg.prefix_pool > 1 and cfg.manual_bptt
        grown = [c for c in curriculum.growth_configs(profile)
                 if c.module_size == beyond.MODULE_SIZE and c.seed == cfg.seed]
        if profile is PAPER:
            (ch3,) = grown
            assert dataclasses.replace(cfg, max_n=ch3.max_n, prefix_pool=1,
                                       manual_bptt=False) == ch3
    if profile is PAPER:
        assert profile.far_target_n == 200
    targets = REGISTRY["scaling-far"].configs(profile)
    assert targets == beyond.far_target_configs(profile)
    assert [dataclasses.replace(t, max_n=c.max_n) for t, c in zip(targets, cfgs)] == cfgs
    assert all(t.max_n == profile.far_target_n for t in targets)
    note = beyond.far_note(profile)
    if all(n == profile.far_target_n for _, n in profile.far_runs):
        assert note.startswith(f"The runs were grown to N = {profile.far_target_n}")
    else:
        assert "stopped on their way to" in note
    t = profile.far_target_n
    mixed = beyond.far_note(dataclasses.replace(profile, far_runs=((1, t), (4, t // 2))))
    assert mixed.startswith(f"Seed 1 was grown to N = {t}; the other runs were stopped on their "
                            f"way to N = {t}") and f"(seed 4: N = {t // 2})" in mixed
    short = beyond.far_note(dataclasses.replace(profile, far_runs=((1, t - 1),)))
    assert short.startswith(f"The runs were stopped on their way to N = {t}")
    assert beyond.far_note(dataclasses.replace(profile, far_runs=((1, t), (4, t)))) == \
        f"The runs were grown to N = {t} (seed 1, seed 4)."
    with pytest.raises(ValueError, match="far_runs needs"):
        dataclasses.replace(profile, far_runs=((1, profile.far_target_n + 1),))


def test_far_seed_is_chapter_3s_fastest_module_size_10_seed():
    medians = beyond.growth_seed_medians(PAPER)  # the committed runs
    assert medians is not None and min(medians, key=medians.get) == beyond.FAR_SEED


def _far_run(steps, seconds, checks=None, rejected=None):
    """A stored-run stand-in: stages N = 2, 3, ... with these steps and wall seconds."""
    cfg = GrowthConfig(max_n=len(steps) + 1)
    checks = checks or [s // cfg.eval_every for s in steps]
    rejected = rejected or [0] * len(steps)
    stages = [{"n": 2 + i, "steps": st, "seconds": sec, "checks": ch, "rejected": rj,
               "accuracy": {}}
              for i, (st, sec, ch, rj) in enumerate(zip(steps, seconds, checks, rejected))]
    return store.StoredRun(cfg, {"stages": stages, "status": "complete",
                                 "max_n_reached": len(steps) + 1}, Path("."))


def test_far_summary_counts_batches_finds_the_rise_and_fits_the_cost():
    n_stages = 40
    ns = [2 + i for i in range(n_stages)]
    steps = [100] * 20 + [1000] * 20  # flat, then ten times more from N = 22 on
    cfg = GrowthConfig()
    per_stage = [st + st // 50 * cfg.eval_batches + cfg.confirm_batches for st in steps]
    # wall time per batch proportional to the FLOP count's work per batch (about N^2)
    work = beyond.work_per_batch(_far_run(steps, [1.0] * n_stages).stages, cfg)
    seconds = [1e-12 * w * b for w, b in zip(work, per_stage)]
    s = beyond.far_summary(_far_run(steps, seconds))
    assert s["max N"] == 41 and s["total steps"] == sum(steps)
    assert beyond.stage_batches(_far_run(steps, seconds).stages[0], cfg) == per_stage[0]
    assert s["seconds per batch"] == pytest.approx([1e-12 * w for w in work[1:]])
    assert s["work fit"]["exponent"] == pytest.approx(2.0, abs=0.1)  # modules x length
    assert s["fit"]["exponent"] == pytest.approx(s["work fit"]["exponent"]) \
        and s["fit from N"] == 20
    assert [b["stages"] for b in s["bins"]] == [10, 10, 10, 9]
    assert s["rise"] == "23-32"  # stages above N = 2 in quarters: 3-12, 13-22, 23-32, 33-41
    words = beyond.far_answer(s)
    assert words["steps"].startswith("steps per stage rise") and "consistent" in words["cost"]
    flat = beyond.far_summary(_far_run([100] * n_stages, [0.001 * n ** 1.5 for n in ns]))
    assert flat["rise"] == "none" and flat["touch"] == "none" and flat["fit"]["high"] < 1.8
    assert "do not rise" in beyond.far_answer(flat)["steps"]
    # a range whose interval starts exactly where the first one's ends sits on the line
    edge = beyond.far_summary(_far_run([50, 100] * 10 + [100, 150] * 10, [1.0] * 40))
    assert edge["rise"] == "none" and edge["touch"] != "none"
    assert "on the line" in beyond.far_answer(edge)["steps"]
    assert beyond.far_answer(flat)["cost"].startswith(
        f"below the FLOP count's exponent for the same stages, "
        f"{flat['work fit']['exponent']:.2f}: the interval's upper end lies")
    steep = beyond.far_summary(_far_run([100] * n_stages, [1e-4 * n ** 3 for n in ns]))
    assert steep["fit"]["low"] > 2.5 and beyond.far_answer(steep)["cost"].startswith("above")
    assert "no part of the excess" in beyond.far_answer(steep)["cost"]
    rows = beyond.far_bins_table({"seed 1": s, "seed 4": flat})
    assert rows[0]["median steps per stage [95 % CI]"].startswith("100 [")
    assert [r["run"] for r in rows] == ["seed 1"] * 4 + ["seed 4"] * 4
    words = beyond.far_words({"seed 1": s, "seed 4": flat})
    assert words["reached"] == "41" and words["steps"] == f"{sum(steps):,}".replace(",", " ")
    assert words["exponent"].startswith(f"seed 1: {s['fit']['exponent']:.2f} [") \
        and "; seed 4: 1.5" in words["exponent"]
    assert words["cost answer"].startswith("seed 1: consistent with the FLOP count's exponent")
    assert "seed 4: below the FLOP count's" in words["cost answer"]
    assert words["steps answer"].startswith("seed 1: steps per stage rise")


def test_far_summary_counts_failed_confirmations_and_a_paused_stage_does_not_set_the_cost():
    n_stages = 41
    ns = [2 + i for i in range(n_stages)]
    cfg = GrowthConfig()
    rejected = [0] * 21 + [1] * 10 + [3] * 10            # N = 2..22 none, then more
    per_stage = [100 + 2 * cfg.eval_batches + (r + 1) * cfg.confirm_batches for r in rejected]
    seconds = [0.002 * n * b for n, b in zip(ns, per_stage)]   # cost per batch linear in N
    seconds[-3] *= 20                                     # one stage paused
    s = beyond.far_summary(_far_run([100] * n_stages, seconds, [2] * n_stages, rejected))
    assert [b["rejected"] for b in s["bins"]] == [0, 0, 10, 30]
    assert s["fit"]["exponent"] == pytest.approx(1.0, abs=0.01)   # Theil-Sen: the pause is ignored
    assert beyond.far_words({"seed 1": s})["rejected"] == "seed 1: 0, 0, 10, 30"
    assert beyond.far_bins_table({"seed 1": s})[3]["rejected confirmations"] == 30


def test_far_summary_splits_the_forward_work_and_says_the_shares():
    from modgrow.bench import growth_work
    rejected = [0] * 10 + [4] * 10
    run = _far_run([100] * 20, [1.0] * 20, [2] * 20, rejected)
    s = beyond.far_summary(run)
    c = run.config
    assert s["work"] == growth_work(run.stages, c.module_size, c.batch_size, c.eval_batches,
                                    c.confirm_batches)
    assert set(s["work"]) == {"train", "checks", "confirmations"} and min(s["work"].values()) > 0
    assert beyond.work_words({"train": 1e12, "checks": 0.5e12, "confirmations": 2.5e12}) == \
        "4 TFLOP (62 % confirmations, 25 % training steps, 12 % checks)"
    words = beyond.far_words({"seed 1": s})
    assert words["work"].startswith("seed 1: ") and "% confirmations" in words["work"]


def test_eps50_trend_words_reads_every_swept_network():
    def row(m, v):
        return {"module size": m, "eps50": {"eps50": v}}
    up = beyond.eps50_trend_words([row(5, [0.1, 0.2, 0.15]), row(10, [0.3, 0.35, 0.4]),
                                   row(20, [0.5, 0.6, 0.55])])
    assert up.startswith("ε₅₀ rises with module size (Spearman ρ = 0.9") and "9 networks" in up
    flat = beyond.eps50_trend_words([row(5, [0.1, 0.5]), row(10, [0.5, 0.1]), row(20, [])])
    assert "no monotone trend" in flat and "4 networks" in flat
    assert beyond.eps50_trend_words([row(5, [])]) == "no network was swept"


def test_budget_stops_count_only_the_whole_run_budget():
    hs = [{"stop": "total_budget"}, {"stop": "stage_budget"}, {"stop": "complete"},
          {"stop": "total_budget"}, {}]
    assert beyond.budget_stops(hs) == 2
    note = beyond._budget_note("GRU", hs, 10_000)
    assert note == ("; 2 of 5 GRU runs stopped on the whole-run budget of 10,000 steps, so their "
                    "highest N is a lower bound of what they reach with more steps")
    assert beyond._budget_note("GRU", hs[1:3], 500).endswith("of 500 steps")
    assert beyond.budget_phrase("modular M_m=10") == "the modular network of module size 10"
    assert beyond.budget_phrase("non-modular 50") == \
        "chapter 4's non-modular network of 50 neurons"
    with pytest.raises(ValueError, match="unknown gated budget"):
        beyond.budget_phrase("leaky 50")


def test_eps50_confound_words_name_the_neurons_and_the_nonmodular_trend():
    rows = [{"module size": 5, "eps50": {"eps50": [0.2, 0.21], "neurons": [50, 50]}},
            {"module size": 30, "eps50": {"eps50": [0.5], "neurons": [300]}}]
    up = beyond.eps50_confound_words(rows, [(50, 0.3), (50, 0.32), (100, 0.5), (100, 0.45),
                                            (150, 0.6), (150, 0.62)], 11)
    assert up.startswith("Module size and network size move together here: at N = 11 the swept "
                         "networks have 50 to 300 neurons. In chapter 5's non-modular networks "
                         "(50 to 150 neurons, no modules) ε₅₀ rises with the number of neurons")
    assert "6 networks" in up and "cannot be put down to module size" in up
    flat = beyond.eps50_confound_words(rows, [(50, 0.5), (100, 0.3), (150, 0.5), (100, 0.5)], 11)
    assert "shows no monotone trend" in flat and "do not show whether" in flat
    assert "no non-modular reference is stored" in beyond.eps50_confound_words(rows, None, 11)
    assert beyond.eps50_confound_words([{"module size": 5, "eps50": {"eps50": [],
                                                                     "neurons": []}}], None, 11) == ""


def test_stored_only_readers_read_nothing_from_an_empty_store(quick_store, monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    assert beyond.nonmodular_eps50(QUICK) is None
    assert beyond.legacy_words(QUICK) == "(not stored at this scale)"
    assert beyond.baseline_budget_stops(QUICK) is None


def test_legacy_words_read_the_first_editions_run(monkeypatch):
    monkeypatch.setenv("MODGROW_NO_COMPUTE", "1")
    (far,) = [r for r in beyond.verdicts(PAPER) if r["claim"].startswith("growth continues")]
    n = beyond.legacy_words(PAPER).removeprefix("at N = ")
    assert far["this book"].endswith(f"single-check run (seed 2): N = {n}")


def test_cost_words_read_the_rate_interval_and_name_the_machine():
    """The controlled cost measurement's answer follows the rate's interval: a rate falling as
    N^-0.5 is said to fall, a constant rate is said to show no measurable change; the machine,
    load and date come from the stored result."""
    from modgrow.bench import batch_flops, step_flops
    from modgrow.experiments import beyond

    ns = [100, 150, 200]

    def stored(rate_of):
        rows = []
        for n in ns:
            for k in range(3):
                step, test = step_flops(n, 10, 256, n), batch_flops(n, 10, 256)
                g = rate_of(n) * (1 + 0.01 * k)
                rows.append({"n": n, "round": k, "step_ms": step / g / 1e6, "step_gflops": g,
                             "test_ms": test / g / 1e6, "test_gflops": g})
        return {"data": {"ns": ns, "module_size": 10, "batch_size": 256, "rounds": 3,
                         "load": [0.1, 0.2], "rows": rows},
                "provenance": {"cpu_model": "Test CPU", "date": "2026-12-03T06:00:00+00:00"}}

    falling = beyond.cost_words(stored(lambda n: 20 * (n / 100) ** -0.5))
    assert falling["answer"].count("the rate falls as N grows") == 2
    assert falling["step rate"].startswith("-0.50")
    assert falling["where"] == ("Test CPU, 1 thread(s), load average 0.1 before and 0.2 after, "
                                "2026-12-03")
    assert "20.2 GFLOP/s at N = 100, 14.3 at N = 200" in falling["rate"]   # medians
    flat = beyond.cost_words(stored(lambda n: 20.0))
    assert flat["answer"].count("no change of the rate with N is measurable") == 2


def test_cost_reading_compares_the_far_excess_with_what_the_rates_predict():
    """The far run's excess over its work is read against the controlled rates at the run's mix
    of work: overlapping intervals, a far excess wholly above, and a run outside the measured N."""
    from modgrow.bench import batch_flops, step_flops
    from modgrow.experiments import beyond

    ns = [100, 150, 200]
    rows = [{"n": n, "round": k, "step_ms": step_flops(n, 10, 256, n) / 2e7,
             "step_gflops": 20.0 * (1 + 0.01 * k), "test_ms": batch_flops(n, 10, 256) / 2e7,
             "test_gflops": 20.0 * (1 + 0.01 * k)} for n in ns for k in range(3)]
    cost = {"data": {"ns": ns, "module_size": 10, "batch_size": 256, "rows": rows}}

    def far(exponent, low, high, max_n=200, from_n=100):
        return {"fit": {"exponent": exponent, "low": low, "high": high},
                "work fit": {"exponent": 2.0}, "work": {"train": 1.0, "checks": 1.0,
                                                        "confirmations": 2.0},
                "max N": max_n, "fit from N": from_n}
    near = beyond.cost_reading(far(2.05, 1.95, 2.2), cost)
    assert "(75 % test batches)" in near and "the intervals overlap" in near
    assert "+0.05 [-0.05, +0.20]" in near
    above = beyond.cost_reading(far(2.6, 2.4, 2.8), cost)
    # the far excess [0.40, 0.80] against a predicted [-0.02, +0.02]: at least 0.38 is not the
    # engine's, and no more is claimed
    assert "+0.60 [+0.40, +0.80]: wholly above, so at least 0.38 of the far run's excess is not "\
        "the engine's" in above
    assert "does not cover this run's fitted range (N = 41-83)" in beyond.cost_reading(
        far(1.4, 1.1, 1.7, max_n=83, from_n=41), cost)
