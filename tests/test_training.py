"""The curriculum trainer: criterion, freezing invariants, resume, failure paths."""

import dataclasses
import json

import pytest
import torch

from modgrow import criterion as crit
from modgrow.io import load_network
from modgrow.tasks import parity_batch
from modgrow.training import (GrowthConfig, Stage, evaluate, grow, lr_multiplier,
                              network_at_stage, new_network, train_curriculum)

QUICK = dict(max_n=5, seed=0, eval_batches=4)


def strip(hist):
    """History without wall times and provenance (which legitimately differ between runs)."""
    stages = [{k: v for k, v in s.items() if k != "seconds"} for s in hist["stages"]]
    return {"config": hist["config"], "stages": stages, "status": hist["status"]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grow")
    res = train_curriculum(GrowthConfig(**QUICK), out, progress=False)
    return out, res


def test_quick_growth_reaches_criterion(quick_run):
    out, res = quick_run
    h = res.history
    assert h["status"] == "complete" and h["max_n_reached"] == 5
    assert [s["n"] for s in h["stages"]] == [2, 3, 4, 5]
    for s in h["stages"]:
        acc = list(s["accuracy"].values())
        assert acc[-1] > 0.98 and sum(acc) / len(acc) > 0.98
        assert s["steps"] % 50 == 0 and s["epochs"] == -(-s["steps"] // 500)
    assert res.network.n_blocks == 4 and res.network.head_blocks == [0, 1, 2, 3]
    on_disk = json.loads((out / "history.json").read_text())
    assert strip(on_disk) == strip(h)
    assert on_disk["provenance"]["torch_version"] == torch.__version__
    net, _ = load_network(out / "stage_005.pt")
    for a, b in zip(net.state_dict().values(), res.network.state_dict().values()):
        assert torch.equal(a, b)


def test_killed_run_resumes_to_the_same_history(quick_run, tmp_path):
    _, full = quick_run
    cfg = GrowthConfig(**QUICK)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False, stop_after_steps=700)
    partial = json.loads((tmp_path / "history.json").read_text())
    assert 0 < len(partial["stages"]) < 4
    with pytest.raises(FileExistsError, match="resume"):
        train_curriculum(cfg, tmp_path, progress=False)
    resumed = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    assert strip(resumed.history) == strip(full.history)


def test_resume_refuses_a_different_config(quick_run):
    out, _ = quick_run
    with pytest.raises(ValueError, match="config differs in \\['lr'\\]"):
        train_curriculum(GrowthConfig(**QUICK, lr=0.3), out, resume=True, progress=False)


def test_hard_frozen_parameters_stay_bit_identical_for_a_whole_stage():
    cfg = GrowthConfig(max_n=4, eval_batches=2)
    g = torch.Generator().manual_seed(0)
    res = train_curriculum(dataclasses.replace(cfg, max_n=3), progress=False)
    net = res.network
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grow(net, cfg, g)
    stage = Stage(net, cfg)
    assert stage.first == 2
    for _ in range(30):
        x, y = parity_batch([2, 3, 4], 64, generator=g)
        stage.step_on(x, y, g)
    after = net.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k  # taus and heads of old modules included
    assert not torch.equal(after["blocks.2.w_rec"], net.blocks[1].w_rec)


def test_soft_freezing_scales_learning_rates_and_old_modules_move():
    cfg = GrowthConfig(gamma=0.5)
    assert [lr_multiplier(cfg, 3, b, "within") for b in range(3)] == [0.25, 0.5, 1.0]
    res = train_curriculum(GrowthConfig(max_n=3, gamma=0.5, eval_batches=2), progress=False)
    res0 = train_curriculum(GrowthConfig(max_n=2, gamma=0.5, eval_batches=2), progress=False)
    # module 0 trained on during stage N=3 with half the learning rate: it moved
    assert not torch.equal(res.network.blocks[0].w_rec, res0.network.blocks[0].w_rec)


def test_fix_within_never_moves_recurrent_weights():
    g = torch.Generator().manual_seed(0)
    init = new_network(GrowthConfig(), g).blocks[0].w_rec.clone()
    res = train_curriculum(GrowthConfig(max_n=3, fix_within=True, eval_batches=2), progress=False)
    assert torch.equal(res.network.blocks[0].w_rec, init)
    assert lr_multiplier(GrowthConfig(fix_within=True), 2, 1, "between") == 1.0


def test_nonmodular_baseline_trains_all_heads_on_one_population():
    cfg = GrowthConfig(architecture="nonmodular", module_size=16, max_n=3, lr=0.05,
                       eval_batches=2)
    res = train_curriculum(cfg, progress=False)
    assert res.network.n_blocks == 1 and res.network.head_blocks == [0, 0]
    assert res.history["status"] == "complete"


def test_step_budget_stops_the_run_and_says_so(tmp_path):
    cfg = GrowthConfig(max_n=6, max_steps_per_stage=50, eval_batches=2, seed=0)
    res = train_curriculum(cfg, tmp_path, progress=False)
    assert res.history["status"] == "stopped"
    assert res.history["stop"] == "stage_budget"
    assert "not solved within 50 steps" in res.history["message"]
    solved = res.history["max_n_reached"]
    if solved:  # the returned network is the last solved stage's, without the failed module
        assert len(res.network.heads) == solved - cfg.n_start + 1 == res.network.n_blocks
    assert json.loads((tmp_path / "history.json").read_text())["status"] == "stopped"


@pytest.mark.parametrize("kwargs, match", [
    (dict(architecture="transformer"), "architecture"),
    (dict(module_size=0), "module_size"),
    (dict(max_n=1), "max_n"),
    (dict(lr=-1.0), "lr"),
    (dict(gamma=2.0), "gamma"),
    (dict(noise=-0.1), "noise"),
    (dict(architecture="nonmodular", gamma=0.5), "modular network only"),
    (dict(bit_prob="often"), "bit_prob"),
    (dict(bit_prob=True), "bit_prob"),
    (dict(lr=float("nan")), "lr"),
    (dict(criterion="lucky"), "criterion"),
    (dict(clip_scope="some"), "clip_scope"),
    (dict(duplicate_source="future"), "duplicate_source"),
    (dict(confirm_batches=0), "confirm_batches"),
    (dict(confirm_margin=-0.001), "confirm_margin must be in"),
    (dict(confirm_margin=0.02), "confirm_margin must be in"),
    (dict(confirm_margin=float("nan")), "confirm_margin must be in"),
    (dict(confirm_margin=0.003, criterion="check"), "criterion 'confirmed' only"),
    (dict(architecture="nonmodular", train_old_taus=True), "modular network only"),
    (dict(noise=float("nan")), "noise"),
    (dict(noise=float("inf")), "noise"),
    (dict(lr=float("inf")), "lr"),
    (dict(lr=float("-inf")), "lr"),
    (dict(max_n="30"), "max_n must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(max_total_steps=10.0), "max_total_steps"),
    (dict(duplicate="yes"), "duplicate must be true or false"),
    (dict(lr=True), "lr"),
    (dict(task="copy"), "task must be one of"),
    (dict(task="dms"), "bit_prob=0.5"),
    (dict(task="dms", bit_prob=0.5, n_start=1), "n_start >= 2"),
    (dict(order="reversed"), "order must be one of"),
])
def test_bad_configs_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GrowthConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown config fields"):
        GrowthConfig.from_dict({"modul_size": 3})


def test_total_step_budget_stops_the_run():
    cfg = GrowthConfig(max_n=8, max_total_steps=700, eval_batches=2, seed=0)
    res = train_curriculum(cfg, progress=False)
    assert res.history["status"] == "stopped"
    assert res.history["stop"] == "total_budget"
    assert sum(s["steps"] for s in res.history["stages"]) < 700


def test_confirmed_criterion_records_the_confirmation_and_its_rejections():
    res = train_curriculum(GrowthConfig(max_n=4, eval_batches=2, confirm_batches=8), progress=False)
    h = res.history
    assert h["status"] == "complete" and h["stop"] == "complete"
    for s in h["stages"]:
        assert s["checks"] >= 1 and 0 <= s["rejected"] < s["checks"]
        assert s["steps"] == 50 * s["checks"]
        acc = list(s["accuracy"].values())
        assert acc[-1] > 0.98 and sum(acc) / len(acc) > 0.98


def test_confirm_margin_ends_a_stage_no_earlier_and_only_above_threshold_plus_margin():
    """Margin and plain runs draw the same batches up to the plain run's last confirmation, so the
    margin run's first stage ends there or later; its confirmation clears threshold + margin, and
    when the plain confirmation did not clear it, the margin run must train on. A margin of 0 is
    the plain criterion and keeps the stored runs' key."""
    from modgrow.store import config_key
    kw = dict(module_size=5, max_n=2, eval_batches=2, confirm_batches=8, seed=3)
    plain = train_curriculum(GrowthConfig(**kw), progress=False).history["stages"][0]
    margin = 0.015
    strict = train_curriculum(GrowthConfig(confirm_margin=margin, **kw),
                              progress=False).history["stages"][0]
    acc = list(strict["accuracy"].values())
    assert acc[-1] > 0.98 + margin and sum(acc) / len(acc) > 0.98 + margin
    assert strict["steps"] >= plain["steps"]
    plain_acc = list(plain["accuracy"].values())
    if min(plain_acc[-1], sum(plain_acc) / len(plain_acc)) <= 0.98 + margin:
        assert strict["steps"] > plain["steps"] and strict["rejected"] >= 1
    assert config_key(GrowthConfig(confirm_margin=0.0), "x") == config_key(GrowthConfig(), "x")
    assert config_key(GrowthConfig(confirm_margin=0.003), "x") != config_key(GrowthConfig(), "x")


def test_pass_probabilities_against_known_cases():
    # half the batches perfect, half at 0.96 (mean 0.98): one batch passes half the time
    acc = torch.tensor([[1.0]] * 50 + [[0.96]] * 50).numpy()
    assert crit.resampled_pass(acc, 1) == pytest.approx(0.5, abs=0.02)
    # shifted up by 0.015: 10 batches pass when at least 2 are perfect (binomial)
    from scipy.stats import binom
    exact = binom(10, 0.5).sf(1)
    assert crit.resampled_pass(acc + 0.015, 10) == pytest.approx(exact, abs=0.005)
    assert crit.resampled_pass(acc - 0.02, 10) == 0.0
    assert crit.stage_pass(0.1, 10) == pytest.approx(1 - 0.9 ** 10)
    assert crit.stage_pass(0.1, 10, 0.5) == pytest.approx(1 - 0.95 ** 10)
    assert crit.binomial_pass(0.97, 50) < 1e-6 < crit.binomial_pass(0.979, 50) < 0.5
    assert crit.binomial_pass(0.99, 50) > 0.99


def _one_step_change(cfg):
    """Parameter change of the newest module after one SGD step at stage N = 4."""
    g = torch.Generator().manual_seed(3)
    net = new_network(cfg, g)
    grow(net, cfg, g)
    grow(net, cfg, g)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = parity_batch([2, 3, 4], 64, generator=torch.Generator().manual_seed(4))
    Stage(net, cfg).step_on(x, y, torch.Generator().manual_seed(5))
    after = net.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    norm = sum(((after[k] - before[k]) ** 2).sum() for k in moved) ** 0.5
    return moved, float(norm)


def test_clip_over_all_parameters_shrinks_the_step_and_moves_nothing_frozen():
    ours, n_ours = _one_step_change(GrowthConfig(clip=1e-3))
    theirs, n_theirs = _one_step_change(GrowthConfig(clip=1e-3, clip_scope="all"))
    assert ours == theirs and all(k.startswith(("blocks.2.", "heads.2.")) for k in ours)
    assert 0 < n_theirs < n_ours  # the frozen modules' gradients enter the norm


def test_old_taus_train_when_asked_and_nothing_else_old_moves():
    moved, _ = _one_step_change(GrowthConfig(train_old_taus=True))
    old = {k for k in moved if not k.startswith(("blocks.2.", "heads.2."))}
    assert old == {"blocks.0.tau", "blocks.1.tau"}


def test_authors_duplication_copies_the_untrained_module_and_the_previous_head():
    cfg = GrowthConfig(noise=0.0, duplicate_source="untrained", duplicate_head=True)
    g = torch.Generator().manual_seed(0)
    net = new_network(cfg, g)
    template = grow(net, cfg, g, None)          # module 1: random, nothing untrained to copy
    assert not torch.equal(net.blocks[1].w_rec, net.blocks[0].w_rec)
    init1 = net.blocks[1].w_rec.detach().clone()
    with torch.no_grad():
        net.blocks[1].w_rec.add_(1.0)           # "training" module 1
    grow(net, cfg, g, template)
    assert torch.equal(net.blocks[2].w_rec, init1)  # a copy of module 1 as initialised
    assert torch.equal(net.heads[2].weight, net.heads[1].weight)
    ours = GrowthConfig(noise=0.0)
    g = torch.Generator().manual_seed(0)
    net = new_network(ours, g)
    grow(net, ours, g)
    with torch.no_grad():
        net.blocks[1].w_rec.add_(1.0)
    grow(net, ours, g)
    assert torch.equal(net.blocks[2].w_rec, net.blocks[1].w_rec)  # a copy of the trained one


def test_authors_duplication_resumes_to_the_same_history(tmp_path):
    cfg = GrowthConfig(max_n=5, eval_batches=2, duplicate_source="untrained", criterion="check")
    full = train_curriculum(cfg, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False, stop_after_steps=250)
    resumed = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    assert strip(resumed.history) == strip(full.history)


# ----- wrong data and lost work refused (issue #14) --------------------------------------------

# a tiny run that completes N = 2, 3 in well under a second (stages of 10 and 30 steps)
FAST = GrowthConfig(module_size=3, max_n=3, eval_every=10, eval_batches=2, batch_size=32,
                    confirm_batches=2, threshold=0.6, seed=1, max_steps_per_stage=500)


@pytest.fixture
def fast_run(tmp_path):
    out = tmp_path / "run"
    res = train_curriculum(FAST, out, progress=False)
    assert [s["steps"] for s in res.history["stages"]] == [10, 30]
    return out


def test_expected_structure_is_that_of_the_grown_network():
    from modgrow.training import expected_structure, network_at_stage
    for cfg in (GrowthConfig(module_size=3), GrowthConfig(module_size=2, n_start=3, max_n=9),
                GrowthConfig(architecture="nonmodular", module_size=3, lr=0.05)):
        for n in range(cfg.n_start, cfg.n_start + 4):
            g = torch.Generator().manual_seed(0)
            assert network_at_stage(cfg, n, g).structure() == expected_structure(cfg, n)


@pytest.mark.parametrize("budget, match", [
    (dict(max_n=2), "max_n 2 < N=3"),
    (dict(max_steps_per_stage=20), "max_steps_per_stage 20 < 30"),
    (dict(max_total_steps=39), "max_total_steps 39 < 40"),
])
def test_resume_refuses_a_budget_below_what_was_spent(fast_run, budget, match):
    before = (fast_run / "history.json").read_bytes()
    with pytest.raises(ValueError, match=match):
        train_curriculum(dataclasses.replace(FAST, **budget), fast_run, resume=True,
                         progress=False)
    assert (fast_run / "history.json").read_bytes() == before
    # raising a budget is what resuming is for
    res = train_curriculum(dataclasses.replace(FAST, max_total_steps=40), fast_run, resume=True,
                           progress=False)
    assert res.history["status"] == "complete"


def test_resume_refuses_a_checkpoint_of_another_network(fast_run, tmp_path):
    from modgrow.io import BadData
    other = tmp_path / "other"
    train_curriculum(dataclasses.replace(FAST, module_size=4, seed=2), other, progress=False)
    (fast_run / "stage_003.pt").write_bytes((other / "stage_003.pt").read_bytes())
    with pytest.raises(BadData, match="stage_003.pt: holds a network of module size 4") as e:
        train_curriculum(FAST, fast_run, resume=True, progress=False)
    assert len(str(e.value).splitlines()) == 1


def test_resume_with_another_thread_count_is_recorded_as_not_bit_exact(tmp_path):
    cfg = dataclasses.replace(FAST, max_n=4)
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False, stop_after_steps=45)
    assert "thread_changes" not in json.loads((tmp_path / "history.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        res = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    h = json.loads((tmp_path / "history.json").read_text())
    assert h["thread_changes"] == [{"after_n": 3, "from": threads, "to": threads + 1}]
    assert h["bit_exact_reproduction"] is False and res.history["status"] == "complete"


def test_checkpoints_without_history_are_never_overwritten(fast_run):
    (fast_run / "history.json").unlink()
    before = {p.name: p.read_bytes() for p in fast_run.iterdir()}
    for resume in (True, False):
        with pytest.raises(FileExistsError, match="stage checkpoints but no history.json"):
            train_curriculum(FAST, fast_run, resume=resume, progress=False)
    assert {p.name: p.read_bytes() for p in fast_run.iterdir()} == before


def test_a_run_folder_that_is_a_file_or_cannot_be_written_is_refused(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("keep")
    for out, match in ((afile, "is not a folder"), (afile / "sub", "cannot be written")):
        with pytest.raises(ValueError, match=match):
            train_curriculum(FAST, out, progress=False)
    assert afile.read_text() == "keep"


def test_a_crashed_run_ends_failed_with_its_reason_and_the_error_propagates(tmp_path, monkeypatch):
    import errno

    from modgrow import training

    real = training.save_network

    def full_disk(path, *a, **k):
        if path.name == "stage_003.pt":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *a, **k)
    monkeypatch.setattr(training, "save_network", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train_curriculum(FAST, tmp_path, progress=False)
    h = json.loads((tmp_path / "history.json").read_text())
    assert h["status"] == "failed" and h["stop"] == "failed"
    assert h["message"] == "OSError: [Errno 28] No space left on device"
    # N=3 was solved but its checkpoint is lost: the history stops at N=2, which resumes
    assert h["max_n_reached"] == 2 and [s["n"] for s in h["stages"]] == [2]
    monkeypatch.setattr(training, "save_network", real)
    resumed = train_curriculum(FAST, tmp_path, resume=True, progress=False)
    assert resumed.history["status"] == "complete"


def test_dms_run_trains_end_to_end_and_is_keyed_apart_from_parity(tmp_path):
    from modgrow import store

    parity = GrowthConfig(max_n=3, eval_batches=2, confirm_batches=4)
    dms = dataclasses.replace(parity, task="dms", bit_prob=0.5)
    res = train_curriculum(dms, tmp_path, progress=False)
    h = res.history
    assert h["status"] == "complete" and [s["n"] for s in h["stages"]] == [2, 3]
    assert h["config"]["task"] == "dms" and len(res.network.heads) == 2
    assert all(a > 0.98 for a in h["stages"][-1]["accuracy"].values())
    # the parity key is the one computed before the task field existed; DMS gets its own
    assert store.config_key(parity, store.run_name(parity)) == "grow-m10-s0-n3-53a9afd5d6ce"
    p05 = dataclasses.replace(parity, bit_prob=0.5)
    assert store.config_key(p05, store.run_name(p05)) == "grow-m10-s0-n3-p05-0e242c4885e3"
    assert store.config_key(dms, store.run_name(dms)).startswith("grow-m10-s0-n3-p05-dms-")
    assert store.config_key(dms, "x") != store.config_key(p05, "x")


def test_dms_batches_drive_training_and_the_criterion():
    """A DMS stage trains on DMS batches: from the same generator state it draws exactly the
    batch ``dms_batch`` draws, and evaluation scores heads on DMS labels."""
    from modgrow.tasks import dms_batch
    from modgrow.training import evaluate

    cfg = GrowthConfig(task="dms", bit_prob=0.5, max_n=3, eval_batches=2, confirm_batches=4)
    net = train_curriculum(cfg, progress=False).network
    g = torch.Generator().manual_seed(9)
    acc = evaluate(net, [2, 3], 4, 64, g, 0.5, task="dms")
    assert min(acc) > 0.9
    with pytest.raises(ValueError, match="Bernoulli"):
        evaluate(net, [2, 3], 1, 8, g, "per_batch", task="dms")
    stage = Stage(net, cfg)
    drawn = []
    stage.step_on = lambda x, y, gen: drawn.append((x, y))
    stage.step(torch.Generator().manual_seed(1))
    x, y = dms_batch([2, 3], cfg.batch_size, generator=torch.Generator().manual_seed(1))
    assert torch.equal(drawn[0][0], x) and torch.equal(drawn[0][1], y)
# ----- pooled prefix and hand-written backward pass (issue #9) ------------------------------------

@pytest.mark.parametrize("bad", [0, -1, -4, 1.0, 2.5, True, "2", None])
def test_prefix_pool_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="prefix_pool must be an integer >= 1") as e:
        GrowthConfig(prefix_pool=bad)
    assert len(str(e.value).splitlines()) == 1


def test_engine_fields_are_checked_and_apply_to_leaky_networks_only():
    with pytest.raises(ValueError, match="manual_bptt must be true or false"):
        GrowthConfig(manual_bptt=1)
    for change in (dict(prefix_pool=2), dict(manual_bptt=True)):
        with pytest.raises(ValueError, match="leaky networks only"):
            GrowthConfig(architecture="gru", optimizer="adam", lr=1e-3, **change)
        GrowthConfig(architecture="nonmodular", lr=0.05, **change)  # accepted


def test_new_engine_fields_default_to_todays_path_and_keep_stored_keys():
    from modgrow.store import config_key
    cfg = GrowthConfig()
    assert cfg.prefix_pool == 1 and cfg.manual_bptt is False
    assert config_key(cfg, "x") == config_key(GrowthConfig(prefix_pool=1), "x")
    assert config_key(GrowthConfig(prefix_pool=4), "x") != config_key(cfg, "x")
    assert config_key(GrowthConfig(manual_bptt=True), "x") != config_key(cfg, "x")
    # a stored history written before the fields existed still loads, with the defaults
    old = {k: v for k, v in dataclasses.asdict(cfg).items()
           if k not in ("prefix_pool", "manual_bptt")}
    assert GrowthConfig.from_dict(old) == cfg


def _old_step(stage, g):
    """Stage.step as it was before issue #9 (one inline function), for the bit-identity check."""
    from torch.nn import functional as F

    from modgrow import engine
    from modgrow.tasks import task_batch
    net, first, cfg = stage.net, stage.first, stage.cfg
    x, y = task_batch(cfg.task, stage.ns, cfg.batch_size, generator=g, bit_prob=cfg.bit_prob)
    h0 = net.initial_state(x.shape[0], g, x.device)
    feed = None
    if first > 0:
        with torch.no_grad():
            feed = engine.run(net, x, h0[:first], 0, first, keep_feed=True).feed
    finals = engine.run(net, x, h0[first:], first, net.n_blocks, ff_in=feed).finals
    heads = [i for i, b in enumerate(net.head_blocks) if b >= first]
    logits = net.readout(finals, heads, offset=first)
    loss = sum(F.cross_entropy(logits[j], y[:, i]) for j, i in enumerate(heads))
    net.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(stage.clipped, cfg.clip)
    stage.opt.step()


@pytest.mark.parametrize("arch", ["modular", "nonmodular"])
def test_default_steps_are_the_step_of_before_bit_for_bit(arch):
    """prefix_pool = 1, manual_bptt = False: ``Stage.steps`` takes exactly the steps of the
    pre-#9 code, same draws, same floats (torch.equal, not a tolerance)."""
    cfg = GrowthConfig(architecture=arch, max_n=6, module_size=4, batch_size=16,
                       lr=0.1 if arch == "modular" else 0.05)
    nets = [network_at_stage(cfg, 6, torch.Generator().manual_seed(0)) for _ in range(2)]
    stages = [Stage(net, cfg) for net in nets]
    assert stages[0].first == (4 if arch == "modular" else 0)
    gens = [torch.Generator().manual_seed(5) for _ in range(2)]
    for _ in range(6):
        _old_step(stages[0], gens[0])
    assert sum(1 for _ in stages[1].steps(gens[1], 6)) == 6
    assert torch.equal(gens[0].get_state(), gens[1].get_state())
    new = nets[1].state_dict()
    for k, v in nets[0].state_dict().items():
        assert torch.equal(new[k], v), k
    # the comparison sees one step more or less
    _old_step(stages[0], gens[0])
    assert not all(torch.equal(new[k], v) for k, v in nets[0].state_dict().items())


def test_default_path_reproduces_a_stored_run_bit_for_bit():
    """The first two stages of a run stored before issue #9 (same torch version and machine
    type; ``reproduce`` uses the stored thread count) come out identical: steps and every
    head's accuracy on the test that ended each stage."""
    from modgrow import store
    path = store.results_dir() / "runs" / "grow-m10-s0-n12-9fa30ed9d82f"
    if not (path / "result.json").exists():
        pytest.skip("stored run not present")
    stored = json.loads((path / "result.json").read_text())
    import platform
    if (stored["provenance"]["torch_version"] != torch.__version__
            or stored["provenance"]["machine"] != platform.machine()):
        pytest.skip("another platform: bit identity is not expected")
    threads = torch.get_num_threads()
    try:
        rep = store.reproduce(path, up_to_n=3, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert rep["stages_compared"] == 2 and rep["match"], rep["differences"]


def _window(cfg, steps=10, threads=None):
    """Train ``steps`` steps of the stage that trains N = max_n; the generator's end state and
    the weights."""
    net = network_at_stage(cfg, cfg.max_n, torch.Generator().manual_seed(0))
    stage = Stage(net, cfg)
    g = torch.Generator().manual_seed(5)
    prev = torch.get_num_threads()
    torch.set_num_threads(threads or prev)
    try:
        assert sum(1 for _ in stage.steps(g, steps)) == steps
    finally:
        torch.set_num_threads(prev)
    assert torch.get_num_threads() == prev
    return g.get_state(), net.state_dict()


@pytest.mark.parametrize("task", ["parity", "dms"])
def test_pooled_steps_draw_the_same_batches_and_agree_to_rounding(task):
    """P > 1: the same draws as P = 1 (the generator ends in the same state), weights equal up
    to float rounding; every P > 1 gives the same floats, whatever the thread count, including
    P larger than the window and P that does not divide it."""
    base = GrowthConfig(max_n=7, module_size=5, batch_size=32, task=task,
                        bit_prob=0.5 if task == "dms" else "per_batch")
    gen0, sd0 = _window(base)
    runs = {(p, m, t): _window(dataclasses.replace(base, prefix_pool=p, manual_bptt=m),
                               threads=t)
            for p, m, t in ((2, False, 1), (3, False, 2), (16, False, 1),
                            (2, True, 2), (4, True, 1), (4, True, 2))}
    for gen, sd in runs.values():
        assert torch.equal(gen, gen0)
        for k, v in sd0.items():
            torch.testing.assert_close(sd[k], v, atol=1e-5, rtol=0)
    for manual in (False, True):
        same = [sd for (p, m, t), (_, sd) in runs.items() if m == manual]
        for sd in same[1:]:
            for k, v in same[0].items():
                assert torch.equal(sd[k], v), (manual, k)
    # the hand-written backward pass alone (P = 1) also agrees to rounding
    _, sd1 = _window(dataclasses.replace(base, manual_bptt=True))
    for k, v in sd0.items():
        torch.testing.assert_close(sd1[k], v, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pool", [2, 3, 7])
def test_pooled_evaluation_draws_alike_and_agrees(pool):
    cfg = GrowthConfig(max_n=6, module_size=4)
    net = network_at_stage(cfg, 6, torch.Generator().manual_seed(1))
    ns = [2, 3, 4, 5, 6]
    ga, gb = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    a = evaluate(net, ns, 5, 64, ga)
    b = evaluate(net, ns, 5, 64, gb, pool=pool)
    assert torch.equal(ga.get_state(), gb.get_state())
    assert a == pytest.approx(b, abs=2 / 320)  # a sample at the decision edge may flip


POOLED = dataclasses.replace(FAST, max_n=4, prefix_pool=3, manual_bptt=True)


def test_pooled_run_grows_and_resumes_to_the_same_history(tmp_path):
    full = train_curriculum(POOLED, tmp_path / "full", progress=False)
    h = full.history
    assert h["status"] == "complete" and [s["n"] for s in h["stages"]] == [2, 3, 4]
    assert h["config"]["prefix_pool"] == 3 and h["config"]["manual_bptt"] is True
    assert full.network.n_blocks == 3
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):  # killed inside a pool of the stage N = 4
        train_curriculum(POOLED, out, progress=False, stop_after_steps=47)
    resumed = train_curriculum(POOLED, out, resume=True, progress=False)
    assert resumed.history["resumed_from"] == 3
    assert strip(resumed.history) == strip(h)
    for k, v in full.network.state_dict().items():
        assert torch.equal(resumed.network.state_dict()[k], v)
    # another pool size is another config: no silent resume with other numbers
    with pytest.raises(ValueError, match="prefix_pool"):
        train_curriculum(dataclasses.replace(POOLED, prefix_pool=2), out, resume=True,
                         progress=False)


# ----- curriculum order (issue #12, item 3) -----------------------------------------------------

def test_curriculum_orders_list_the_n_values_each_head_answers():
    from modgrow.store import config_key
    from modgrow.training import curriculum_ns, head_ns
    seq = GrowthConfig(max_n=12)
    assert curriculum_ns(seq) == list(range(2, 13))
    assert curriculum_ns(dataclasses.replace(seq, order="step2")) == [2, 4, 6, 8, 10, 12]
    shuffled = [curriculum_ns(dataclasses.replace(seq, order="shuffled", seed=s)) for s in range(4)]
    for ns in shuffled:  # N = n_start first, then the same N values in another order
        assert ns[0] == 2 and sorted(ns) == list(range(2, 13)) and ns != list(range(2, 13))
    assert len({tuple(ns) for ns in shuffled}) == 4  # the seed fixes the permutation
    assert shuffled[1] == curriculum_ns(dataclasses.replace(seq, order="shuffled", seed=1))
    assert head_ns(dataclasses.replace(seq, order="shuffled", seed=1), 3) == shuffled[1][:3]
    # the default order keeps every stored key
    assert config_key(seq, "x") == config_key(dataclasses.replace(seq, order="sequential"), "x")


def test_a_shuffled_run_trains_each_head_on_its_own_n_and_resumes_to_the_same_history(tmp_path):
    from modgrow.training import curriculum_ns
    cfg = dataclasses.replace(FAST, max_n=5, order="shuffled", seed=2)
    order = curriculum_ns(cfg)
    assert order[1:] != [3, 4, 5]
    full = train_curriculum(cfg, progress=False)
    assert [s["n"] for s in full.history["stages"]] == order
    assert [list(s["accuracy"]) for s in full.history["stages"]][-1] == [str(n) for n in order]
    assert full.history["max_n_reached"] == 5
    # the order's own generator leaves the training draws alone: the first stage is the
    # sequential curriculum's, step for step
    seq = train_curriculum(dataclasses.replace(cfg, order="sequential", max_n=2), progress=False)
    assert strip(seq.history)["stages"][0] == strip(full.history)["stages"][0]
    with pytest.raises(KeyboardInterrupt):
        train_curriculum(cfg, tmp_path, progress=False, stop_after_steps=60)
    resumed = train_curriculum(cfg, tmp_path, resume=True, progress=False)
    assert strip(resumed.history) == strip(full.history)
    # a larger max_n shuffles other N values: resuming with it is refused
    with pytest.raises(ValueError, match="orders the solved stages"):
        train_curriculum(dataclasses.replace(cfg, max_n=7), tmp_path, resume=True,
                         progress=False)


def test_a_step2_run_skips_every_other_n_and_asks_each_head_its_own_n(monkeypatch):
    from modgrow import training
    asked = []
    draw = training.task_batch

    def recording(task, ns, *args, **kw):
        asked.append(tuple(ns))
        return draw(task, ns, *args, **kw)
    monkeypatch.setattr(training, "task_batch", recording)
    cfg = dataclasses.replace(FAST, max_n=6, order="step2", seed=1)
    res = train_curriculum(cfg, progress=False)
    assert [s["n"] for s in res.history["stages"]] == [2, 4, 6]
    assert res.network.n_blocks == 3
    # every batch (training, checks, confirmations) labels head k with the k-th N of the order
    assert set(asked) == {(2,), (2, 4), (2, 4, 6)}
