"""Command line: ``python -m modgrow {grow,baseline,gated,bench,reproduce,results,compute,sweep,
import}``; see ``--help``. The flags of grow, baseline and gated are generated from the fields of
``GrowthConfig``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DESCRIPTION = """\
modgrow: grow modular recurrent networks on the N-parity curriculum (Hamidi et al., ALIFE 2024)
and compare them with a non-modular multi-head network.

commands:
  grow       grow a modular network: one module of M neurons and one head per N
  baseline   train the non-modular multi-head network (one population, a head per N)
  gated      train a GRU or LSTM multi-head network (one gated population, a head per N)
  bench      time one training step, fast engine against the naive per-module loop; with
             --large, the per-batch against the pooled frozen prefix at large N; with
             --bound, what bounds the large-N step (scan rate against the matmul peak)
  reproduce  recompute a stored result from its config and say whether it matches; with
             --statistics, rerun every seed of an experiment and compare its statistics
  results    list the stored results with their configs and provenance
  compute    load or run every config of one of the book's experiments (see 'compute --help')
             in the active profile (MODGROW_PROFILE=paper|quick), then its analyses; with
             --stored-only, the analyses of the stored runs, training nothing
  sweep      run an experiment's configs as jobs through submitit: local processes or a SLURM
             job array (see 'sweep --help'); resubmitting resumes
  import     store finished run folders (from grow/baseline --out) in the results store
Run 'python -m modgrow COMMAND --help' for the flags of each command."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


MAX_THREADS = 1024


def _threads(s: str) -> int:
    """A torch thread count: 1 to MAX_THREADS (a typo like 100000 would exhaust the memory map
    of the process before torch could refuse it)."""
    v = _positive_int(s)
    if v > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_THREADS}, got {v}")
    return v


def _run_folder(s: str) -> Path:
    if not s.strip():
        raise argparse.ArgumentTypeError(f"must name a folder, got {s!r}")
    return Path(s)


def _bit_prob(s: str):
    if s == "per_batch":
        return s
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'per_batch' or a probability, got {s!r}")
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {v}")
    return v


def _flag_type(f):
    """argparse type of a config field, from its default."""
    if f.name == "bit_prob":
        return _bit_prob
    if isinstance(f.default, bool):
        return _bool
    if isinstance(f.default, int) or f.name == "max_total_steps":
        return int
    if isinstance(f.default, float):
        return _finite
    return str


def _bool(s: str) -> bool:
    low = s.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {s!r}")


def _finite(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {s!r}")
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {s!r}")
    return v


def _add_config_flags(p: argparse.ArgumentParser, defaults: dict) -> None:
    """One flag per field of GrowthConfig (its help and default from the field: one source)."""
    from dataclasses import MISSING, fields

    from .training import GrowthConfig

    for f in fields(GrowthConfig):
        if not f.metadata.get("flag", True):
            continue
        default = defaults.get(f.name, f.default if f.default is not MISSING else None)
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=_flag_type(f),
                       default=default, metavar=f.name.upper(),
                       help=f"{f.metadata['help']} (default {default})".replace("%", "%%"))


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=_run_folder, required=True,
                   help="run folder: history.json and a checkpoint per stage go here (refused "
                   "before any training when it is a file or cannot be written)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed stage")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="default cpu")
    p.add_argument("--threads", type=_threads, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _help_profile():
    """The profile the help text describes: the active one, or the book's when MODGROW_PROFILE
    is bad (the command itself then stops on that with one line)."""
    from .profiles import PAPER, active

    try:
        return active()
    except ValueError:
        return PAPER


def build_parser() -> argparse.ArgumentParser:
    from .experiments import REGISTRY
    from .gated import CELLS
    from .training import GATED_DEFAULTS, NONMODULAR_DEFAULTS

    parser = _Parser(prog="python -m modgrow", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("grow", help="grow a modular network along the curriculum",
                       description="Grow a modular network: start with one module of "
                       "--module-size neurons and a head for N=2; each time the criterion "
                       "(mean accuracy over all heads and newest head above --threshold) is met, "
                       "add a module fed by the last one and a head for N+1. Every flag below "
                       "is a field of the run's config (modgrow.training.GrowthConfig).")
    _add_run_flags(g)
    _add_config_flags(g, {})

    b = sub.add_parser("baseline", help="train the non-modular multi-head network",
                       description="Train one population of --module-size neurons with a head "
                       "per N, all heads trained together; a head is added at each curriculum "
                       "step (the ICLR 2024 multi-head curriculum) with the same neuron model and "
                       "criterion as 'grow'. Modular-only fields (gamma, fix-within, "
                       "train-old-taus) must stay at their defaults.")
    _add_run_flags(b)
    _add_config_flags(b, NONMODULAR_DEFAULTS)

    gd = sub.add_parser("gated", help="train a GRU or LSTM multi-head network",
                        description="Train one nn.GRU or nn.LSTM population of --module-size "
                        "hidden units with a linear head per N reading its final hidden state, "
                        "all heads trained together, a head added at each curriculum step, with "
                        "the same tasks, criterion and budgets as 'baseline'. Defaults follow the "
                        "authors' LSTM: Adam, lr 1e-3, gradient clipping at 2. Modular-only "
                        "fields must stay at their defaults.")
    gd.add_argument("--cell", choices=CELLS, required=True, help="the gated cell")
    _add_run_flags(gd)
    _add_config_flags(gd, GATED_DEFAULTS)

    be = sub.add_parser("bench", help="time one training step, fast against naive",
                        description="Time a full training step (forward, backward, optimiser "
                        "step) at the curriculum stage that trains N, with this package's fast "
                        "engine and with a naive per-module loop that keeps autograd through "
                        "every module; prints both and their ratio. With --large: the amortised "
                        "step (criterion tests included) with the per-batch frozen prefix "
                        "(prefix_pool 1) against the pooled one (--pools), per thread count. With --bound: "
                        "what bounds the large-N step (the scan's rate against the matmul peak, "
                        "and the floor it puts under a step and, with --run, a whole stored run).")
    be.add_argument("--module-size", type=_positive_int, default=10, help="default 10")
    be.add_argument("--n", type=int, default=21, help="curriculum stage N (>= 2, default 21)")
    be.add_argument("--batch-size", type=_positive_int, default=256, help="default 256")
    be.add_argument("--repeats", type=_positive_int, default=10,
                    help="timed steps per implementation; the median is reported (default 10)")
    be.add_argument("--no-naive", action="store_true", help="time the fast engine only")
    be.add_argument("--threads", type=_threads, default=None, help="torch CPU threads")
    be.add_argument("--json", action="store_true", help="print one JSON object")
    be.add_argument("--large", action="store_true",
                    help="large-N mode: amortised training step (criterion tests included) with "
                    "the per-batch prefix against the pooled prefix (--pools), per thread count "
                    "(--thread-counts), interleaved on identical batches, with GFLOP/s against a "
                    "matmul timed in the same process; no naive loop (try --n 201)")
    be.add_argument("--pools", type=_int_list, default=[1, 4],
                    help="large mode: prefix_pool values, comma-separated (default 1,4; 1 is "
                    "the default per-batch path)")
    be.add_argument("--thread-counts", type=_thread_list, default=None,
                    help="large mode: torch thread counts to compare, comma-separated (default: "
                    "--threads, else torch's choice)")
    be.add_argument("--steps", type=_positive_int, default=None,
                    help="large mode: SGD steps per variant and round (default 2 x the largest "
                    "pool)")
    be.add_argument("--rounds", type=_positive_int, default=3,
                    help="large mode: interleaved rounds; medians are reported (default 3)")
    be.add_argument("--test-batches", type=int, default=4,
                    help="large mode: criterion test batches timed per variant and round "
                    "(default 4)")
    be.add_argument("--autograd-bptt", action="store_true",
                    help="large mode: pooled variants keep autograd (manual_bptt off)")
    be.add_argument("--chunk", type=int, default=None,
                    help="large mode: columns per pooled scan (default the engine's; 0 = one "
                    "scan over the whole pool)")
    be.add_argument("--perturb", action="store_true",
                    help="perturbation mode: time chapter 5's eps sweep of one modular network "
                    "of --modules modules (every matrix class, the active profile's eps grid, "
                    "trials, streaming steps and batch; random weights: the cost does not depend "
                    "on them)")
    be.add_argument("--modules", type=_positive_int, default=50,
                    help="perturbation mode: modules of the network (default 50)")
    be.add_argument("--per-module", action="store_true",
                    help="perturbation mode: also perturb every module's matrices alone")
    be.add_argument("--bound", action="store_true",
                    help="bound mode: what bounds the large-N step (try --n 201): the rate of "
                    "the engine's no-grad scan and of its product alone against the matmul peak, "
                    "per thread count (--thread-counts, default 1,2), and the floor each rate puts "
                    "under the amortised step")
    be.add_argument("--run", metavar="RESULT", default=None,
                    help="bound mode: also the floor under a whole stored growth run (its stages' "
                    "steps, checks and confirmations) at each measured rate")
    be.add_argument("--peak-size", type=_positive_int, default=2048,
                    help="large mode: side of the square float32 matmul that measures the peak "
                    "GFLOP/s (default 2048)")
    r = sub.add_parser("reproduce", help="recompute a stored run (or, with --statistics, a "
                       "whole experiment) and compare",
                       description=REPRODUCE_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("result", metavar="RESULT", help="stored result: its folder, its name under "
                   "results/, or a unique prefix of that name (see 'python -m modgrow "
                   "results'); with --statistics, an experiment: one of "
                   + ", ".join(sorted(REGISTRY)))
    r.add_argument("--up-to-n", type=int, default=None,
                   help="only recompute the stages up to this N (a quicker partial check)")
    r.add_argument("--statistics", action="store_true",
                   help="EXPENSIVE (reruns every seed of the experiment, as long as computing "
                   "it): check the experiment's summary statistics against the stored runs' "
                   "intervals instead of bit-exact identity of one run")
    r.add_argument("--scratch", type=_run_folder, default=None, metavar="DIR",
                   help="with --statistics: store the recomputed runs here (kept; runs already "
                   "there are reused, so an interrupted check resumes) instead of a temporary "
                   "folder; never the results store")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("results", help="list stored results",
                   description="List the stored results (folder, status, max N, wall time, "
                   "git commit, date). MODGROW_RESULTS overrides the results folder. A result "
                   "that cannot be read (garbled JSON, a network that does not match its "
                   "recorded hash, ...) gets one error line on stderr and the exit status is "
                   "2; the others are still listed. Temp files left by killed writes are "
                   "deleted.")
    c = sub.add_parser("compute", help="load or run an experiment of the book",
                       description="Load every stored result of one experiment of the book, "
                       "running (resumably) and storing the missing ones, then its analyses. "
                       "With --stored-only nothing is trained: when a run of the experiment is "
                       "not stored the command exits 2 with one line (how many are missing, the "
                       "first one's name), and so does an analysis that needs a run which is not "
                       "stored. The profile comes from MODGROW_PROFILE (paper, the default, or "
                       "quick), the store from MODGROW_RESULTS.")
    c.add_argument("experiment", choices=sorted(REGISTRY), metavar="EXPERIMENT",
                   help="; ".join(f"{k}: {e.describe(_help_profile())}"
                                  for k, e in sorted(REGISTRY.items())))
    c.add_argument("--no-analyses", action="store_true",
                   help="only the runs, not the experiment's derived analyses")
    c.add_argument("--stored-only", action="store_true",
                   help="train nothing: run the analyses over the stored runs, exit 2 when "
                   "one is missing")
    c.add_argument("--store-reached", action="store_true",
                   help="train nothing: store each of the experiment's runs in progress (in "
                   "the scratch folder runs/store/) as the run up to the N it has solved so far "
                   "(max_n is a budget, so that is exactly the shorter run); the run in progress "
                   "is left to continue")
    c.add_argument("--shard", default="0/1",
                   help="I/N: take configs I, I+N, ... so N processes share the work")
    c.add_argument("--threads", type=_threads, default=None, help="torch CPU threads")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_sweep_parser(sub, REGISTRY)
    im = sub.add_parser("import", help="store finished run folders",
                        description="Copy the history and final network of finished runs "
                        "made with 'grow'/'baseline --out FOLDER' into the results store, after "
                        "checking them. A result already stored for the same config is not "
                        "replaced without --force.")
    im.add_argument("folders", nargs="+", type=Path, help="run folders")
    im.add_argument("--force", action="store_true",
                    help="replace a result already stored for the same config")
    return parser


REPRODUCE_DESCRIPTION = """\
Recompute a stored curriculum run from the config saved with it and compare every stage (N, steps
to criterion, accuracy of every head). Exit 0 when identical, 1 when not. Bit-exact identity is
expected on the same platform only (the torch version, machine and thread count of the stored
provenance; the stored thread count is used): the command says which case applies. On another
CPU a run differs in the 4th decimal at N = 4 and in its step counts from N = 8; compare
statistics there:

  reproduce --statistics EXPERIMENT
      EXPENSIVE: recomputes every run of the experiment (every seed, in the active profile
      MODGROW_PROFILE) into a scratch store (a temporary folder, or --scratch DIR; never the
      results store), sequentially. Per group of runs that differ only in their seed and per
      statistic (max N reached; total steps and median steps per stage, on a log scale) it
      prints the stored mean with its 95 % interval (a t prediction interval for the mean of as
      many new seeds: mean +- t(n-1) * sd * sqrt(2/n)), the recomputed mean and whether it lies
      within. A group with one seed cannot be judged: its values are shown, marked n/a.
      Exit 0 when every judged row is within, 1 when one is outside, 2 for bad input (an
      unknown experiment, runs missing from the store)."""


SWEEP_DESCRIPTION = """\
Run every config of one of the book's experiments as its own job through submitit, then the
experiment's analyses. The profile comes from MODGROW_PROFILE (paper, the default, or quick) and
the store from MODGROW_RESULTS; both are exported to the jobs. Configs already stored are not
submitted, so rerunning the same command resubmits exactly what is missing; each job calls
load_or_run, which resumes a stopped run from its last stage checkpoint (runs/store/ beside the
store) and writes the result atomically. A job that reaches --time is requeued (up to 3 times).

  --executor local  (default) jobs are local processes, --array-parallelism at once; the sweep
                    waits for them, prints a line per change, then runs the analyses.
  --executor slurm  one SLURM job array (needs sbatch and srun; run it on a login node with the
                    store on a shared file system); the sweep returns once the array is queued
                    and prints the command that stores the analyses afterwards
                    ('python -m modgrow compute NAME --stored-only', which only loads
                    the runs and trains nothing: it exits 2 while one is missing).

Exit status: 0, 1 when a local job failed (their log files are listed), 2 for bad flags."""


def _add_sweep_parser(sub, registry) -> None:
    from .sweep import DEFAULT_TIME_MIN, EXECUTORS

    s = sub.add_parser("sweep", help="run an experiment's configs as local or SLURM jobs",
                       description=SWEEP_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("experiment", choices=sorted(registry), metavar="EXPERIMENT",
                   help="one of: " + ", ".join(sorted(registry)))
    s.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local processes or a SLURM job array (default local)")
    s.add_argument("--partition", default=None,
                   help="SLURM partition (default: the cluster's default partition)")
    s.add_argument("--time", dest="time_min", type=_positive_int, default=DEFAULT_TIME_MIN,
                   metavar="MIN", help="wall-clock limit of each job in minutes; a job that "
                   f"reaches it is requeued and resumes (default {DEFAULT_TIME_MIN})")
    s.add_argument("--cpus-per-task", type=_positive_int, default=None, metavar="C",
                   help="SLURM cpus per task (default: --threads)")
    s.add_argument("--array-parallelism", type=_positive_int, default=None, metavar="K",
                   help="jobs running at once (default: the local cores divided by --threads; "
                   "on SLURM up to 256)")
    s.add_argument("--threads", type=_threads, default=1, metavar="T",
                   help="torch threads (and OMP_NUM_THREADS) of each job (default 1)")
    s.add_argument("--log-dir", type=Path, default=None, metavar="DIR",
                   help="submitit's folder: job pickles and logs (default runs/sweep/EXPERIMENT "
                   "beside the store; on SLURM it must be on a shared file system)")
    s.add_argument("--dry-run", action="store_true",
                   help="list the configs (index, store key, stored or missing); submit nothing")


def _run_sweep(args) -> int:
    from .sweep import SweepOptions, run_sweep

    opts = SweepOptions(experiment=args.experiment, executor=args.executor,
                        partition=args.partition, time_min=args.time_min,
                        cpus_per_task=args.cpus_per_task,
                        array_parallelism=args.array_parallelism, threads=args.threads,
                        log_dir=args.log_dir, dry_run=args.dry_run)
    return run_sweep(opts)


def _config_from_args(args):
    from dataclasses import fields

    from .training import GrowthConfig

    values = {f.name: getattr(args, f.name) for f in fields(GrowthConfig) if hasattr(args, f.name)}
    arch = {"grow": "modular", "baseline": "nonmodular"}.get(args.command) or args.cell
    return GrowthConfig(architecture=arch, **values)


def _run_curriculum(args) -> int:
    import torch

    from .training import train_curriculum

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    cfg = _config_from_args(args)
    res = train_curriculum(cfg, args.out, resume=args.resume, progress=not args.quiet,
                           device=args.device)
    h = res.history
    total = sum(s["seconds"] for s in h["stages"])
    print(f"{h['status']}: {h['message']}; max N reached {h.get('max_n_reached')}; "
          f"{sum(s['steps'] for s in h['stages'])} steps, {total:.0f} s; "
          f"history in {args.out / 'history.json'}")
    return 0


def _int_list(s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {s!r}")
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"must be integers >= 1, got {s!r}")
    return vals


def _thread_list(s: str) -> list[int]:
    vals = _int_list(s)
    if max(vals) > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_THREADS}, got {s!r}")
    return vals


def _run_bench(args) -> int:
    import torch

    from .bench import bench_step

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.large + args.perturb + args.bound > 1:
        raise ValueError("--large, --perturb and --bound are separate modes: choose one")
    if args.run and not args.bound:
        raise ValueError("--run goes with --bound")
    if args.bound:
        return _run_bench_bound(args)
    if args.large:
        return _run_bench_large(args)
    if args.perturb:
        return _run_bench_perturb(args)
    r = bench_step(args.module_size, args.n, args.batch_size, repeats=args.repeats,
                   naive=not args.no_naive)
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print(f"stage N={r.n}: {r.n_modules} modules of {r.module_size}, batch {r.batch_size}, "
              f"sequence length {r.seq_len}, {r.threads} threads, median of {r.repeats} steps")
        print(f"  naive per-module loop : {r.naive_ms:8.2f} ms/step")
        print(f"  fast engine           : {r.fast_ms:8.2f} ms/step")
        print(f"  speed-up              : {r.speedup:8.2f} x")
    return 0


def _run_bench_perturb(args) -> int:
    from .bench import bench_perturb
    from .profiles import active

    p = active()
    r = bench_perturb(args.module_size, args.modules, eps_points=p.perturb_eps_points,
                      trials=p.perturb_trials, warmup=p.perturb_warmup, steps=p.perturb_steps,
                      batch=p.perturb_batch, per_module=args.per_module)
    if args.json:
        print(json.dumps({"profile": p.name, **r}))
        return 0
    print(f"eps sweep of one network ({p.name} profile): {r['n_modules']} modules of "
          f"{r['module_size']}, {r['heads']} heads, {r['groups']} perturbed groups x {r['eps']} "
          f"eps x {r['trials']} trials, streaming {r['stream_steps']} steps + end of sequence "
          f"{r['eos_batch']} sequences per trial, {r['threads']} thread(s)")
    print(f"  wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak resident memory "
          f"{r['max_rss_mb']} MB")
    return 0


def _run_bench_bound(args) -> int:
    from . import store
    from .bench import bench_bound, growth_floor

    run = None
    if args.run:
        cfg, stored = store.read_stored_run(store.find_result(args.run))
        run = (args.run, cfg, stored["stages"])
        if cfg.architecture != "modular":
            raise ValueError(f"--run {args.run}: a modular growth run is needed")
    r = bench_bound(args.module_size if run is None else run[1].module_size, args.n,
                    threads=args.thread_counts or [1, 2], batch_size=args.batch_size,
                    peak_size=args.peak_size)
    if run is not None:
        name, cfg, stages = run
        r["run"] = {"result": name, "max_n": max(s["n"] for s in stages),
                    "floors": [{"threads": row["threads"], "at": what,
                                **growth_floor(stages, cfg.module_size, cfg.batch_size,
                                               cfg.eval_batches, cfg.confirm_batches,
                                               row[f"{what}_gflops"])}
                               for row in r["rows"] for what in ("scan", "product", "peak")]}
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"stage N={r['n']}: {r['frozen_modules']} frozen modules of {r['module_size']}, batch "
          f"{r['batch_size']}, mean length {r['mean_length']:g}; one amortised step of the pooled "
          f"path (training step + {r['eval_share']:g} test batch) = {r['amortised_gflop']} GFLOP; "
          f"rates from scans of {r['chunk']} columns x {r['scan_steps']} steps")
    print("threads  matmul peak  product alone (of peak)  whole scan (of peak)   floor ms: "
          "peak  product  scan")
    for row in r["rows"]:
        print(f"{row['threads']:7d} {row['peak_gflops']:12.1f} {row['product_gflops']:14.1f} "
              f"({row['product_of_peak']:6.1%}) {row['scan_gflops']:11.1f} "
              f"({row['scan_of_peak']:6.1%}) {row['peak_floor_ms']:15.1f} "
              f"{row['product_floor_ms']:8.1f} {row['floor_ms']:5.1f}")
    print(f"(GFLOP/s; target {r['target_ms']:g} ms per amortised step)")
    if run is not None:
        for f in r["run"]["floors"]:
            print(f"run {r['run']['result']} (to N = {r['run']['max_n']}): {f['tflop']} TFLOP "
                  f"({', '.join(f'{k} {v}' for k, v in f['tflop_parts'].items())}) -> "
                  f"{f['floor_minutes']} min at the {f['at']} rate of {f['threads']} thread(s) "
                  f"({f['gflops']} GFLOP/s)")
    return 0


def _run_bench_large(args) -> int:
    import torch

    from .bench import bench_large
    from .engine import POOL_CHUNK

    chunk = POOL_CHUNK if args.chunk is None else (args.chunk or None)
    r = bench_large(args.module_size, args.n, pools=args.pools,
                    threads=args.thread_counts or [torch.get_num_threads()],
                    batch_size=args.batch_size, steps=args.steps, rounds=args.rounds,
                    test_batches=args.test_batches, manual_bptt=not args.autograd_bptt,
                    chunk=chunk, peak_size=args.peak_size)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"stage N={r['n']}: {r['n_modules']} modules of {r['module_size']} "
          f"({r['frozen_modules']} frozen), batch {r['batch_size']}, {r['steps_per_round']} "
          f"steps + {r['test_batches']} test batches per variant, median of {r['rounds']} "
          f"rounds; amortised = step + {r['eval_share']:g} x test batch; matmul peak "
          + ", ".join(f"{g} GFLOP/s at {t} thread(s)" for t, g in r["peak_gflops"].items()))
    print("threads  pool  bptt      step ms (cpu)   test ms (cpu)   amortised ms (cpu)  "
          "GFLOP/s  of peak  speed-up")
    for row in r["rows"]:
        bptt = "manual" if row["manual_bptt"] else "autograd"
        print(f"{row['threads']:7d} {row['pool']:5d}  {bptt:8s}"
              f"{row['step_ms']:9.1f} ({row['step_cpu_ms']:6.1f}) {row['test_batch_ms']:8.1f} "
              f"({row['test_batch_cpu_ms']:6.1f}) {row['amortised_ms']:11.1f} "
              f"({row['amortised_cpu_ms']:6.1f}) {row['gflops']:9.1f} {row['peak_fraction']:8.1%}"
              f" {row['speedup']:8.2f}x")
    print(f"peak resident memory {r['max_rss_mb']} MB")
    return 0


def _run_store_command(args) -> int:
    from . import store
    from .experiments import compute
    from .profiles import active

    if args.command == "results":
        rows = store.list_results()
        if not rows:
            print(f"no stored results in {store.results_dir()}")
        for r in rows:
            if "problem" not in r:
                print(f"{r['result']:60s} {r['status']:9s} maxN={str(r['max_n']):4s} "
                      f"{str(r['seconds']):>9s}s {r['commit']} {r['date']}")
        bad = [r for r in rows if "problem" in r]
        for r in bad:
            print(f"error: unreadable result {r['problem']}", file=sys.stderr)
        return 2 if bad else 0
    if args.command == "compute" and args.store_reached:
        from .experiments import get
        found = 0
        for cfg in get(args.experiment).configs(active()):
            work = store.scratch_dir() / store.run_path(cfg).name
            if store.load_run(cfg) is None and (work / "history.json").exists():
                run = store.store_reached(cfg)
                found += 1
                print(f"{work.name}: stored up to N = {run.max_n_reached} as {run.path.name}")
        if not found:
            raise FileNotFoundError(f"no run of {args.experiment} in progress in "
                                    f"{store.scratch_dir()}")
        return 0
    if args.command == "compute":
        try:
            i, n = (int(v) for v in args.shard.split("/"))
        except ValueError:
            raise ValueError(f"--shard must be I/N (e.g. 0/2), got {args.shard!r}")
        for run in compute(args.experiment, active(), (i, n), progress=not args.quiet,
                           analyses=not args.no_analyses, stored_only=args.stored_only):
            print(f"{run.path.name}: {run.history['status']}, max N {run.max_n_reached}")
        return 0
    if args.command == "import":
        for folder in args.folders:
            print(f"stored {folder} as {store.import_run_folder(folder, args.force).path}")
        return 0
    if args.command == "reproduce" and args.statistics:
        return _run_statistics(args)
    if args.command == "reproduce":
        if args.scratch is not None:
            raise ValueError("--scratch goes with --statistics only")
        rep = store.reproduce(store.find_result(args.result), args.up_to_n,
                              progress=not args.quiet)
        verdict = "MATCH" if rep["match"] else "DIFFERENT"
        where = ("same platform: bit-exact identity expected" if rep["bit_exact_expected"]
                 else "resumed with another thread count: small float differences are expected"
                 if rep["same_platform"] else
                 "another platform: small float differences are expected, compare statistics")
        if rep["same_platform"] and not rep["cpu_recorded"]:
            where += " (the stored run does not record its CPU model: on another CPU small float "\
                     "differences are expected)"
        print(f"{verdict}: {rep['stages_compared']} stages compared for {rep['result']} "
              f"(stored at {rep['stored_commit'][:12]}, now {rep['now_commit'][:12]}; {where})")
        for d in rep["differences"][:20]:
            print("  " + d)
        return 0 if rep["match"] else 1
    raise ValueError(f"unknown command {args.command}")


def _run_statistics(args) -> int:
    from .profiles import active
    from .replicate import check_experiment, format_check

    if args.up_to_n is not None:
        raise ValueError("--up-to-n does not go with --statistics (it compares whole runs)")
    chk = check_experiment(args.result, active(), args.scratch, progress=not args.quiet)
    print("\n".join(format_check(chk)))
    return 1 if chk.outside else 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command in ("grow", "baseline", "gated"):
            return _run_curriculum(args)
        if args.command == "bench":
            return _run_bench(args)
        if args.command == "sweep":
            return _run_sweep(args)
        if getattr(args, "threads", None):
            import torch
            torch.set_num_threads(args.threads)
        return _run_store_command(args)
    except (ValueError, OSError) as e:  # bad input or data, refused folders, a failed run
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: stage checkpoints and stored results are kept
        again = ("; continue with the same command and --resume"
                 if args.command in ("grow", "baseline", "gated") else
                 "; the same command resumes the runs from their last completed stage"
                 if args.command in ("compute", "sweep")
                 or getattr(args, "scratch", None) is not None else "")
        print(f"interrupted{again}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
