"""Speed of one full training step (forward, backward, optimiser step) at a curriculum stage.

Two implementations of the same step are timed in the same process on the same batches:

* ``naive``: the authors' approach, a Python loop over modules inside the time loop, autograd
  through every module, the loss of every head, frozen modules kept in the optimiser with learning
  rate zero and included in gradient clipping.
* ``fast``: this package's engine, all modules advanced by one batched update per step, the frozen
  prefix run once under ``torch.no_grad()``, autograd over the newest module only.

``bench_large`` times training at large N (no naive loop): the amortised cost of an SGD step with
the per-batch prefix (``prefix_pool`` 1, the default path) against the pooled prefix
(``prefix_pool`` P > 1, with ``manual_bptt``), on the same batches, interleaved in one process,
for one or more torch thread counts, and the achieved GFLOP/s against a large matmul timed in the
same process. ``bench_bound`` asks what bounds the large-N step on this machine: the rate of
the engine's no-grad scan (and of its product alone) against the matmul peak, the floor that rate
puts under the amortised step, and (``growth_floor``) under a whole stored growth run.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import resource
import statistics
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from concurrent.futures import ThreadPoolExecutor

from .engine import POOL_CHUNK, pool_tasks, reference_final_states
from .network import RNN
from .tasks import parity_batch, sequence_length_range
from .training import GrowthConfig, Stage, evaluate, head_ns, network_at_stage

__all__ = ["BenchResult", "bench_step", "bench_large", "bench_perturb", "bench_bound",
           "cost_by_n", "cost_fit", "drawn_lengths", "growth_floor", "growth_work",
           "matmul_peak", "scan_block_steps", "step_flops"]


@dataclass(frozen=True)
class BenchResult:
    module_size: int
    n: int
    batch_size: int
    seq_len: int
    n_modules: int
    repeats: int
    naive_ms: float
    fast_ms: float
    threads: int

    @property
    def speedup(self) -> float:
        return self.naive_ms / self.fast_ms

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["speedup"] = round(self.speedup, 2)
        return d


def _naive_step(net: RNN, opt, clip: float, x, y, generator):
    h0 = net.initial_state(x.shape[0], generator)
    finals = reference_final_states(net, x, h0)
    logits = net.readout(finals)
    loss = sum(F.cross_entropy(logits[i], y[:, i]) for i in range(len(net.heads)))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(net.parameters()), clip)
    opt.step()


def _time(step, batches, warmup: int) -> float:
    for x, y in batches[:warmup]:
        step(x, y)
    times = []
    for x, y in batches[warmup:]:
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def bench_step(module_size: int = 10, n: int = 21, batch_size: int = 256, repeats: int = 10,
               warmup: int = 2, naive: bool = True, seed: int = 0) -> BenchResult:
    """Median milliseconds per training step, naive and fast, at the stage that trains N = n.

    The sequence length is fixed to the middle of the stage's length range, so both
    implementations see identical work.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be >= 1 and warmup >= 0")
    cfg = GrowthConfig(module_size=module_size, max_n=n, batch_size=batch_size, seed=seed)
    g = torch.Generator().manual_seed(seed)
    net = network_at_stage(cfg, n, g)
    ns = head_ns(cfg, len(net.heads))
    lo, hi = sequence_length_range(max(ns))
    seq_len = (lo + hi) // 2
    batches = [parity_batch(ns, batch_size, generator=g, seq_len=seq_len)
               for _ in range(warmup + repeats)]

    stage = Stage(net, cfg)
    fast_ms = _time(lambda x, y: stage.step_on(x, y, g), batches, warmup)

    naive_ms = float("nan")
    if naive:
        net_naive = network_at_stage(cfg, n, torch.Generator().manual_seed(seed))
        newest = net_naive.n_blocks - 1
        frozen = [p for b, _, _, p in net_naive.classified_parameters() if b != newest]
        fresh = [p for b, _, _, p in net_naive.classified_parameters() if b == newest]
        opt_n = torch.optim.SGD([{"params": fresh, "lr": cfg.lr}, {"params": frozen, "lr": 0.0}],
                                lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
        naive_ms = _time(lambda x, y: _naive_step(net_naive, opt_n, cfg.clip, x, y, g), batches,
                         warmup)
    return BenchResult(module_size, n, batch_size, seq_len, net.n_blocks, repeats,
                       round(naive_ms, 2), round(fast_ms, 2), torch.get_num_threads())


# ----- large N --------------------------------------------------------------------------------

def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a [size, size] x [size, size] float32 torch.matmul at the current thread count
    (the best of ``repeats``): the machine's practical peak for this process."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def _thread_cpu() -> dict[int, float]:
    """CPU seconds used so far by each thread of this process (Linux /proc; empty elsewhere)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    except OSError:
        return {}
    return out


def _dense_flops(n_blocks: int, m: int, batch: int, steps: int) -> int:
    """Multiply-adds x 2 of the dense update of every module over ``steps`` time steps (one
    [M, 2M+2] x [2M+2, B] product per module and step): the work of the per-batch engine."""
    return 2 * n_blocks * m * (2 * m + 2) * batch * steps


def drawn_lengths(net: RNN, ns: list[int], batch_size: int, g: torch.Generator,
                  k: int) -> list[int]:
    """Sequence lengths of the next k batches drawn from g, as the training steps and the
    criterion's test batches draw them (x and y, then the initial state)."""
    out = []
    for _ in range(k):
        x, _ = parity_batch(ns, batch_size, generator=g)
        net.initial_state(batch_size, g)
        out.append(x.shape[1])
    return out


def _time_round(stage: Stage, net: RNN, ns: list[int], pool: int, seed: int, steps: int,
                test_batches: int, batch_size: int, share: float) -> dict[str, float]:
    """One timed round of a stage: ``steps`` SGD steps on batches drawn from ``seed``, then
    ``test_batches`` criterion test batches (from ``seed`` + 500) through ``net`` with prefix pool
    ``pool``. Seconds per step and per test batch, wall ("wall", "test_wall") and process CPU
    ("cpu", "test_cpu"), and "busiest": the CPU of the busiest thread per amortised step (step +
    ``share`` x test batch; from /proc), a lower bound of the wall time on otherwise idle cores."""
    g = torch.Generator().manual_seed(seed)
    t0 = _thread_cpu()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in stage.steps(g, steps):
        pass
    out = {"wall": (time.perf_counter() - w0) / steps, "cpu": (time.process_time() - c0) / steps}
    t1 = _thread_cpu()
    if test_batches:
        g = torch.Generator().manual_seed(seed + 500)
        w0, c0 = time.perf_counter(), time.process_time()
        evaluate(net, ns, test_batches, batch_size, g, pool=pool)
        out["test_wall"] = (time.perf_counter() - w0) / test_batches
        out["test_cpu"] = (time.process_time() - c0) / test_batches
    t2 = _thread_cpu()
    per = [(t1.get(k, 0) - t0.get(k, 0)) / steps
           + share * (t2.get(k, 0) - t1.get(k, 0)) / max(test_batches, 1)
           for k in set(t1) | set(t2)]
    out["busiest"] = max(per, default=0.0)
    return out


def bench_large(module_size: int = 10, n: int = 201, pools=(1, 4), threads=(1,),
                batch_size: int = 256, steps: int | None = None, rounds: int = 3,
                test_batches: int = 4, manual_bptt: bool = True, chunk: int | None = POOL_CHUNK,
                seed: int = 0, eval_every: int = 50, eval_batches: int = 10,
                peak_size: int = 2048) -> dict:
    """Amortised milliseconds per training step at the stage that trains N = n (a network of
    n - 1 modules of ``module_size`` neurons grown with random weights, not trained), per prefix
    pool P and torch thread count, interleaved round by round on identical batches.

    Per variant and round: ``steps`` SGD steps (real, varying sequence lengths; P = 1 is the default
    per-batch path, P > 1 the pooled path with ``manual_bptt``) and ``test_batches`` criterion test
    batches; the amortised step is step + eval_batches / eval_every x test batch (the default
    criterion's checks, confirmations left out). Wall time is the median over rounds; CPU time
    (process time: all threads) is reported beside it, since on a busy machine wall time also counts
    waiting for a core. GFLOP/s is the dense work of the per-batch engine (every module at every
    step, ``_dense_flops``) over the amortised wall time; the pooled path does less work than that
    (it skips states the feed never needs), so its figure is an effective one. ``peak_gflops``:
    ``matmul_peak(peak_size)`` at each thread count. ``max_rss_mb``: the process's peak resident
    memory (all variants together). ``busiest_thread_cpu_ms``: the CPU time of the busiest thread
    per amortised step (from /proc): with the amortised CPU time over the thread count, it bounds
    from below what the wall time would be on idle cores."""
    if n < 3:
        raise ValueError(f"n must be >= 3 (a frozen prefix needs two modules), got {n}")
    if rounds < 1 or test_batches < 0:
        raise ValueError("rounds must be >= 1 and test_batches >= 0")
    steps = steps or 2 * max(pools)
    base = GrowthConfig(module_size=module_size, max_n=n, batch_size=batch_size, seed=seed,
                        eval_every=eval_every, eval_batches=eval_batches)
    net0 = network_at_stage(base, n, torch.Generator().manual_seed(seed))
    ns = head_ns(base, len(net0.heads))
    variants = []
    for th in threads:
        for p in pools:
            cfg = dataclasses.replace(base, prefix_pool=p, manual_bptt=manual_bptt and p > 1)
            net = copy.deepcopy(net0)
            stage = Stage(net, cfg)
            stage.chunk = chunk
            variants.append({"threads": th, "pool": p, "manual_bptt": cfg.manual_bptt,
                             "cfg": cfg, "net": net, "stage": stage,
                             "wall": [], "cpu": [], "test_wall": [], "test_cpu": [],
                             "busiest": []})

    prev = torch.get_num_threads()
    peaks = {}
    step_work, test_work = [], []
    try:
        for th in threads:
            torch.set_num_threads(th)
            peaks[th] = round(matmul_peak(peak_size), 1)
        for r in range(rounds):
            rs = seed * 1000 + r
            for work, g_seed, k in ((step_work, rs, steps), (test_work, rs + 500, test_batches)):
                work.append(sum(_dense_flops(net0.n_blocks, module_size, batch_size, t) for t in
                                drawn_lengths(net0, ns, batch_size,
                                              torch.Generator().manual_seed(g_seed), k)))
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for v in order:
                torch.set_num_threads(v["threads"])
                timed = _time_round(v["stage"], v["net"], ns, v["pool"], rs, steps,
                                    test_batches, batch_size, eval_batches / eval_every)
                for key, value in timed.items():
                    v[key].append(value)
    finally:
        torch.set_num_threads(prev)
    share = eval_batches / eval_every
    flops = statistics.mean(step_work) / steps + share * (
        statistics.mean(test_work) / test_batches if test_batches else 0)
    rows = []
    for v in variants:
        med = lambda xs: 1000 * statistics.median(xs) if xs else 0.0  # noqa: E731
        amort = med(v["wall"]) + share * med(v["test_wall"])
        rows.append({"threads": v["threads"], "pool": v["pool"], "manual_bptt": v["manual_bptt"],
                     "step_ms": round(med(v["wall"]), 1), "step_cpu_ms": round(med(v["cpu"]), 1),
                     "test_batch_ms": round(med(v["test_wall"]), 1),
                     "test_batch_cpu_ms": round(med(v["test_cpu"]), 1),
                     "amortised_ms": round(amort, 1),
                     "amortised_cpu_ms": round(med(v["cpu"]) + share * med(v["test_cpu"]), 1),
                     "busiest_thread_cpu_ms": round(med(v["busiest"]), 1),
                     "gflops": round(flops / amort / 1e6, 1),
                     "peak_fraction": round(flops / amort / 1e6 / peaks[v["threads"]], 3)})
    for row in rows:
        ref = next(o for o in rows if o["threads"] == row["threads"] and o["pool"] == min(pools))
        row["speedup"] = round(ref["amortised_ms"] / row["amortised_ms"], 2)
        row["speedup_vs_first"] = round(rows[0]["amortised_ms"] / row["amortised_ms"], 2)
    return {"module_size": module_size, "n": n, "n_modules": net0.n_blocks,
            "frozen_modules": variants[0]["stage"].first, "batch_size": batch_size,
            "steps_per_round": steps, "rounds": rounds, "test_batches": test_batches,
            "eval_share": share, "chunk": chunk, "peak_gflops": peaks, "peak_size": peak_size,
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rows": rows}


def cost_by_n(ns=(100, 125, 150, 175, 200), module_size: int = 10, pool: int = 4,
              batch_size: int = 256, steps: int = 16, test_batches: int = 8, rounds: int = 5,
              seed: int = 0) -> dict:
    """How the cost of a batch grows with N on this machine, measured under control: per stage
    N = n of ``ns`` (n - 1 modules of ``module_size`` with random weights, the frozen prefix
    pooled ``pool`` batches at a time with ``manual_bptt``, as the far-growth runs train) the
    wall seconds of a training step and of a criterion test batch, one torch thread, the stages
    interleaved round by round (the order rotating) so that a drift of the machine's speed falls
    on every N alike. Per round and n: "step_ms", "test_ms", and the pooled path's work for
    the very batches timed (``step_flops``, the dense work of a test batch; their sequence
    lengths redrawn from the same seeds) over that time, "step_gflops" and "test_gflops": the
    rate, free of the batch-to-batch spread of sequence lengths that the times carry. ``load``
    is the 1-minute load average before and after: a measurement on a busy machine says so. Fit
    and read it with ``cost_fit``."""
    if len(set(ns)) < 2 or min(ns) < 3 or rounds < 1 or steps < 1 or test_batches < 1:
        raise ValueError("cost_by_n needs at least 2 distinct n >= 3 and rounds, steps, "
                         "test_batches >= 1")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    load = [round(os.getloadavg()[0], 2)]
    stages = []
    try:
        for n in ns:
            cfg = GrowthConfig(module_size=module_size, max_n=n, batch_size=batch_size,
                               seed=seed, prefix_pool=pool, manual_bptt=pool > 1)
            net = network_at_stage(cfg, n, torch.Generator().manual_seed(seed))
            stages.append((n, net, Stage(net, cfg), head_ns(cfg, len(net.heads))))
        rows = []
        for r in range(rounds):
            for n, net, stage, heads in stages[r % len(stages):] + stages[:r % len(stages)]:
                rs = seed * 1000 + r
                t = _time_round(stage, net, heads, pool, rs, steps, test_batches, batch_size,
                                0.0)
                step = statistics.mean(step_flops(n, module_size, batch_size, k) for k in
                                       drawn_lengths(net, heads, batch_size,
                                                     torch.Generator().manual_seed(rs), steps))
                test = statistics.mean(_dense_flops(n - 1, module_size, batch_size, k) for k in
                                       drawn_lengths(net, heads, batch_size,
                                                     torch.Generator().manual_seed(rs + 500),
                                                     test_batches))
                rows.append({"n": n, "round": r, "step_ms": 1000 * t["wall"],
                             "test_ms": 1000 * t["test_wall"],
                             "step_gflops": step / t["wall"] / 1e9,
                             "test_gflops": test / t["test_wall"] / 1e9})
    finally:
        torch.set_num_threads(prev)
    load.append(round(os.getloadavg()[0], 2))
    return {"ns": list(ns), "module_size": module_size, "pool": pool, "batch_size": batch_size,
            "threads": 1, "steps": steps, "test_batches": test_batches, "rounds": rounds,
            "load": load, "rows": rows}


def _pairwise_slope(x: list[float], y: list[float]) -> float:
    """Theil-Sen exponent of y ~ x^b without an interval (the median slope of every pair on
    log-log axes): for a model's values, which carry no noise; two points suffice."""
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    return statistics.median((ly[j] - ly[i]) / (lx[j] - lx[i])
                             for i in range(len(lx)) for j in range(i + 1, len(lx)))


def cost_fit(result: dict) -> dict:
    """``cost_by_n``'s measurement fitted: per kind of batch ("step", "test") the exponent b of
    time ~ N^b (Theil-Sen over every round's point, bootstrap 95 % interval), the exponent of the
    work model at the mean length over the same N ("work": what the far run's fit is read
    against), the exponent of the rate GFLOP/s ~ N^r with its interval ("rate": below 0, each
    FLOP costs more as N grows) and the median GFLOP/s per n ("gflops", n -> value)."""
    from .stats import power_law_fit

    rows, m, b = result["rows"], result["module_size"], result["batch_size"]
    ns = sorted(set(result["ns"]))
    work = {"step": [amortised_flops(n, m, b, 0.0) for n in ns],
            "test": [batch_flops(n, m, b) for n in ns]}
    out = {}
    for kind in ("step", "test"):
        x = [r["n"] for r in rows]
        fit = power_law_fit(x, [r[f"{kind}_ms"] for r in rows], robust=True)
        out[kind] = {**fit, "work": _pairwise_slope(ns, work[kind]),
                     "rate": power_law_fit(x, [r[f"{kind}_gflops"] for r in rows], robust=True),
                     "gflops": {n: statistics.median(r[f"{kind}_gflops"] for r in rows
                                                     if r["n"] == n) for n in ns}}
    return out


# ----- what bounds the large-N step ----------------------------------------------------------

def mean_length(n: int) -> float:
    """Mean training sequence length at the stage whose largest N is n (uniform over
    ``sequence_length_range(n)``)."""
    lo, hi = sequence_length_range(n)
    return (lo + hi - 1) / 2


def scan_block_steps(k: int, steps: int, feed: bool) -> int:
    """Block updates (one block, one time step) of a pooled no-grad scan of k blocks over
    ``steps`` steps (``engine._fused_scan``): every block at every step for final states; for a
    feed, block d at step t only where the feed's later steps need it (d >= t + k + 1 - steps),
    which skips a triangle of about k^2 / 2 updates at the end."""
    if not feed:
        return k * steps
    return sum(k - max(0, t + k + 1 - steps) for t in range(steps) if t + k + 1 - steps < k)


def amortised_flops(n: int, module_size: int, batch_size: int, eval_share: float) -> float:
    """The work the pooled path does for one amortised step at stage N = n (n - 1 modules, the
    mean sequence length): the frozen prefix's feed scan (``scan_block_steps``), the trainable
    module forward and backward (counted as 3 block updates per step), and ``eval_share`` test
    batches through all n - 1 modules. Data generation and the optimiser are left out: a floor."""
    t = round(mean_length(n))
    return (step_flops(n, module_size, batch_size, t)
            + eval_share * _dense_flops(n - 1, module_size, batch_size, t))


def step_flops(n: int, module_size: int, batch_size: int, length: int) -> float:
    """The pooled path's work for one training step at stage N = n on sequences of ``length``:
    the frozen prefix's feed scan (``scan_block_steps``) and the trainable module's forward and
    backward (3 block updates per step)."""
    per_update = 2 * module_size * (2 * module_size + 2) * batch_size
    return per_update * (scan_block_steps(n - 2, length, feed=True) + 3 * length)


def batch_flops(n: int, module_size: int, batch_size: int) -> float:
    """Work of one criterion test batch at stage N = n: every one of the n - 1 modules at every
    step of the mean length."""
    return _dense_flops(n - 1, module_size, batch_size, round(mean_length(n)))


def _concurrent_rate(make_task, workers: int, flops_per_task: float, repeats: int) -> float:
    """GFLOP/s of ``workers`` copies of a task run at once, one per thread (each thread with one
    torch intra-op thread, as the pooled path runs its tasks); best of ``repeats``."""
    tasks = [make_task() for _ in range(workers)]
    with ThreadPoolExecutor(workers, initializer=lambda: torch.set_num_threads(1)) as ex:
        list(ex.map(lambda f: f(), tasks))  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(ex.map(lambda f: f(), tasks))
            best = min(best, time.perf_counter() - t0)
    return workers * flops_per_task / best / 1e9


def bench_bound(module_size: int = 10, n: int = 201, threads=(1, 2), batch_size: int = 256,
                chunk: int = POOL_CHUNK, scan_steps: int = 40, repeats: int = 3,
                eval_every: int = 50, eval_batches: int = 10, peak_size: int = 2048,
                target_ms: float = 150.0, seed: int = 0) -> dict:
    """What bounds the amortised step at stage N = n on this machine (random weights: the cost
    does not depend on them). ``amortised_gflop``: ``amortised_flops``, the pooled path's work.

    Per thread count T (T scans at once, one intra-op thread each): ``peak_gflops``, the large
    matmul; ``product_gflops``, the scan's product alone (``torch.bmm`` of [K, M, 2M+2] x
    [K, 2M+2, chunk], K = n - 2 frozen modules); ``scan_gflops``, the engine's whole no-grad scan
    (``engine.pool_tasks`` for final states: product, leaky ReLU and leaky integration of every
    block per time step) over ``scan_steps`` steps of ``chunk`` columns. ``floor_ms`` = ``amortised_flops`` over the scan
    rate: what the amortised step would cost if all of it ran as fast as the scan does (no data
    generation, no backward pass, no Python); ``product_floor_ms`` the same at the product's rate,
    ``peak_floor_ms`` at the matmul peak. ``target_ms`` is compared with them."""
    if n < 3 or chunk < 1 or scan_steps < 1 or repeats < 1 or not threads:
        raise ValueError("bench_bound needs n >= 3, chunk, scan_steps, repeats >= 1 and threads")
    k, m = n - 2, module_size
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, m, 2 * m + 2, generator=g) * 0.1
    decay = torch.rand(k, m, 1, generator=g)
    scan_flops = _dense_flops(k, m, chunk, scan_steps)

    def scan_task():  # final states: every block at every step, the dense work
        x = (torch.rand(chunk, scan_steps, 1, generator=g) < 0.5).float()
        h0 = torch.zeros(k, chunk, m)
        (task,), _ = pool_tasks((w, decay), [x], [h0], feed=False, chunk=chunk)
        return task

    def product_task():
        rhs = torch.randn(k, 2 * m + 2, chunk, generator=g)
        out = torch.empty(k, m, chunk)

        def run():
            for _ in range(scan_steps):
                torch.bmm(w, rhs, out=out)
        return run

    share = eval_batches / eval_every
    flops = amortised_flops(n, m, batch_size, share)
    prev = torch.get_num_threads()
    rows = []
    try:
        for th in threads:
            torch.set_num_threads(th)
            # rates as reported (rounded), so that each row's floors follow from its own rates
            peak = round(matmul_peak(peak_size), 3)
            torch.set_num_threads(1)
            product = round(_concurrent_rate(product_task, th, scan_flops, repeats), 3)
            scan = round(_concurrent_rate(scan_task, th, scan_flops, repeats), 3)
            rows.append({"threads": th, "peak_gflops": peak,
                         "product_gflops": product, "scan_gflops": scan,
                         "product_of_peak": round(product / peak, 3),
                         "scan_of_peak": round(scan / peak, 3),
                         "peak_floor_ms": round(flops / peak / 1e6, 1),
                         "product_floor_ms": round(flops / product / 1e6, 1),
                         "floor_ms": round(flops / scan / 1e6, 1)})
    finally:
        torch.set_num_threads(prev)
    return {"module_size": m, "n": n, "frozen_modules": k, "batch_size": batch_size,
            "chunk": chunk, "scan_steps": scan_steps, "mean_length": mean_length(n),
            "eval_share": share, "amortised_gflop": round(flops / 1e9, 2),
            "target_ms": target_ms, "rows": rows}


def growth_work(stages: list[dict], module_size: int, batch_size: int, eval_batches: int,
                confirm_batches: int) -> dict[str, float]:
    """The forward work (FLOPs) the pooled path does in a stored growth run, from its history's
    ``stages`` (per stage N: ``steps``, ``checks`` and ``rejected`` confirmations): "train", steps
    x ``amortised_flops`` without test share; "checks", checks x eval_batches test batches;
    "confirmations", (rejected + 1) x confirm_batches test batches (``batch_flops``; the last,
    unsolved stage of a stopped run counts one confirmation too many)."""
    total = {"train": 0.0, "checks": 0.0, "confirmations": 0.0}
    for st in stages:
        n = int(st["n"])
        total["train"] += st["steps"] * amortised_flops(n, module_size, batch_size, 0.0)
        test = batch_flops(n, module_size, batch_size)
        total["checks"] += st.get("checks", 0) * eval_batches * test
        total["confirmations"] += (st.get("rejected", 0) + 1) * confirm_batches * test
    return total


def growth_floor(stages: list[dict], module_size: int, batch_size: int, eval_batches: int,
                 confirm_batches: int, gflops: float) -> dict:
    """``growth_work`` of a stored growth run in TFLOP and the minutes it takes at ``gflops``: a
    floor for a run of the same protocol and step counts on a machine that computes at that
    rate."""
    if gflops <= 0:
        raise ValueError(f"gflops must be > 0, got {gflops}")
    total = growth_work(stages, module_size, batch_size, eval_batches, confirm_batches)
    flops = sum(total.values())
    return {"tflop": round(flops / 1e12, 1),
            "tflop_parts": {key: round(v / 1e12, 1) for key, v in total.items()},
            "gflops": gflops, "floor_minutes": round(flops / gflops / 1e9 / 60, 1)}


def bench_perturb(module_size: int = 10, n_modules: int = 50, *, eps_points: int = 10,
                  trials: int = 10, warmup: int = 100, steps: int = 1000, batch: int = 64,
                  per_module: bool = False, seed: int = 0) -> dict:
    """Seconds (wall and CPU) of chapter 5's eps sweep of one modular network of ``n_modules``
    modules (grown with random weights, not trained: the cost does not depend on the weights):
    every matrix class (within, between, input, hidden) at every eps of {0} U geomspace(1e-2, 10,
    ``eps_points``), ``trials`` trials, both measures (streaming over ``warmup + steps`` steps and
    end of sequence over ``batch`` sequences). With ``per_module``, also every module's within-
    and between-module matrices alone (the chapter does this at module size 10 only)."""
    from . import perturbation as pt

    if n_modules < 2:
        raise ValueError(f"n_modules must be >= 2, got {n_modules}")
    cfg = GrowthConfig(module_size=module_size, max_n=n_modules + 1, seed=seed)
    net = network_at_stage(cfg, n_modules + 1, torch.Generator().manual_seed(seed))
    ns = head_ns(cfg, len(net.heads))
    groups = {c: pt.matrix_names(net, c) for c in pt.CLASSES}
    if per_module:
        for k in range(net.n_blocks):
            groups[f"within@{k}"] = pt.matrix_names(net, "within", [k])
            if k:
                groups[f"between@{k}"] = pt.matrix_names(net, "between", [k])
    eps = pt.eps_grid(eps_points)
    w0, c0 = time.perf_counter(), time.process_time()
    pt.sweep(net, ns, groups, eps, trials=trials, warmup=warmup, steps=steps, batch=batch,
             seed=seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"module_size": module_size, "n_modules": net.n_blocks, "heads": len(net.heads),
            "groups": len(groups), "eps": len(eps), "trials": trials,
            "stream_steps": warmup + steps, "eos_batch": batch,
            "variants_per_trial": len(groups) * len(eps), "threads": torch.get_num_threads(),
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
