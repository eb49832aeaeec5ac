"""Command line: ``python -m modgrow {grow,baseline,bench,reproduce,results} ...``; see ``--help``."""

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
  bench      time one training step, fast engine against the naive per-module loop
  reproduce  recompute a stored result from its config and say whether it matches
  results    list the stored results with their configs and provenance
  compute    load or run every config of one of the book's experiments (growth, ablations,
             baseline, iclr, scaling, analyses) in the active profile (MODGROW_PROFILE=paper|quick)
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


def _add_curriculum_flags(p: argparse.ArgumentParser, lr: float) -> None:
    p.add_argument("--max-n", type=_positive_int, default=30,
                   help="last N of the curriculum (default 30)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, required=True,
                   help="run folder: history.json and a checkpoint per stage go here")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed stage")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="default cpu")
    p.add_argument("--lr", type=float, default=lr, help=f"SGD learning rate (default {lr})")
    p.add_argument("--momentum", type=float, default=0.1, help="Nesterov momentum (default 0.1)")
    p.add_argument("--batch-size", type=_positive_int, default=256, help="default 256")
    p.add_argument("--eval-every", type=_positive_int, default=50,
                   help="SGD steps between criterion checks on fresh batches (default 50)")
    p.add_argument("--eval-batches", type=_positive_int, default=10,
                   help="fresh batches per criterion check (default 10)")
    p.add_argument("--max-steps", type=_positive_int, default=20_000,
                   help="step budget per stage; the run stops and says so when a stage "
                        "spends it without reaching the criterion (default 20000)")
    p.add_argument("--max-total-steps", type=_positive_int, default=None,
                   help="step budget for the whole run (all stages); default: none")
    p.add_argument("--bit-prob", type=_bit_prob, default="per_batch",
                   help="'per_batch' (one p ~ U(0,1) per batch, as the authors) or a fixed "
                        "Bernoulli probability")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m modgrow", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("grow", help="grow a modular network along the curriculum",
                       description="Grow a modular network: start with one module of "
                       "--module-size neurons and a head for N=2; each time the criterion "
                       "(mean accuracy over all heads > 98%% and newest head > 98%%) is met, add a "
                       "module fed by the last one and a head for N+1.")
    g.add_argument("--module-size", type=_positive_int, default=10,
                   help="neurons per module (default 10)")
    _add_curriculum_flags(g, lr=0.1)
    g.add_argument("--noise", type=float, default=0.05,
                   help="duplication noise sigma: new module = trained previous module * "
                        "(1 + sigma*xi) (default 0.05)")
    g.add_argument("--random-init", action="store_true",
                   help="initialise new modules at random instead of duplicating")
    g.add_argument("--gamma", type=float, default=0.0,
                   help="old modules' learning rate is multiplied by gamma at each growth "
                        "step; 0 freezes them (default 0)")
    g.add_argument("--fix-within", action="store_true",
                   help="never train within-module (recurrent) weights; train input, "
                        "between-module weights, taus and heads only")

    b = sub.add_parser("baseline", help="train the non-modular multi-head network",
                       description="Train one population of --hidden neurons with a head per N, "
                       "all heads trained together; a head is added at each curriculum step "
                       "(the ICLR 2024 multi-head curriculum) with the same neuron model and "
                       "criterion as 'grow'.")
    b.add_argument("--hidden", type=_positive_int, default=50, help="neurons (default 50)")
    _add_curriculum_flags(b, lr=0.05)

    be = sub.add_parser("bench", help="time one training step, fast against naive",
                        description="Time a full training step (forward, backward, optimiser "
                        "step) at the curriculum stage that trains N, with this package's fast "
                        "engine and with a naive per-module loop that keeps autograd through "
                        "every module; prints both and their ratio.")
    be.add_argument("--module-size", type=_positive_int, default=10, help="default 10")
    be.add_argument("--n", type=int, default=21, help="curriculum stage N (>= 2, default 21)")
    be.add_argument("--batch-size", type=_positive_int, default=256, help="default 256")
    be.add_argument("--repeats", type=_positive_int, default=10,
                    help="timed steps per implementation; the median is reported (default 10)")
    be.add_argument("--no-naive", action="store_true", help="time the fast engine only")
    be.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads")
    be.add_argument("--json", action="store_true", help="print one JSON object")
    r = sub.add_parser("reproduce", help="recompute a stored run and compare",
                       description="Recompute a stored curriculum run from the config saved "
                       "with it and compare every stage (N, steps to criterion, accuracy of "
                       "every head). Exit 0 when identical, 1 when not. Bitwise identity needs "
                       "the same torch version and thread count as the stored provenance.")
    r.add_argument("result", help="stored result: its folder, its name under results/, or a "
                   "unique prefix of that name (see 'python -m modgrow results')")
    r.add_argument("--up-to-n", type=int, default=None,
                   help="only recompute the stages up to this N (a quicker partial check)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("results", help="list stored results",
                   description="List the stored results (folder, status, max N, wall time, "
                   "git commit, date). MODGROW_RESULTS overrides the results folder.")
    c = sub.add_parser("compute", help="load or run an experiment of the book",
                       description="Load every stored result of one experiment of the book, "
                       "running (resumably) and storing the missing ones. The profile comes "
                       "from MODGROW_PROFILE (paper, the default, or quick).")
    c.add_argument("experiment", choices=["growth", "ablations", "baseline", "iclr", "scaling",
                                             "analyses"],
                   help="analyses: head accuracy after growth, length generalisation and "
                        "transfer of the stored runs (run it after the others)")
    c.add_argument("--shard", default="0/1",
                   help="I/N: take configs I, I+N, ... so N processes share the work")
    c.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    im = sub.add_parser("import", help="store finished run folders",
                        description="Copy the history and final network of finished runs "
                        "made with 'grow'/'baseline --out FOLDER' into the results store.")
    im.add_argument("folders", nargs="+", type=Path, help="run folders")
    return parser


def _config_from_args(args):
    from .training import GrowthConfig

    common = dict(max_n=args.max_n, seed=args.seed, lr=args.lr, momentum=args.momentum,
                  batch_size=args.batch_size, eval_every=args.eval_every,
                  eval_batches=args.eval_batches, max_steps_per_stage=args.max_steps,
                  max_total_steps=args.max_total_steps,
                  bit_prob=args.bit_prob)
    if args.command == "grow":
        return GrowthConfig(architecture="modular", module_size=args.module_size,
                            duplicate=not args.random_init, noise=args.noise, gamma=args.gamma,
                            fix_within=args.fix_within, **common)
    return GrowthConfig(architecture="nonmodular", module_size=args.hidden, **common)


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


def _run_bench(args) -> int:
    import torch

    from .bench import bench_step

    if args.threads:
        torch.set_num_threads(args.threads)
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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command in ("grow", "baseline"):
            return _run_curriculum(args)
        if args.command == "bench":
            return _run_bench(args)
        if getattr(args, "threads", None):
            import torch
            torch.set_num_threads(args.threads)
        from .experiments import cli_command
        return cli_command(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
