"""Tables for the book: rows of dicts rendered as Markdown (and plain text outside notebooks)."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

from .text import fmt, words  # re-exported: report.fmt and report.words are used by pages

__all__ = ["table", "fmt", "VERDICT_COLUMNS", "verdict_table", "badge", "number_claims",
           "chapter_pages", "chapter_links", "toc_docs", "verdict_counts", "verdict_legend",
           "BADGE_COLOURS", "VERDICT_MEANINGS", "hyperparameter_table",
           "runs_table", "profile_table", "MODULAR_ONLY", "words",
           "RERUN_TITLE", "long_budget_text", "rerun_box", "rerun_boxes", "stored_training", "experiments_by_page", "PROTOCOL",
           "protocol_glue", "runs_per_group"]

VERDICT_COLUMNS = ("claim", "paper", "this book", "rule", "verdict")


def runs_per_group(groups: dict) -> int | str:
    """How many runs each group has, for a caption: 5, or "3–5" where the groups differ."""
    n = [len(v) for v in groups.values()]
    return f"{min(n)}–{max(n)}" if min(n) < max(n) else n[0]


class Table:
    def __init__(self, rows, columns, labels: dict[str, str] | None = None):
        self.rows, self.columns = list(rows), list(columns)
        self.labels = dict(labels or {})

    def markdown(self) -> str:
        head = "| " + " | ".join(self.labels.get(c, c) for c in self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(fmt(r.get(c, "")).replace("|", "/") for c in self.columns)
                + " |" for r in self.rows]
        return "\n".join([head, rule, *body])

    def _repr_markdown_(self):
        return self.markdown()

    def __repr__(self):
        return self.markdown()


# headers of the run summaries (``analysis.run_summary``) in words; "module_size" is the module
# size of a modular run and the population size of a non-modular one (``RUN_LABELS_NONMODULAR``)
RUN_LABELS = {"module_size": "module size", "max_n": "highest N", "total_steps": "total steps",
              "wall_seconds": "wall time (s)", "median_steps": "median steps per N",
              "one_epoch_fraction": "share of N within one epoch", "end": "why it ended"}
RUN_LABELS_NONMODULAR = {**RUN_LABELS, "module_size": "neurons"}
# ``analysis.parameter_table`` (chapter 2)
PARAMETER_LABELS = {"module_size": "module size (modular) or neurons", "total_input": "input",
                    "total_within": "within-module (recurrent)",
                    "total_between": "between-module (feed-forward)", "total_readout": "readout",
                    "total_tau": "time constants", "total_all": "all parameters",
                    "trainable_all": "trained during one stage"}
# ``timescales.validate`` (chapter 6)
VALIDATION_LABELS = {"tau_true": "true τ", "tau_median": "recovered τ (median of data sets)",
                     "rel_error": "relative error of the median",
                     "frac_within_10pct": "share of data sets within 10 %",
                     "frac_double": "share where the two-timescale model was kept",
                     "n_at_bound": "fits at the bound", "n_failed": "failed fits"}


def table(rows, columns=None, labels: dict[str, str] | None = None) -> Table:
    """A table of ``rows`` (dicts); ``columns`` defaults to the first row's keys; ``labels``
    (e.g. ``RUN_LABELS``) gives a column's header in words where the key is a code name."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    return Table(rows, columns, labels)


# --- the verdict table of the front page and the ledger ------------------------------------------

# background colours of the verdict badges (white text; contrast >= 4.5:1 on each)
BADGE_COLOURS = {
    "holds": "#1a7f37",
    "holds partly": "#4d7c0f",
    "suggestive": "#9a6700",
    "not distinguishable": "#57606a",
    "fails": "#cf222e",
    "not tested": "#6e7781",
}


# what each verdict word means (the rules themselves are in modgrow.verdicts and each chapter)
VERDICT_MEANINGS = {
    "holds": "the measurement agrees with the claim: the 95 % interval of the difference excludes "
             "zero (of a ratio: excludes 1), with at least {min_seeds} seeds and, where runs pair up "
             "by seed, {agree:.0%} of the pairs agreeing (or the chapter's stated threshold rule "
             "is met)",
    "holds partly": "part of the claim holds (e.g. for some module sizes or most stages), or it "
                    "holds under a narrower reading than the paper's",
    "suggestive": "the difference points the paper's way and its interval excludes zero, "
                  "but too few seeds (or too few agreeing pairs) for a firm verdict",
    "not distinguishable": "the 95 % interval of the difference includes zero (of a ratio: "
                           "includes 1): this book cannot tell the two sides apart at its scale",
    "fails": "the measurement contradicts the claim",
    "not tested": "no experiment of this book decides it yet",
}


def verdict_legend() -> Table:
    """Every verdict word as its badge, with what it means."""
    from .verdicts import AGREE, MIN_SEEDS

    return VerdictTable([{"verdict": w, "meaning": m.format(min_seeds=MIN_SEEDS, agree=AGREE)}
                         for w, m in VERDICT_MEANINGS.items()], ["verdict", "meaning"], {})


def badge(verdict: str) -> str:
    """``verdict`` as an inline HTML badge (a coloured span; no external assets)."""
    colour = BADGE_COLOURS.get(verdict, "#24292f")
    style = (f"background:{colour};color:#fff;border-radius:0.8em;padding:0.1em 0.6em;"
             "white-space:nowrap;font-size:0.85em;font-weight:600")
    return f'<span class="verdict" style="{style}">{html.escape(verdict)}</span>'


def chapter_key(chapter: str) -> tuple[str, str, str | None]:
    """``"3 curriculum (fidelity)"`` -> ``("3", "curriculum", "fidelity")``: a ledger chapter
    string (an experiment module's ``CHAPTER``) split into number, name and qualifier."""
    m = re.fullmatch(r"\s*(\d+)?\s*([\w-]+)?\s*(?:\((\w+)\))?\s*", chapter)
    if not m:
        raise ValueError(f"unrecognised chapter {chapter!r}")
    return m.group(1) or "", m.group(2) or "", m.group(3)


def chapter_label(chapter: str) -> str:
    """The prefix of a claim's number: the chapter's number, or the first letter of its qualifier
    for a page beside a chapter (``"3 curriculum (fidelity)"`` -> ``"F"``)."""
    number, name, qualifier = chapter_key(chapter)
    if qualifier:
        return qualifier[0].upper()
    return number or name[:1].upper()


def number_claims(rows) -> list[dict]:
    """Rows with an ``id`` ("3.2": the chapter's label, then the row's place in its chapter), the
    book's one numbering of claims (front page and ledger)."""
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        label = chapter_label(r["chapter"])
        seen[label] = seen.get(label, 0) + 1
        out.append({**r, "id": f"{label}.{seen[label]}"})
    return out


def chapter_pages(chapters, docs) -> dict[str, str]:
    """Map ledger chapter strings to the book's documents (``_toc.yml`` entries such as
    ``"book/03_curriculum"``): a qualified chapter goes to the page named after its qualifier, any
    other to the page whose name is ``NN_name``. Chapters without a page are left out."""
    stems = {d.rsplit("/", 1)[-1]: d for d in docs}
    out = {}
    for ch in chapters:
        number, name, qualifier = chapter_key(ch)
        want = qualifier if qualifier else f"{int(number):02d}_{name}" if number else name
        if want in stems:
            out[ch] = stems[want]
    return out


def toc_docs(toc_path) -> list[str]:
    """Every ``file:`` entry of a Jupyter Book ``_toc.yml`` (and its ``root``), in order."""
    text = Path(toc_path).read_text()
    return re.findall(r"^\s*(?:root|-?\s*file):\s*(\S+)", text, flags=re.M)


def chapter_links(chapters, toc_path, page_dir) -> dict[str, str]:
    """Links from a page in ``page_dir`` to the pages of ``chapters`` listed in ``toc_path``:
    chapter string -> path of the source file relative to ``page_dir`` (MyST resolves it)."""
    import os

    root = Path(toc_path).resolve().parent
    out = {}
    for ch, doc in chapter_pages(chapters, toc_docs(toc_path)).items():
        found = sorted((root / doc).parent.glob(Path(doc).name + ".*"))
        found = [f for f in found if f.suffix in (".ipynb", ".md")]
        if found:
            out[ch] = os.path.relpath(found[0], Path(page_dir).resolve()).replace(os.sep, "/")
    return out


def verdict_counts(rows) -> dict[str, int]:
    """How many rows carry each verdict word (every word of ``verdicts.WORDS``, zeros included)."""
    from .verdicts import WORDS

    counts = {w: 0 for w in WORDS}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return counts


class VerdictTable(Table):
    def __init__(self, rows, columns, links):
        super().__init__(rows, columns)
        self.links = links

    def _cell(self, r, c) -> str:
        if c == "verdict":
            return badge(r["verdict"])
        text = fmt(r.get(c, "")).replace("|", "/").replace("\n", " ")
        if c == "chapter" and r.get("chapter") in self.links:
            return f"[{text}]({self.links[r['chapter']]})"
        return text

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(self._cell(r, c) for c in self.columns) + " |"
                for r in self.rows]
        return "\n".join([head, rule, *body])

    def __repr__(self):
        return Table(self.rows, self.columns).markdown()


def verdict_table(rows, links: dict[str, str] | None = None,
                  columns=("id", "claim", "verdict", "chapter")) -> VerdictTable:
    """The claims as a Markdown table: a number per claim (``number_claims``, unless the rows
    carry one), the verdict as a coloured badge and the chapter as a link to the page that decides
    it (``links``: chapter string -> relative path, e.g. ``"03_curriculum.ipynb"``)."""
    rows = list(rows)
    if rows and "id" not in rows[0]:
        rows = number_claims(rows)
    return VerdictTable(rows, columns, links or {})


# --- the methods page: hyper-parameters and runs, generated from the configs ---------------------

# GrowthConfig fields that only the modular network reads (the non-modular one ignores them or
# refuses a non-default value)
MODULAR_ONLY = ("duplicate", "duplicate_source", "gamma", "train_old_taus", "fix_within")


# fields that only the confirmed criterion reads
CONFIRM_ONLY = ("confirm_batches", "confirm_margin")


def hyperparameter_table(settings: dict[str, dict]) -> Table:
    """One row per field of ``GrowthConfig``: its command-line flag, its value in each column of
    ``settings`` (column label -> {"architecture": ..., field: value overriding the default}) and
    its help text. A modular-only field shows "n/a" in a non-modular column, a field of the
    confirmation "n/a" in a column whose criterion has none."""
    from dataclasses import MISSING, fields

    from .training import GrowthConfig

    rows = []
    for f in fields(GrowthConfig):
        row = {"field": f.name,
               "flag": f"--{f.name.replace('_', '-')}" if f.metadata.get("flag", True) else ""}
        for label, over in settings.items():
            default = f.default if f.default is not MISSING else ""
            v = over.get(f.name, default)
            if f.name in MODULAR_ONLY and over.get("architecture") == "nonmodular":
                v = "n/a"
            if f.name in CONFIRM_ONLY and over.get("criterion", "confirmed") != "confirmed":
                v = "n/a"  # a stage criterion without confirmation has nothing to confirm
            row[label] = "none" if v is None else v
        row["meaning"] = f.metadata.get("help", "")
        rows.append(row)
    return Table(rows, ["field", "flag", *settings, "meaning"])


def _values(vals) -> str:
    vals = sorted(set(vals), key=lambda v: (str(type(v)), v if v is not None else 0))
    if len(vals) > 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in vals) \
            and vals == list(range(vals[0], vals[-1] + 1)):
        return f"{vals[0]}–{vals[-1]}"
    return ", ".join("none" if v is None else fmt(v) for v in vals)


def runs_table(experiments, profile) -> Table:
    """Per experiment of the registry: its chapter, how many runs it makes in ``profile``, their
    architectures, sizes, seeds, last N, criterion and budgets, and every other field that differs
    from the defaults."""
    from dataclasses import fields

    from .training import GrowthConfig

    shown = ("architecture", "module_size", "seed", "max_n", "criterion", "max_steps_per_stage",
             "max_total_steps")
    defaults = {f.name: f.default for f in fields(GrowthConfig)}
    rows = []
    for e in experiments:
        cfgs = e.configs(profile)
        other: dict[str, set] = {}
        for c in cfgs:
            for f in fields(c):
                v = getattr(c, f.name)
                if f.name not in shown and v != defaults[f.name]:
                    other.setdefault(f.name, set()).add(v)
        row = {"experiment": e.name, "chapter": e.chapter, "runs": len(cfgs)}
        for name in shown:
            row[name] = _values(getattr(c, name) for c in cfgs) if cfgs else ""
        row["other settings"] = "; ".join(f"{k} = {_values(v)}" for k, v in sorted(other.items()))
        rows.append(row)
    return Table(rows, ["experiment", "chapter", "runs", *shown, "other settings"])


def profile_table(*profiles) -> Table:
    """Every field of the given profiles side by side."""
    from dataclasses import fields

    rows = [{"field": f.name, **{p.name: _show(getattr(p, f.name)) for p in profiles}}
            for f in fields(profiles[0]) if f.name != "name"]
    return Table(rows, ["field", *(p.name for p in profiles)])


def _show(v) -> str:
    if isinstance(v, tuple):
        return ", ".join(f"{a}: {b}" if isinstance(x, tuple) else fmt(x)
                         for x in v for a, b in [x if isinstance(x, tuple) else (None, None)])
    return fmt(v)


RERUN_TITLE = ":::{admonition} Rerun this chapter"


def experiments_by_page(experiments, docs) -> dict[str, list]:
    """Page stem (``"03_curriculum"``) -> the experiments whose ``chapter`` is on that page."""
    pages = chapter_pages({e.chapter for e in experiments}, docs)
    out: dict[str, list] = {}
    for e in experiments:
        if e.chapter in pages:
            out.setdefault(pages[e.chapter].rsplit("/", 1)[-1], []).append(e)
    return out


def stored_training(experiments, profile) -> dict[str, dict]:
    """Per experiment name: how many of its runs (in ``profile``) are stored and their recorded
    training wall time in seconds; a run listed by an earlier experiment of ``experiments`` (the
    runs an analysis reads, or configs two experiments share) counts only there, ``shared``
    naming that experiment and how many of its runs it holds, and an experiment with no runs of
    its own is marked ``reads_only``."""
    from .store import load_run, run_path

    owner: dict[str, str] = {}   # stored-run name (the store's config key) -> first experiment
    out = {}
    for e in experiments:
        cfgs = e.configs(profile)
        own = [c for c in cfgs if run_path(c).name not in owner]
        shared: dict[str, int] = {}
        for c in cfgs:
            first = owner.setdefault(run_path(c).name, e.name)
            if first != e.name:
                shared[first] = shared.get(first, 0) + 1
        loaded = [load_run(c) for c in own]
        runs = [r for r in loaded if r is not None]
        out[e.name] = {"runs": len(own), "stored": len(runs),
                       "seconds": sum(r.history.get("wall_seconds") or 0 for r in runs),
                       "reads_only": bool(cfgs) and not own, "shared": shared}
        if e.partial is not None:   # prefixes of the runs not stored yet
            done = {(c.seed, c.module_size) for c, r in zip(own, loaded) if r}
            pre = [r for c in e.partial(profile) if (c.seed, c.module_size) not in done
                   for r in [load_run(c)] if r is not None]
            out[e.name]["partial"] = {"ns": [r.max_n_reached for r in pre],
                                      "seconds": sum(r.history.get("wall_seconds") or 0
                                                     for r in pre)}
    return out


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _cost_text(cost: dict | None) -> str:
    if cost is None:
        return ""
    shared = cost.get("shared") or {}
    names = ", ".join(f"`{name}`" for name in shared)
    if cost["reads_only"]:
        return f"; it reads the runs of {names or 'the experiments above'}"
    if not cost["runs"]:
        return "; no runs at this scale"
    text = (f"; {cost['stored']} of {cost['runs']} runs stored, {_hours(cost['seconds'])} of "
            f"recorded training")
    if shared:
        text += (f"; {sum(shared.values())} more of its runs are counted under {names}, "
                 f"which list{'s' if len(shared) == 1 else ''} them first")
    part = cost.get("partial")
    if part and part["ns"]:
        text += (f"; still going: {len(part['ns'])} stored up to the N reached so far "
                 f"(N = {', '.join(map(str, part['ns']))}; {_hours(part['seconds'])})")
    return text


def long_budget_text(profile, verdict: str, against: str, long_histories: dict) -> str:
    """Chapter 4's sentence on the long-budget baselines: claim 1a's verdict at that budget, the
    comparison ``against`` module size 10 (already formatted), and how the longer runs ended
    (a stage not solved within the per-stage budget: the steps a stage needs had grown past that
    budget, which is not shown to be a ceiling)."""
    if not against:
        return "None was trained longer in this edition, so their highest N is a lower bound."
    stops = [h.get("stop") for hs in long_histories.values() for h in hs]
    text = (f"Trained {profile.long_budget_factor} times longer (claim 1a at that budget: "
            f"{verdict}), module size 10 against them: {against}. Of these {len(stops)} longer "
            f"runs, {stops.count('stage_budget')} stopped on a stage not solved within the "
            f"{fmt(profile.stage_budget)}-step stage budget (whether a longer stage would "
            f"solve it was not tested: not shown to be a ceiling)")
    budget, done = stops.count("total_budget"), stops.count("complete")
    bound = " (for those, the highest N is a lower bound)" if budget or done else ""
    if not done:
        return text + f" and {budget} on the whole-run budget{bound}."
    return text + (f", {budget} on the whole-run budget and {done} reached the curriculum's last "
                   f"N, N = {profile.long_budget_max_n}{bound}.")


def rerun_box(stem: str, experiments, costs: dict[str, dict] | None = None,
              profile=None) -> str:
    """The "rerun this chapter" box of page ``book/<stem>.ipynb`` (MyST), listing the commands
    that recompute its experiments (described at ``profile``, default the book's, ``PAPER``)
    and, from ``costs`` (``stored_training``), what their stored runs cost;
    ``tools/rerun_boxes.py`` writes it into the notebook and the tests check that it matches the
    registry and the store."""
    from .profiles import PAPER

    costs, profile = costs or {}, profile or PAPER
    lines = [RERUN_TITLE, ":class: tip", ""]
    if experiments:
        lines += ["The numbers of this page come from the experiments below. Each command loads "
                  "what is stored and runs (resumably) what is missing, at the scale named by "
                  "`MODGROW_PROFILE`: `paper` (the default, this page) or `quick` (seconds; "
                  "point `MODGROW_RESULTS` at an empty folder so the stored results stay "
                  "untouched), in the order listed:", ""]
        lines += [f"- `python -m modgrow compute {e.name}`: {e.describe(profile)}"
                  f"{_cost_text(costs.get(e.name))}" for e in experiments]
        lines += ["",
                  "Training times are the stored runs' own wall-clock records (one CPU thread "
                  "per run, on the machines named in their provenance; runs that shared a busy "
                  "machine took longer); the analyses that follow the runs are not included. "
                  "On a SLURM cluster, `python -m modgrow sweep NAME --executor slurm` submits "
                  "one job per run (`--help` lists its options)."]
    else:
        lines += ["This page computes everything it shows from the package in seconds; it "
                  "stores nothing."]
    lines += ["", f"Then run the page itself: `jupyter lab book/{stem}.ipynb`.", ":::"]
    return "\n".join(lines)


def rerun_boxes(toc_path, chapter_modules, profile=None) -> dict[str, str]:
    """Page stem -> its rerun box, for every page of the book (``toc_path``) that holds a chapter
    of ``chapter_modules`` (modules with ``CHAPTER`` and ``EXPERIMENTS``), with the stored
    training time of each experiment at ``profile`` (default: the book's, ``PAPER``)."""
    from .profiles import PAPER

    docs = toc_docs(toc_path)
    experiments = [e for m in chapter_modules for e in m.EXPERIMENTS]
    chapters = {m.CHAPTER for m in chapter_modules} | {e.chapter for e in experiments}
    stems = sorted({d.rsplit("/", 1)[-1] for d in chapter_pages(chapters, docs).values()})
    by_page = experiments_by_page(experiments, docs)
    profile = profile or PAPER
    costs = stored_training(experiments, profile)
    return {stem: rerun_box(stem, by_page.get(stem, []), costs, profile) for stem in stems}


# --- the protocol glued into the chapters' prose -------------------------------------------------

def _growth_cfg(p):
    from .experiments.curriculum import growth_configs
    return growth_configs(p)[0]


def _baseline_cfg(p):
    from .experiments.baseline import baseline_configs
    return baseline_configs(p)[0]


def _scaling_max_n(p) -> int:
    from .experiments.curriculum import scaling_config
    return scaling_config(p).max_n


def _generalisation_max_neurons(p) -> int:
    from .experiments.baseline import GENERALISATION_MAX_NEURONS
    return GENERALISATION_MAX_NEURONS


def _ablations_run(p) -> str:
    v = p.ablation_variants
    return ("All four were run." if len(v) == 4 else
            f"This edition ran {len(v)} of them: " + "; ".join(v)
            + " (the others did not fit its compute).")


def _legacy_only(p) -> str:
    legacy_only = [m for m, _ in p.legacy_growth_max_n if m not in p.module_sizes]
    return (f"Module size{'s' * (len(legacy_only) > 1)} {words(legacy_only)} were grown only "
            "under the first edition's criterion (fidelity page): their rerun did not fit this "
            "edition's compute." if legacy_only else "")


def _long_sizes(p) -> list[int]:
    return [h for h in p.baseline_sizes if h <= p.long_budget_max_size]


def _long_budget_sentence(p) -> str:
    long_sizes = _long_sizes(p)
    return (f"the non-modular networks of {words(long_sizes)} neurons were also trained with "
            f"{p.long_budget_factor} times the budget and the curriculum extended to N = "
            f"{p.long_budget_max_n} (open squares of the equal-neuron figure), so that only the "
            "whole-run or the per-stage step budget stops them, and claim 1a is decided under "
            "both budgets." if long_sizes else
            "how far the non-modular networks get with a longer budget was not run in "
            "this edition (out of its compute), so claim 1a is decided at this budget only.")


def _long_budget_caption(p) -> str:
    return (f" Open squares: the same non-modular networks trained with {p.long_budget_factor} "
            "times the budget, drawn a little to the right." if _long_sizes(p) else "")


def _long_budget_legend(p) -> str:
    return f"; open with {p.long_budget_factor} times that budget" if _long_sizes(p) else ""


# protocol quantity -> its value (as the prose shows it) in a profile; one definition for every
# page that states it
PROTOCOL: Mapping[str, Callable] = MappingProxyType({
    "seeds": lambda p: len(p.seeds),
    "module_sizes": lambda p: words(p.module_sizes),
    "growth_max_n": lambda p: words(sorted({p.max_n(m) for m in p.module_sizes})),
    "eval_batches": lambda p: p.eval_batches,
    "confirm_batches": lambda p: p.confirm_batches,
    "confirm_margin": lambda p: f"{100 * p.growth_confirm_margin:g}",  # points
    "stage_budget": lambda p: fmt(p.stage_budget),
    "ablation_max_n": lambda p: p.ablation_max_n,
    "ablations_run": _ablations_run,                # sentence: which ablations this profile runs
    "legacy_only": _legacy_only,                    # sentence: module sizes with legacy runs only
    "scaling_max_n": _scaling_max_n,
    "lr_modular": lambda p: _growth_cfg(p).lr,
    "baseline_sizes": lambda p: words(p.baseline_sizes),
    "baseline_max_n": lambda p: p.baseline_max_n,
    "baseline_budget": lambda p: fmt(p.baseline_total_steps),
    "epochs_per_stage": lambda p: p.stage_budget // _baseline_cfg(p).steps_per_epoch,
    "lr_nonmodular": lambda p: _baseline_cfg(p).lr,
    "long_budget_factor": lambda p: p.long_budget_factor,
    "long_budget": lambda p: fmt(p.long_budget_factor * p.baseline_total_steps),
    "long_budget_sentence": _long_budget_sentence,  # sentence: whether baseline-long was run
    "long_budget_caption": _long_budget_caption,    # figure caption's open squares, or nothing
    "long_budget_legend": _long_budget_legend,      # "; open with ..." or nothing
    "n0": lambda p: p.n0,
    "n0_modules": lambda p: p.n0 - 1,
    "generalisation_max_neurons": _generalisation_max_neurons,
    "iclr_size": lambda p: p.iclr_size,
    "iclr_steps": lambda p: fmt(p.iclr_total_steps),
    "perturb_n": lambda p: p.perturb_n,
    "fixed_max_n": lambda p: p.fixed_max_n,
    "fidelity_max_n": lambda p: p.fidelity_max_n,
    "fidelity_seeds": lambda p: len(p.fidelity_seeds),
    "legacy_seeds": lambda p: len(p.legacy_seeds),
})


def protocol_glue(profile, keys: Mapping[str, str]) -> dict[str, object]:
    """``{page key: value}`` for a page to glue in one loop: ``keys`` maps each of the page's glue
    keys to the ``PROTOCOL`` quantity it shows (``{"ch3_n_seeds": "seeds"}``), so the same
    quantity is computed one way on every page while each page keeps its own keys."""
    unknown = sorted(set(keys.values()) - set(PROTOCOL))
    if unknown:
        raise ValueError(f"protocol_glue: unknown quantities {unknown}; known: {sorted(PROTOCOL)}")
    return {key: PROTOCOL[quantity](profile) for key, quantity in keys.items()}
