"""``python -m modgrow reproduce --statistics EXPERIMENT``: recompute every run of an experiment
and check that its summary numbers fall within the intervals of the stored ones.

Bit-exact reproduction holds on the same platform only (same torch version, machine, thread
count and, where recorded, CPU model, ``store.platform_case``): a run recomputed on another CPU differed in the 4th decimal of
its accuracies at N = 4 and in its step counts from N = 8 on. There only statistics are
comparable, so this check recomputes every config of the experiment (in the active profile) into
a scratch store (never the results store), groups the runs that differ only in their seed, and
compares per group and statistic:

* max N reached (linear scale),
* total steps and median steps per stage after the first (log10 scale; shown as geometric means).

The rule: with n stored seeds of mean m and standard deviation s, and m' the mean of the n
recomputed seeds, the row is within when m' lies in the 95 % t prediction interval

    m +- t(0.975, n - 1) * s * sqrt(1/n + 1/n)

that is, the t interval of the stored mean widened for the recomputed mean's own sampling noise
(on another platform the recomputed seeds are a new draw; the plain interval of the stored mean
would reject a faithful rerun about one time in six per row). A group with one seed has no
spread to build an interval from: its rows are reported (stored and recomputed values) as not
judged. A group whose
stored seeds agree exactly (every seed reached max N, say) has a zero-width interval, and the row
says so. About one row in twenty falls outside by chance on another platform, so with many rows
read an isolated "no" with that in mind.

This layer builds on the store, the measures and the experiment registry; nothing imports it but
the command line.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats as _st

from . import store
from .analysis import run_summary
from .experiments import get
from .profiles import Profile
from .training import GrowthConfig, train_curriculum

__all__ = ["LEVEL", "STATISTICS", "Row", "Check", "interval", "check_experiment", "format_check"]

LEVEL = 0.95
# (key, label, log10 scale)
STATISTICS = (("max_n", "max N reached", False),
              ("total_steps", "total steps", True),
              ("median_steps", "median steps/stage", True))


@dataclass
class Row:
    group: str
    statistic: str
    log: bool
    stored: list[float]        # per seed, on the statistic's scale (log10 for steps)
    recomputed: list[float]
    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    recomputed_mean: float = math.nan
    within: bool | None = None  # None: cannot be judged
    note: str = ""


@dataclass
class Check:
    experiment: str
    profile: str
    rows: list[Row]
    runs: int
    same_platform: int            # runs recomputed on the platform of their stored provenance
    bit_exact_expected: int       # ... of which identity was expected
    identical: int                # ... of which were identical stage by stage
    platform: dict = field(default_factory=dict)

    @property
    def outside(self) -> list[Row]:
        return [r for r in self.rows if r.within is False]

    @property
    def not_judged(self) -> list[Row]:
        return [r for r in self.rows if r.within is None]


def interval(stored: list[float], n_new: int, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the t prediction interval, at ``level``, of the mean of ``n_new`` new
    draws from the population of ``stored`` (low and high NaN with fewer than two values)."""
    v = np.asarray(stored, dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size < 2 or n_new < 1:
        return mean, math.nan, math.nan
    t = float(_st.t.ppf((1 + level) / 2, v.size - 1))
    half = t * float(v.std(ddof=1)) * math.sqrt(1 / v.size + 1 / n_new)
    return mean, mean - half, mean + half


def _values(history: dict) -> dict[str, float]:
    """The statistics of one run on their scales (NaN when a run has none)."""
    s = run_summary(history)
    max_n = s["max_n"] if s["max_n"] is not None else history["config"]["n_start"] - 1
    log = lambda v: math.log10(v) if v and v > 0 and v == v else math.nan  # noqa: E731
    return {"max_n": float(max_n), "total_steps": log(s["total_steps"]),
            "median_steps": log(s["median_steps"])}


def _group_key(cfg: GrowthConfig) -> str:
    d = asdict(cfg)
    d.pop("seed")
    return json.dumps(d, sort_keys=True)


def _group_labels(keys: list[str]) -> dict[str, str]:
    """A short label per group: the config fields that differ between the groups."""
    dicts = {k: json.loads(k) for k in keys}
    varying = [f for f in dicts[keys[0]] if len({json.dumps(d[f]) for d in dicts.values()}) > 1]
    return {k: ", ".join(f"{f}={d[f]}" for f in varying) or "all runs"
            for k, d in dicts.items()}


def _check_scratch(scratch: Path) -> None:
    """The scratch store must not be, hold or lie inside the results store or its work folders."""
    s = scratch.resolve()
    for protected in (store.results_dir().resolve(), store.scratch_dir().resolve()):
        if s == protected or protected in s.parents or s in protected.parents:
            raise ValueError(f"--scratch {scratch} overlaps the results store {protected}; "
                             f"choose a folder outside it")
    if scratch.exists() and not scratch.is_dir():
        raise ValueError(f"--scratch {scratch} is not a folder")


def recompute(cfg: GrowthConfig, scratch: Path, progress: bool = False) -> dict:
    """The history of ``cfg`` recomputed into the scratch store ``scratch`` (a result already
    there is loaded, an interrupted one resumed)."""
    key = store.config_key(cfg, store.run_name(cfg))
    dest = scratch / "runs" / key
    if (dest / "result.json").exists():
        stored_cfg, hist = store.read_stored_run(dest)
        if stored_cfg != cfg:
            raise ValueError(f"{dest}: config does not match the requested one")
        return hist
    res = train_curriculum(cfg, scratch / "work" / key, resume=True, progress=progress)
    return store.store_run(res, cfg, dest).history


def check_experiment(name: str, profile: Profile, scratch: Path | None = None,
                     progress: bool = True, level: float = LEVEL) -> Check:
    """Recompute every config of experiment ``name`` in ``profile`` into ``scratch`` (a temporary
    folder, deleted afterwards, when None) and compare its statistics per group with the stored
    runs' (see the module docstring). Every config must be stored (else FileNotFoundError,
    before anything is computed)."""
    exp = get(name)
    configs = list({store.config_key(c, store.run_name(c)): c
                    for c in exp.configs(profile)}.values())
    if not configs:
        raise ValueError(f"experiment {name!r} has no runs in the {profile.name} profile")
    stored = {}
    missing = []
    for c in configs:
        run = store.load_run(c)
        if run is None:
            missing.append(store.run_path(c).name)
        else:
            stored[store.config_key(c, store.run_name(c))] = run
    if missing:
        raise FileNotFoundError(
            f"experiment {name!r}: {len(missing)} of {len(configs)} runs are not in the results "
            f"store {store.results_dir()} (first: {missing[0]}); compute them first with "
            f"'python -m modgrow compute {name}' (profile {profile.name})")
    threads = {k: store.stored_threads(r.history, r.path) for k, r in stored.items()}
    if scratch is None:
        with tempfile.TemporaryDirectory(prefix="modgrow-statistics-") as tmp:
            return _check(name, profile, configs, stored, threads, Path(tmp), progress, level)
    _check_scratch(scratch)
    return _check(name, profile, configs, stored, threads, scratch, progress, level)


def _check(name, profile, configs, stored, threads, scratch, progress, level) -> Check:
    before = torch.get_num_threads()
    fresh = {}
    same = exact = identical = 0
    platform = {}
    try:
        for i, c in enumerate(configs):
            key = store.config_key(c, store.run_name(c))
            if progress:
                print(f"[{i + 1}/{len(configs)}] recomputing {key}", file=sys.stderr, flush=True)
            torch.set_num_threads(threads[key] or before)
            fresh[key] = recompute(c, scratch, progress=False)
            old = stored[key].history
            sp, ex = store.platform_case(old, fresh[key]["provenance"])
            same += sp
            exact += ex
            identical += ex and not store.stage_differences(old["stages"],
                                                            fresh[key]["stages"])
            platform = {k: fresh[key]["provenance"].get(k)
                        for k in store.PLATFORM_KEYS + store.CPU_KEYS}
    finally:
        torch.set_num_threads(before)
    groups: dict[str, list[str]] = {}
    for c in configs:
        groups.setdefault(_group_key(c), []).append(store.config_key(c, store.run_name(c)))
    labels = _group_labels(list(groups))
    rows = []
    for g, keys in groups.items():
        old = [_values(stored[k].history) for k in keys]
        new = [_values(fresh[k]) for k in keys]
        for stat, label, log in STATISTICS:
            a = [v[stat] for v in old if not math.isnan(v[stat])]
            b = [v[stat] for v in new if not math.isnan(v[stat])]
            row = Row(labels[g], label, log, a, b)
            row.mean, row.low, row.high = interval(a, len(b), level)
            row.recomputed_mean = float(np.mean(b)) if b else math.nan
            if not a or not b:
                row.note = "no value (no stage after the first)"
            elif len(a) < 2:
                row.note = "one seed: cannot be judged"
            else:
                row.within = bool(row.low - 1e-9 <= row.recomputed_mean <= row.high + 1e-9)
                if row.low == row.high:
                    row.note = "stored seeds agree: zero-width interval"
            rows.append(row)
    return Check(name, profile.name, rows, len(configs), same, exact, identical, platform)


def _show(v: float, log: bool) -> str:
    if math.isnan(v):
        return "-"
    return f"{10 ** v:.0f}" if log else f"{v:.2f}"


def format_check(chk: Check, level: float = LEVEL) -> list[str]:
    """The report: the platform case, one row per group and statistic, a one-line summary."""
    pct = f"{100 * level:g} %"
    p = chk.platform
    n = p.get("torch_threads")
    where = (f"torch {p.get('torch_version')}, {p.get('machine')} ({p.get('cpu_model')}, "
             f"{p.get('cpu_capability')}), {n} thread{'' if n == 1 else 's'}")
    if chk.same_platform == chk.runs and chk.bit_exact_expected == chk.runs:
        case = (f"platform: same as the stored provenance ({where}): bit-exact identity "
                f"expected; {chk.identical} of {chk.runs} runs identical stage by stage")
    elif chk.same_platform == chk.runs:
        case = (f"platform: same as the stored provenance ({where}), but "
                f"{chk.runs - chk.bit_exact_expected} stored runs were resumed with another "
                f"thread count: statistics only ({chk.identical} of {chk.bit_exact_expected} "
                f"others identical)")
    else:
        case = (f"platform: {chk.runs - chk.same_platform} of {chk.runs} runs stored on another "
                f"platform (now {where}): no bit-exact identity expected, statistics only")
        if chk.bit_exact_expected:
            case += (f" ({chk.identical} of the {chk.bit_exact_expected} runs stored on this "
                     f"platform identical)")
    w = max([len(r.group) for r in chk.rows] + [5])
    lines = [f"{chk.experiment} ({chk.profile} profile, {chk.runs} runs recomputed)", case,
             f"{'group':{w}s}  {'statistic':20s} {'seeds':>5s}  "
             f"{'stored mean [' + pct + ' interval]':34s} {'recomputed':>10s}  within",
             ]
    for r in chk.rows:
        if math.isnan(r.low):
            stored = _show(r.mean, r.log)
        else:
            stored = f"{_show(r.mean, r.log)} [{_show(r.low, r.log)}, {_show(r.high, r.log)}]"
        verdict = {True: "yes", False: "NO", None: "n/a"}[r.within]
        line = (f"{r.group:{w}s}  {r.statistic:20s} {len(r.stored):5d}  {stored:34s} "
                f"{_show(r.recomputed_mean, r.log):>10s}  {verdict}")
        lines.append(line + (f"  ({r.note})" if r.note else ""))
    judged = len(chk.rows) - len(chk.not_judged)
    tail = (f"; {len(chk.not_judged)} rows not judged (one seed or no value)"
            if chk.not_judged else "")
    if chk.outside:
        lines.append(f"OUTSIDE: {len(chk.outside)} of {judged} judged rows fall outside their "
                     f"{pct} intervals{tail}")
    elif judged:
        lines.append(f"WITHIN: all {judged} judged rows inside their {pct} intervals{tail}")
    else:
        lines.append(f"NOT JUDGED: no group has two seeds in the {chk.profile} profile, so no "
                     f"interval can be built{tail}")
    return lines
