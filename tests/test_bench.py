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
