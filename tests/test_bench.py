"""What bounds the large-N step (issue #9): the work counts behind ``bench_bound`` and
``growth_floor``, checked against the engine itself and by hand."""

import json

import pytest
import torch

from modgrow import bench, engine
from modgrow.bench import amortised_flops, growth_floor, scan_block_steps, batch_flops
from modgrow.tasks import sequence_length_range


@pytest.mark.parametrize("k,steps", [(5, 3), (5, 5), (5, 12), (1, 4), (9, 20)])
@pytest.mark.parametrize("feed", [False, True])
def test_scan_block_steps_counts_the_engines_own_block_updates(monkeypatch, k, steps, feed):
    """Count the blocks each of the scan's products updates (torch.bmm wrapped while the engine
    runs) and compare with the closed count."""
    counted = []
    real = torch.bmm

    def counting(a, b, *args, **kw):
        counted.append(a.shape[0])
        return real(a, b, *args, **kw)

    m, cols = 3, 4
    w = torch.randn(k, m, 2 * m + 2) * 0.1
    decay = torch.rand(k, m, 1)
    x = (torch.rand(cols, steps, 1) < 0.5).float()
    (task,), assemble = engine.pool_tasks((w, decay), [x], [torch.zeros(k, cols, m)],
                                          feed=feed, chunk=None)
    monkeypatch.setattr(torch, "bmm", counting)
    out = assemble([task()])
    monkeypatch.setattr(torch, "bmm", real)
    assert sum(counted) == scan_block_steps(k, steps, feed)
    assert out[0].shape == ((steps, cols, m) if feed else (k, cols, m))
    if not feed:
        assert scan_block_steps(k, steps, feed) == k * steps
    else:  # the skipped triangle: at most k (k + 1) / 2 updates, none while steps - t > k
        skipped = k * steps - scan_block_steps(k, steps, feed)
        assert 0 <= skipped <= k * (k + 1) // 2


def test_amortised_and_test_flops_by_hand():
    n, m, b = 7, 4, 8
    lo, hi = sequence_length_range(n)
    t = round((lo + hi - 1) / 2)
    per = 2 * m * (2 * m + 2) * b
    assert batch_flops(n, m, b) == per * (n - 1) * t
    want = per * (scan_block_steps(n - 2, t, True) + 3 * t + 0.25 * (n - 1) * t)
    assert amortised_flops(n, m, b, 0.25) == pytest.approx(want)


def test_growth_floor_adds_steps_checks_and_confirmations():
    stages = [{"n": 2, "steps": 100, "checks": 2, "rejected": 0},
              {"n": 5, "steps": 300, "checks": 6, "rejected": 2}]
    m, b, ev, conf = 4, 8, 10, 100
    f = growth_floor(stages, m, b, ev, conf, gflops=1.0)
    train = 100 * amortised_flops(2, m, b, 0) + 300 * amortised_flops(5, m, b, 0)
    checks = (2 * batch_flops(2, m, b) + 6 * batch_flops(5, m, b)) * ev
    confirm = (1 * batch_flops(2, m, b) + 3 * batch_flops(5, m, b)) * conf
    assert f["tflop_parts"] == {"train": round(train / 1e12, 1), "checks": round(checks / 1e12, 1),
                                "confirmations": round(confirm / 1e12, 1)}
    assert f["floor_minutes"] == round((train + checks + confirm) / 1e9 / 60, 1)
    # twice the rate, half the time
    assert growth_floor(stages, m, b, ev, conf, 2.0)["floor_minutes"] == pytest.approx(
        f["floor_minutes"] / 2, abs=0.1)
    with pytest.raises(ValueError, match="gflops must be > 0"):
        growth_floor(stages, m, b, ev, conf, 0)


def test_bench_bound_rows_and_floors_are_consistent():
    r = bench.bench_bound(module_size=3, n=6, threads=(1,), batch_size=16, chunk=8,
                          scan_steps=5, repeats=1, peak_size=128)
    assert r["frozen_modules"] == 4 and r["amortised_gflop"] == round(
        amortised_flops(6, 3, 16, r["eval_share"]) / 1e9, 2)
    (row,) = r["rows"]
    assert row["threads"] == 1 and min(row["peak_gflops"], row["product_gflops"],
                                       row["scan_gflops"]) > 0
    flops = amortised_flops(6, 3, 16, r["eval_share"])
    for rate, floor in (("peak", "peak_floor_ms"), ("scan", "floor_ms")):
        assert row[floor] == pytest.approx(flops / row[f"{rate}_gflops"] / 1e6, rel=0.05, abs=0.1)
    with pytest.raises(ValueError, match="n >= 3"):
        bench.bench_bound(n=2)


def test_cli_bound_with_a_stored_run_and_mode_errors(tmp_path, monkeypatch, capsys):
    from modgrow import store
    from modgrow.__main__ import main
    from modgrow.training import GrowthConfig
    monkeypatch.setenv("MODGROW_RESULTS", str(tmp_path / "results"))
    run = store.load_or_run(GrowthConfig(module_size=3, max_n=3, eval_batches=2, seed=1),
                            progress=False)
    assert main(["bench", "--bound", "--n", "5", "--thread-counts", "1", "--batch-size", "8",
                 "--peak-size", "128", "--run", str(run.path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["module_size"] == 3 and d["run"]["max_n"] == run.max_n_reached
    assert [f["at"] for f in d["run"]["floors"]] == ["scan", "product", "peak"]
    assert all(f["tflop"] >= 0 and f["floor_minutes"] >= 0 for f in d["run"]["floors"])
    assert main(["bench", "--run", str(run.path)]) == 2
    assert "--run goes with --bound" in capsys.readouterr().err
    assert main(["bench", "--bound", "--large"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_cost_by_n_times_every_n_in_every_round_and_refuses_bad_input():
    """Every n is timed once per round (the order rotating), each rate is the work model over the
    measured time, the thread count is restored, and bad input is a clear error."""
    import pytest
    import torch

    from modgrow.bench import cost_by_n, step_flops
    from modgrow.tasks import sequence_length_range

    threads = torch.get_num_threads()
    r = cost_by_n(ns=(3, 5, 8), module_size=4, pool=2, batch_size=8, steps=2, test_batches=1,
                  rounds=2)
    assert torch.get_num_threads() == threads
    assert sorted((row["n"], row["round"]) for row in r["rows"]) == [
        (n, k) for n in (3, 5, 8) for k in (0, 1)]
    assert [row["n"] for row in r["rows"] if row["round"] == 1] == [5, 8, 3]   # rotated
    for row in r["rows"]:   # the work of the batches timed: between the shortest and longest
        lo, hi = sequence_length_range(row["n"])
        step = row["step_gflops"] * row["step_ms"] * 1e6
        test = row["test_gflops"] * row["test_ms"] * 1e6
        assert step_flops(row["n"], 4, 8, lo) <= step * (1 + 1e-9)
        assert step <= step_flops(row["n"], 4, 8, hi - 1) * (1 + 1e-9)
        assert 2 * (row["n"] - 1) * 4 * 10 * 8 * lo <= test * (1 + 1e-9)
        assert test <= 2 * (row["n"] - 1) * 4 * 10 * 8 * (hi - 1) * (1 + 1e-9)
    assert len(r["load"]) == 2
    for bad in ({"ns": (5, 5)}, {"ns": (2, 5)}, {"ns": (3, 5), "rounds": 0}):
        with pytest.raises(ValueError, match="cost_by_n needs"):
            cost_by_n(**bad)


def test_cost_fit_reads_an_exponent_above_the_work_as_a_falling_rate():
    """Synthetic times growing as N^2.5 fit to 2.5 against the work model's ~2, and the rate
    falls with N; times proportional to the work fit the work's exponent exactly."""
    import pytest

    from modgrow.bench import amortised_flops, batch_flops, cost_fit

    ns = [100, 125, 150, 175, 200]

    def measured(time_of):
        rows = [{"n": n, "round": k, "step_ms": time_of(n, "step"), "test_ms": time_of(n, "test")}
                for n in ns for k in range(3)]
        for row in rows:
            row["step_gflops"] = amortised_flops(row["n"], 10, 256, 0.0) / row["step_ms"] / 1e6
            row["test_gflops"] = batch_flops(row["n"], 10, 256) / row["test_ms"] / 1e6
        return {"ns": ns, "module_size": 10, "batch_size": 256, "rows": rows}

    steep = cost_fit(measured(lambda n, kind: 1e-3 * n ** 2.5))
    for kind in ("step", "test"):
        assert steep[kind]["exponent"] == pytest.approx(2.5)
        assert 1.8 < steep[kind]["work"] < 2.2
        assert steep[kind]["gflops"][100] > steep[kind]["gflops"][200]
    work = {"step": lambda n: amortised_flops(n, 10, 256, 0.0), "test":
            lambda n: batch_flops(n, 10, 256)}
    flat = cost_fit(measured(lambda n, kind: work[kind](n) / 2e7))
    for kind in ("step", "test"):
        assert flat[kind]["exponent"] == pytest.approx(flat[kind]["work"])
        assert flat[kind]["gflops"][100] == pytest.approx(flat[kind]["gflops"][200])


def test_drawn_lengths_are_the_lengths_the_steps_and_the_test_batches_train_on(monkeypatch):
    """The work of a timed round is counted from redrawn lengths: they must be the lengths of
    the batches that the pooled training steps and the criterion's test batches really draw."""
    import torch

    from modgrow import tasks
    from modgrow.bench import drawn_lengths
    from modgrow.training import GrowthConfig, Stage, evaluate, head_ns, network_at_stage

    seen = []
    real = tasks.parity_batch

    def recording(*args, **kwargs):
        x, y = real(*args, **kwargs)
        seen.append(x.shape[1])
        return x, y
    monkeypatch.setattr(tasks, "parity_batch", recording)
    cfg = GrowthConfig(module_size=4, max_n=6, batch_size=8, prefix_pool=2, manual_bptt=True)
    net = network_at_stage(cfg, 6, torch.Generator().manual_seed(0))
    heads = head_ns(cfg, len(net.heads))
    for _ in Stage(net, cfg).steps(torch.Generator().manual_seed(7), 5):
        pass
    steps, seen[:] = list(seen), []
    evaluate(net, heads, 3, 8, torch.Generator().manual_seed(9), pool=2)
    tests, seen[:] = list(seen), []
    assert len(steps) == 5 and len(tests) == 3
    assert drawn_lengths(net, heads, 8, torch.Generator().manual_seed(7), 5) == steps
    assert drawn_lengths(net, heads, 8, torch.Generator().manual_seed(9), 3) == tests
