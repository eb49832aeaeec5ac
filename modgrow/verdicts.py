"""Verdict rules: from measured numbers to one of the book's verdict words, with the rule written
next to it.

Words: "holds", "holds partly", "suggestive", "not distinguishable", "fails" (and "not tested").
Comparisons carry intervals: paired runs (same seed, two protocols) by the t interval of the
geometric-mean ratio (of the mean log ratio) and the sign test; independent groups (modular
against non-modular networks) by the Welch t interval of the difference of means (with five seeds
a percentile bootstrap interval would be too narrow: ``modgrow.stats``). A difference counts only when
its 95 % interval excludes zero (a ratio's interval excludes 1); "holds" needs, in addition, at
least five seeds and, for paired runs, at least 80 % of the pairs agreeing in direction (groups
that do not pair up are judged by the interval alone), otherwise the strongest word is
"suggestive". Threshold rules report
how the verdict changes when the threshold moves by ±20 %.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from .analysis import run_summary
from .stats import diff_ci, paired_log_ratio

__all__ = ["WORDS", "single_epoch_rule", "paired_verdict", "group_verdict",
           "curriculum_verdicts", "baseline_verdicts", "sensitivity"]

WORDS = ("holds", "holds partly", "suggestive", "not distinguishable", "fails", "not tested")
MIN_SEEDS = 5
AGREE = 0.8
# an interval end this close to no difference (a ratio within 2 % of 1; a difference within 2 % of
# the interval's width from 0) is flagged: the verdict would turn with it
EDGE = 0.02


def single_epoch_rule(median_steps: float, one_epoch_fraction: float, epoch: float = 500,
                      share: float = 0.8) -> str:
    """holds: median stage within one epoch and at least ``share`` of stages too; holds partly:
    median within one epoch; fails otherwise."""
    if median_steps <= epoch and one_epoch_fraction >= share:
        return "holds"
    if median_steps <= epoch:
        return "holds partly"
    return "fails"


def one_epoch_sensitivity(median_steps: float, one_epoch_fraction: float, epoch: float = 500,
                          share: float = 0.8) -> str:
    """``single_epoch_rule`` with both thresholds 20 % stricter (epoch x 0.8, share x 1.2) and 20 %
    looser (epoch x 1.2, share x 0.8): each moves in its own direction."""
    strict = single_epoch_rule(median_steps, one_epoch_fraction, 0.8 * epoch, min(1.0, 1.2 * share))
    loose = single_epoch_rule(median_steps, one_epoch_fraction, 1.2 * epoch, 0.8 * share)
    return (f"thresholds 20 % stricter ({0.8 * epoch:g} steps, {min(1.0, 1.2 * share):.0%}): "
            f"{strict}; 20 % looser ({1.2 * epoch:g} steps, {0.8 * share:.0%}): {loose}")


def on_epoch_threshold(median_steps: float, one_epoch_fraction: float, epoch: float = 500,
                       share: float = 0.8, points: float = 0.05) -> bool:
    """Whether the share of stages within an epoch lies within ``points`` of its threshold, or the
    median within 10 % of the epoch: the verdict turns with a few stages."""
    return (abs(one_epoch_fraction - share) <= points
            or abs(median_steps - epoch) <= 0.1 * epoch)


def sensitivity(rule, *thresholds: float) -> str:
    """The verdicts of ``rule(*thresholds)`` with every threshold 20 % lower and 20 % higher."""
    low = rule(*(0.8 * t for t in thresholds))
    high = rule(*(1.2 * t for t in thresholds))
    return f"thresholds -20 %: {low}; +20 %: {high}"


def ratio_on_line(low: float, high: float) -> bool:
    """Whether an end of a ratio's interval lies within ``EDGE`` of 1 (the word turns with it)."""
    return low > 0 and min(abs(math.log(low)), abs(math.log(high))) <= math.log(1 + EDGE)


def paired_verdict(a, b, better: str = "lower") -> tuple[str, str]:
    """Claim: a is ``better`` ("lower" or "higher") than b, paired by seed (positive values)."""
    r = paired_log_ratio(a, b)
    good_ci = r["high"] < 1 if better == "lower" else r["low"] > 1
    bad_ci = r["low"] > 1 if better == "lower" else r["high"] < 1
    agree = r["b_larger"] if better == "lower" else r["a_larger"]
    edge = ratio_on_line(r["low"], r["high"])
    text = (f"ratio {r['ratio']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
            + (f" (an interval end within {EDGE:.0%} of 1: on the threshold)" if edge else "")
            + f", {agree} of {r['n']} seeds in the claimed direction (sign test p = "
            f"{r['sign_p']:.2f})")
    return _word(good_ci, bad_ci, agree, r["n"]), text


def group_verdict(a, b, better: str = "higher", fmt: str = ".3g") -> tuple[str, str]:
    """Claim: group a's mean is ``better`` than group b's (independent networks)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0 or np.isnan(a).all() or np.isnan(b).all():
        return "not tested", "no networks to compare"
    d, lo, hi = diff_ci(a, b)  # NaN in either group: NaN bounds, no difference counts
    good_ci, bad_ci = (lo > 0, hi < 0) if better == "higher" else (hi < 0, lo > 0)
    n = min(a.size, b.size)
    agree = int(n) if good_ci else 0  # groups are not paired: the interval decides
    edge = hi > lo and min(abs(lo), abs(hi)) <= EDGE * (hi - lo)
    text = (f"{a.mean():{fmt}} vs {b.mean():{fmt}}, difference {d:{fmt}} "
            f"[{lo:{fmt}}, {hi:{fmt}}]"
            + (f" (an interval end within {EDGE:.0%} of its width from 0: on the threshold)"
               if edge else "")
            + f" ({a.size} vs {b.size} networks)")
    return _word(good_ci, bad_ci, agree, n), text


def _word(good_ci: bool, bad_ci: bool, agree: int, n: int) -> str:
    if good_ci:
        return "holds" if n >= MIN_SEEDS and agree >= AGREE * n else "suggestive"
    if bad_ci:
        return "fails"
    return "not distinguishable"


# ----- chapter 3 --------------------------------------------------------------------------------

ABLATION_STEPS = "total steps to the last N"


def curriculum_verdicts(histories: list[dict], retention: list[dict],
                        ablation_steps: dict[str, list[int]], drop_points: float = 1.0,
                        ablation_what: str = ABLATION_STEPS,
                        remeasured: dict | None = None) -> list[dict]:
    """Chapter 3. ``histories``: growth runs; ``retention``: per run (same order) every solved
    head's accuracy at its own stage ("own") and after growth ("final"); ``ablation_steps``: per
    variant, steps per seed (seeds in the same order) counted as ``ablation_what`` says (default:
    total steps to the ablation's last N); ``remeasured``: ``curriculum.remeasure`` of the same
    runs (how the heads' own-stage re-measure compares with the confirmations that ended their
    stages), for the forgetting row's text."""
    rows = []
    for m in sorted({h["config"]["module_size"] for h in histories}):
        hs = [h for h in histories if h["config"]["module_size"] == m]
        # solved stages above the first, and the stage each run stopped on (not solved within its
        # budget: counted with that budget, more than an epoch)
        unsolved = [h["config"]["max_steps_per_stage"] for h in hs
                    if h.get("stop") == "stage_budget"]
        steps = [s["steps"] for h in hs for s in h["stages"][1:]] + unsolved
        med = statistics.median(steps) if steps else math.nan
        frac = sum(s <= 500 for s in steps) / len(steps) if steps else math.nan
        per_seed = [run_summary(h)["one_epoch_fraction"] for h in hs]
        reached = [h.get("max_n_reached") or 0 for h in hs]
        rows.append({
            "claim": f"each new N is solved within about one epoch (M_m = {m})",
            "paper": "within one epoch (500 steps)",
            "this book": f"median {med:.0f} steps per N (N >= 3, {len(steps)} stages of "
                         f"{len(hs)} seeds, {len(unsolved)} of them the unsolved stage a run "
                         f"stopped on, counted at its budget); {100 * frac:.0f}% of stages within "
                         f"500 steps (per seed {min(per_seed) * 100:.0f}-"
                         f"{max(per_seed) * 100:.0f}%); max N {min(reached)}-{max(reached)}"
                         + ("; on its threshold (a few stages turn the verdict)"
                            if on_epoch_threshold(med, frac) else ""),
            "rule": "holds: median <= 500 steps and >= 80% of stages within 500; holds partly: "
                    "median <= 500; " + one_epoch_sensitivity(med, frac),
            "verdict": single_epoch_rule(med, frac),
        })
    own = [a for r in retention for a in r["own"].values()]
    drops = [100 * (r["own"][n] - r["final"][n]) for r in retention for n in r["own"]
             if n in r["final"]]
    below = sum(a <= 0.98 for a in own)

    def kept_rule(points):
        share = sum(d <= points for d in drops) / len(drops)
        return "holds" if share >= 0.95 else ("holds partly" if share >= 0.8 else "fails")
    rows.append({
        "claim": "old tasks are kept while the network grows (frozen modules)",
        "paper": "earlier tasks are kept while the network grows (not quantified)",
        "this book": forgetting_text(drops, own, below, drop_points, remeasured),
        "rule": f"holds: >= 95% of heads lose <= {drop_points:g} point; holds partly: >= 80%; "
                + sensitivity(kept_rule, drop_points),
        "verdict": kept_rule(drop_points),
    })
    dup = ablation_steps.get("duplicate, hard freeze")
    rnd = ablation_steps.get("random init, hard freeze")
    if dup and rnd:
        word, text = paired_verdict(dup, rnd, "lower")
        g = {k: math.exp(statistics.mean(math.log(v) for v in vs))
             for k, vs in ablation_steps.items()}
        rows.append({
            "claim": "duplicating the trained previous module speeds up learning",
            "paper": "duplication used (with noise); benefit stated, not quantified",
            "this book": f"{ablation_what}, geometric mean over seeds: "
                         + "; ".join(f"{k}: {v:,.0f}" for k, v in g.items())
                         + f". Duplicate / random, paired by seed: {text}",
            "rule": "paired ratio's 95% interval below 1; holds with >= 5 seeds and >= 80% "
                    "agreeing, else suggestive",
            "verdict": word,
        })
    return rows


def forgetting_text(drops, own, below: int, drop_points: float, rm: dict | None) -> str:
    """The forgetting row's measurement: how many heads lose at most ``drop_points`` after their
    stage and, separately, what a re-measure at their own stage can say about heads near 98 %."""
    text = (f"{sum(d <= drop_points for d in drops)} of {len(drops)} heads lose at most "
            f"{drop_points:g} point from their own stage to the end of growth (median change "
            f"{0.0 - statistics.median(drops):+.2f} points, at the last stage's longer sequences")
    if rm is None:
        return text + (f"). Separately, {below} of {len(own)} heads read at or below 98 % when "
                       f"measured again at their own stage")
    return text + (
        f"; each change is the difference of two {rm['batches']}-batch measures, each with a "
        f"standard error of about {rm['se']:.2f} points). Separately, every stage ended on a "
        f"{rm['stage batches']}-batch confirmation above {100 * rm['bar']:g} % (98 % plus the "
        f"margin); measured again on {rm['batches']} batches at their own stage, {rm['below']} of "
        f"{rm['heads']} heads read at or below 98 % (mean {100 * rm['mean own']:.2f} % against "
        f"{100 * rm['mean ended']:.2f} % on the confirmations), a count a {rm['batches']}-batch "
        f"measure cannot resolve: a head truly at {100 * rm['bar']:g} % reads at or below 98 % "
        f"in about {100 * rm['p at bar']:.0f} % of such measures")


# ----- chapter 4 --------------------------------------------------------------------------------

def _comparisons(rows: list[dict], claim: str, paper: str, size: str,
                 last_n: dict[int, int] | None = None) -> dict:
    """One verdict over several (modular, non-modular) comparisons of max N (group_verdict).
    ``last_n`` (module size -> the curriculum's last N): a comparison the modular side does not
    win while most of its runs reached that last N is left out -- those runs were stopped by
    their plan, not by their capacity, so it cannot count against the claim."""
    words, parts, left = [], [], 0
    for r in rows:
        for key, mod in r.items():
            if not key.startswith("modular M_m="):
                continue
            word, _ = group_verdict(mod, r["non-modular"], "higher", ".1f")
            last = (last_n or {}).get(int(key[len("modular M_m="):]))
            at_last = sum(n >= last for n in mod) if last else 0
            head = (f"{r[size]:,} {size}, {key[8:]}: {np.mean(mod):.1f} vs "
                    f"{np.mean(r['non-modular']):.1f}")
            if word not in ("holds", "suggestive") and 2 * at_last > len(mod):
                left += 1
                parts.append(f"{head} (left out: {at_last} of {len(mod)} modular runs at the "
                             f"curriculum's last N, {last})")
                continue
            words.append(word)
            parts.append(f"{head} ({word})")
    ahead = sum(w in ("holds", "suggestive") for w in words)
    behind = words.count("fails")
    verdict = comparisons_word(ahead, behind, len(words),
                               all(w == "holds" for w in words))
    out = (f"; {left} left out, the modular runs stopped by their curriculum's last N"
           if left else "")
    return {"claim": claim, "paper": paper,
            "this book": f"modular ahead in {ahead}, behind in {behind} of {len(words)} "
                         f"comparisons (mean max N){out}: " + "; ".join(parts),
            "rule": "per comparison: difference of mean max N with a Welch 95% interval "
                    "(comparisons share runs; no correction for their number); holds if ahead in "
                    "all (>= 5 seeds); holds partly if ahead in at least as many as behind; fails "
                    "if behind in more than ahead and in at least one; else not distinguishable"
                    + ("; a comparison the modular side does not win, with most of its runs at "
                       "the curriculum's last N, is left out (capped by the plan)"
                       if last_n else ""),
            "verdict": verdict}


def comparisons_word(ahead: int, behind: int, n: int, all_firm: bool = True) -> str:
    """One verdict over ``n`` comparisons, ``ahead`` of them for the claim and ``behind`` against
    it (the rest not distinguishable): all ahead -> holds (suggestive unless ``all_firm``); some
    ahead and at least as many as behind -> holds partly; behind in more than ahead -> fails;
    none either way -> not distinguishable."""
    if n and ahead == n:
        return "holds" if all_firm else "suggestive"
    if ahead and ahead >= behind:
        return "holds partly"
    if behind > ahead:
        return "fails"
    return "not distinguishable"


def speed_row(steps_modular, steps_nonmodular, scope: str, lrs: dict[str, float]) -> dict:
    """Claim 2 from each network's median steps per N over ``scope``: compared on a log scale
    (step counts span orders of magnitude), the Welch interval of the difference of mean logs as a
    ratio of geometric means."""
    la, lb = np.log(np.asarray(steps_modular, float)), np.log(np.asarray(steps_nonmodular, float))
    word, _ = group_verdict(la, lb, "lower")
    d, lo, hi = diff_ci(la, lb)
    return {"claim": "2. faster training: fewer steps per new N",
            "paper": "modular within about an epoch, faster",
            "this book": f"median steps per N of each network ({scope}): geometric mean "
                         f"{math.exp(la.mean()):.0f} vs {math.exp(lb.mean()):.0f}, ratio "
                         f"{math.exp(d):.2f} [{math.exp(lo):.2f}, {math.exp(hi):.2f}] "
                         f"({la.size} vs {lb.size} networks); learning rates "
                         f"{lrs['modular']:g} (modular) and {lrs['non-modular']:g} "
                         f"(non-modular), as in the authors' code",
            "rule": "ratio of geometric means with the Welch 95% interval of the difference of "
                    "mean log steps; holds with >= 5 networks per side",
            "verdict": word}


# a change of accuracy of at most this much counts as no change (chapter 3's forgetting rule uses
# the same one point)
NO_CHANGE = 0.01


def length_verdict(drop_modular: list[float], drop_nonmodular: list[float]) -> dict:
    """Claim 3a from each network's change of mean accuracy from 1x to 10x the trained length.
    When both architectures change by at most ``NO_CHANGE`` on average, neither generalises
    better, whatever the interval of the (tiny) difference says."""
    word, text = group_verdict(drop_modular, drop_nonmodular, "higher", ".3f")
    flat = (len(drop_modular) and len(drop_nonmodular)
            and max(abs(np.mean(drop_modular)), abs(np.mean(drop_nonmodular))) <= NO_CHANGE)
    if flat and word != "not tested":
        text += (f"; both change by at most {100 * NO_CHANGE:g} point on average, which counts as "
                 f"no change (the interval alone would say '{word}')")
        word = "not distinguishable"
    return {"claim": "3a. better length generalisation",
            "paper": "modular better",
            "this book": f"change of mean accuracy from 1x to 10x the trained length: {text}",
            "rule": "compares the change with length, not the level (which differs already at "
                    "1x); Welch 95% interval of the difference; a mean change of at most "
                    f"{100 * NO_CHANGE:g} point in both architectures counts as no change "
                    "(not distinguishable)",
            "verdict": word}


def baseline_verdicts(neuron_rows: list[dict], param_rows: list[dict],
                      trainable_rows: list[dict], steps_modular: list[float],
                      steps_nonmodular: list[float], length_drop: dict[str, list[float]],
                      transfer: dict[int, dict[str, list[float]]], lrs: dict[str, float],
                      long_rows: dict[str, list[dict]] | None = None, long_factor: int = 1,
                      speed_scope: str = "N >= 3", budget: int | None = None,
                      last_n: dict[int, int] | None = None) -> list[dict]:
    """Chapter 4, claims 1-3 of FACTS.md. ``steps_*``: per-seed median steps per N;
    ``length_drop``: per network, accuracy at 10x the trained length minus at 1x (mean over
    heads); ``transfer``: steps -> {"modular": [...], "non-modular": [...]} new-head accuracy;
    ``long_rows``: the comparisons under ``long_factor`` times the budget ("neurons", "total",
    "trainable": rows as ``neuron_rows``, ``param_rows``, ``trainable_rows``); ``speed_scope``:
    which stages and networks claim 2 compares; ``budget``: the whole-run step budget of the
    capacity comparisons (named in their claims: a budget-stopped run's N is a lower bound of
    what it reaches with more steps); ``last_n``: module size -> the curriculum's last N
    (comparisons the plan decides are left out, ``_comparisons``)."""
    within = f", within {budget:,} SGD steps" if budget else ""
    claims = {
        "neurons": ("1a", "higher N than a non-modular network with the same neurons", "neurons"),
        "total": ("1b", "higher N at equal total parameters (all weights, trained or frozen)",
                  "parameters"),
        "trainable": ("1c", "higher N at equal trainable parameters (the modular network trains "
                      "only its newest module)", "parameters")}
    given = {"neurons": neuron_rows, "total": param_rows, "trainable": trainable_rows}
    long_rows = long_rows or {}
    long = f" (within {long_factor * budget:,} SGD steps)" if budget else ""
    rows = []
    for key, (tag, text, size) in claims.items():
        rows.append(_comparisons(given[key], f"{tag}{within}: {text}", "modular higher", size,
                                 last_n))
        if long_rows.get(key):
            rows.append(_comparisons(long_rows[key], f"{tag}, {long_factor}x the step budget: "
                                     f"{text}{long}", "modular higher", size, last_n))
    rows.append(speed_row(steps_modular, steps_nonmodular, speed_scope, lrs))
    rows.append(length_verdict(length_drop["modular"], length_drop["non-modular"]))
    for steps, groups in sorted(transfer.items()):
        word, text = group_verdict(groups["modular"], groups["non-modular"], "higher", ".3f")
        rows.append({"claim": f"3b. better transfer to the next N ({steps} steps)",
                     "paper": "modular better",
                     "this book": f"new head's accuracy after {steps} steps: {text}; learning "
                                  f"rates {lrs['modular']:g} / {lrs['non-modular']:g}",
                     "rule": "Welch 95% interval of the difference of means",
                     "verdict": word})
    return rows

