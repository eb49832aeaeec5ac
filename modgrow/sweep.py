"""Sweeps: one experiment of the book mapped over submitit, one job per config.

``python -m modgrow sweep NAME`` submits one job per curriculum run of experiment ``NAME`` in the
active profile (``MODGROW_PROFILE``) that is not stored yet: to local processes (submitit's
``LocalExecutor``, the default) or as one SLURM job array (``--executor slurm``). Each job calls
``store.load_or_run(config)``, so a job that is stopped (a timeout, a pre-emption, a cancelled
array) resumes from its run's stage checkpoints in the scratch folder when it is requeued or
resubmitted, and writes its result into the store atomically. Runs already stored are not
submitted at all: rerunning the same sweep command is how one resubmits what is missing.

Locally the sweep waits for its jobs, printing a progress line whenever a job changes state, and
then runs the experiment's analyses in this process. On SLURM it returns once the array is queued
and prints the command that runs the analyses afterwards (``python -m modgrow compute NAME
--stored-only``, which only loads the stored runs and refuses, training nothing, while one is
missing).

This layer sits above the experiments; nothing in the package imports it except the CLI.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from submitit.helpers import Checkpointable

from . import store
from .profiles import PROFILE_ENV, Profile

__all__ = ["SweepOptions", "JobSpec", "RunJob", "plan", "default_log_dir", "make_executor",
           "submit", "job_state", "Progress", "run_sweep", "EXECUTORS"]

EXECUTORS = ("local", "slurm")
DEFAULT_TIME_MIN = 24 * 60
POLL_S = 1.0


@dataclass(frozen=True)
class SweepOptions:
    """What ``python -m modgrow sweep`` was asked to do (one field per flag)."""

    experiment: str
    executor: str = "local"                  # "local" (submitit LocalExecutor) or "slurm"
    partition: str | None = None             # SLURM partition (cluster default when None)
    time_min: int = DEFAULT_TIME_MIN         # wall-clock limit of one job, in minutes
    cpus_per_task: int | None = None         # SLURM cpus per task (default: threads)
    array_parallelism: int | None = None     # jobs running at once (default: local cores/threads)
    threads: int = 1                         # torch threads of each job
    log_dir: Path | None = None              # submitit's folder (default: default_log_dir)
    dry_run: bool = False                    # list the configs, submit nothing

    def __post_init__(self):
        if self.executor not in EXECUTORS:
            raise ValueError(f"--executor must be one of {EXECUTORS}, got {self.executor!r}")
        for name in ("time_min", "cpus_per_task", "array_parallelism", "threads"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")

    @property
    def parallelism(self) -> int:
        """Jobs that may run at once: the flag, else (locally) the cores per job's threads."""
        if self.array_parallelism is not None:
            return self.array_parallelism
        if self.executor == "local":
            return max(1, (os.cpu_count() or 1) // self.threads)
        return 256  # submitit's default cap of a SLURM array


@dataclass(frozen=True)
class JobSpec:
    """One job's work, as plain data: config ``index`` of ``experiment`` in ``profile``, stored
    under ``key`` in ``results``. The job rebuilds the config from the profile and checks the key,
    so a job never runs a config other than the one listed when it was submitted."""

    experiment: str
    index: int
    key: str
    profile: str
    results: str
    threads: int = 1
    stored: bool = field(default=False, compare=False)


def default_log_dir(experiment: str) -> Path:
    """``runs/sweep/NAME`` beside the store (so on the shared file system when the store is)."""
    return store.scratch_dir().parent / "sweep" / experiment


def plan(experiment: str, profile: Profile, threads: int = 1) -> list[JobSpec]:
    """Every config of the experiment in the profile, with its store key and whether it is
    stored already (the same keys ``compute`` loads and stores)."""
    from .experiments import get

    results = str(store.results_dir().resolve())
    specs = []
    for i, cfg in enumerate(get(experiment).configs(profile)):
        path = store.run_path(cfg)
        specs.append(JobSpec(experiment, i, path.name, profile.name, results, threads,
                             stored=(path / "result.json").exists()))
    return specs


def _environment(spec: JobSpec) -> dict[str, str]:
    return {PROFILE_ENV: spec.profile, store.RESULTS_ENV: spec.results,
            "OMP_NUM_THREADS": str(spec.threads)}


class RunJob(Checkpointable):
    """The body of a job: load or run one config. Checkpointable, so that submitit requeues a job
    that reaches its time limit (up to three times); the requeued job resumes the run from its
    last stored stage checkpoint."""

    def __call__(self, spec: JobSpec) -> dict:
        import torch

        from .experiments import get
        from .profiles import active

        os.environ.update(_environment(spec))
        torch.set_num_threads(spec.threads)
        cfg = get(spec.experiment).configs(active())[spec.index]
        key = store.run_path(cfg).name
        if key != spec.key:
            raise ValueError(f"config {spec.index} of {spec.experiment} is now {key}, not "
                             f"{spec.key}: the experiment changed since submission; sweep again")
        print(f"{spec.experiment} [{spec.index}] {key}: loading or running "
              f"(profile {spec.profile}, store {spec.results})", flush=True)
        run = store.load_or_run(cfg, progress=False)
        print(f"{key}: {run.history['status']}, max N {run.max_n_reached}", flush=True)
        return {"key": key, "status": run.history["status"], "max_n": run.max_n_reached}


# ----- executors ---------------------------------------------------------------------------------

def _require_slurm() -> None:
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
    if missing:
        raise ValueError(f"--executor slurm needs SLURM's {' and '.join(missing)} on PATH "
                         f"(run the sweep on a login node, or use --executor local)")


def make_executor(opts: SweepOptions, log_dir: Path, env: dict[str, str]):
    """A submitit executor for the options: its jobs export ``env`` (profile, store, threads)."""
    import submitit

    setup = [f"export {k}={shlex.quote(str(v))}" for k, v in sorted(env.items())]
    if opts.executor == "local":
        ex = submitit.LocalExecutor(folder=log_dir)
        ex.update_parameters(timeout_min=opts.time_min, setup=setup)
        return ex
    ex = submitit.SlurmExecutor(folder=log_dir)
    params = dict(job_name=f"modgrow-{opts.experiment}", time=opts.time_min,
                  cpus_per_task=opts.cpus_per_task or opts.threads, setup=setup,
                  array_parallelism=opts.parallelism)
    if opts.partition:
        params["partition"] = opts.partition
    ex.update_parameters(**params)
    return ex


def submit(executor, specs: Sequence[JobSpec]) -> list:
    """One job per spec; on SLURM one job array."""
    return executor.map_array(RunJob(), list(specs))


def job_state(job) -> str:
    """``running`` (queued or running), ``done`` or ``failed``."""
    if not job.done():
        return "running"
    try:
        return "failed" if job.exception() is not None else "done"
    except Exception:  # killed before it wrote a result (submitit's UncompletedJobError)
        return "failed"


# ----- progress ----------------------------------------------------------------------------------

@dataclass
class Progress:
    """Counts of a sweep's jobs, and where the failed ones logged."""

    total: int
    stored_before: int = 0
    done: int = 0
    running: int = 0
    failed: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return self.total - self.stored_before - self.done - self.running - len(self.failed)

    def line(self, name: str) -> str:
        return (f"sweep {name}: {self.done} done, {self.running} running, "
                f"{len(self.failed)} failed, {self.waiting} waiting "
                f"({self.stored_before} of {self.total} stored before)")


def _poll(jobs: dict, progress: Progress) -> None:
    """Update ``progress`` from the submitted jobs (``{spec: job}``); forget finished ones."""
    progress.running = 0
    for spec, job in list(jobs.items()):
        state = job_state(job)
        if state == "running":
            progress.running += 1
            continue
        del jobs[spec]
        if state == "done":
            progress.done += 1
        else:
            progress.failed.append((spec.key, Path(job.paths.stderr)))


def wait_local(executor, specs: Sequence[JobSpec], progress: Progress, name: str,
               parallelism: int, out: Callable[[str], None] = print) -> None:
    """Run the specs locally, at most ``parallelism`` at once, printing a line per change."""
    queue, jobs, last = list(specs), {}, ""
    try:
        while queue or jobs:
            while queue and len(jobs) < parallelism:
                spec = queue.pop(0)
                jobs[spec] = executor.submit(RunJob(), spec)
            _poll(jobs, progress)
            if progress.line(name) != last:
                last = progress.line(name)
                out(last)
            if jobs:
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        for job in jobs.values():
            job.cancel()
        out(f"sweep {name}: interrupted; cancelled {len(jobs)} running jobs (rerun the same "
            f"command to resume them from their last stage)")
        raise


# ----- the sweep ---------------------------------------------------------------------------------

def _describe(specs: Sequence[JobSpec]) -> list[str]:
    return [f"{s.index:4d}  {s.key}  {'stored' if s.stored else 'missing'}" for s in specs]


def _report_failures(progress: Progress, out: Callable[[str], None]) -> None:
    for key, log in progress.failed:
        out(f"  failed: {key}; log {log}")


def run_sweep(opts: SweepOptions, profile: Profile | None = None,
              out: Callable[[str], None] = print) -> int:
    """Submit the missing runs of ``opts.experiment``; locally wait for them and run the
    analyses. Returns the exit status: 0, or 1 when a job failed."""
    from .experiments import get
    from .profiles import active

    profile = profile or active()
    exp = get(opts.experiment)
    if opts.executor == "slurm" and not opts.dry_run:
        _require_slurm()
    specs = plan(opts.experiment, profile, opts.threads)
    todo = [s for s in specs if not s.stored]
    log_dir = Path(opts.log_dir or default_log_dir(opts.experiment)).resolve()
    out(f"sweep {exp.name} (profile {profile.name}): {len(specs)} configs, "
        f"{len(specs) - len(todo)} stored, {len(todo)} to run; store {store.results_dir()}")
    if opts.dry_run:
        for line in _describe(specs):
            out(line)
        return 0
    progress = Progress(total=len(specs), stored_before=len(specs) - len(todo))
    if todo:
        executor = make_executor(opts, log_dir, _environment(todo[0]))
        if opts.executor == "slurm":
            return _submit_slurm(executor, todo, opts, profile, log_dir, out)
        wait_local(executor, todo, progress, exp.name, opts.parallelism, out)
        out(f"sweep {exp.name}: logs in {log_dir}")
    if progress.failed:
        _report_failures(progress, out)
        out(f"sweep {exp.name}: {len(progress.failed)} of {len(todo)} jobs failed; fix the "
            f"cause and rerun the same command (finished runs are not redone)")
        return 1
    if exp.analyse is not None:
        n = exp.analyse(profile)
        out(f"sweep {exp.name}: analyses done ({n} results loaded or stored)")
    out(f"sweep {exp.name}: all {len(specs)} runs stored")
    return 0


def _submit_slurm(executor, todo: Sequence[JobSpec], opts: SweepOptions, profile: Profile,
                  log_dir: Path, out: Callable[[str], None]) -> int:
    jobs = submit(executor, todo)
    array = str(jobs[0].job_id).split("_")[0]
    where = f" on partition {opts.partition}" if opts.partition else ""
    out(f"sweep {opts.experiment}: submitted SLURM job {array}, {len(jobs)} tasks{where} "
        f"(at most {min(len(jobs), opts.parallelism)} at once, {opts.time_min} min each); "
        f"logs in {log_dir}")
    for spec, job in zip(todo, jobs):
        out(f"  {job.job_id}  {spec.key}")
    out(f"when the array has finished (squeue -j {array}), store the analyses with:\n"
        f"  {PROFILE_ENV}={profile.name} {store.RESULTS_ENV}={store.results_dir().resolve()} "
        f"python -m modgrow compute {opts.experiment} --stored-only\n"
        f"then resubmit whatever failed or timed out for good by rerunning this sweep command (not "
        f"while the array is still queued: its jobs would be submitted twice)")
    return 0
