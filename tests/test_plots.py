"""The figure helpers of modgrow.plots that the notebooks do not exercise on their own."""

import base64
from collections import namedtuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from modgrow import plots  # noqa: E402


def test_style_runs_outside_ipython():
    plots.style()
    assert plt.rcParams["figure.dpi"] == plots.DISPLAY_DPI
    assert plt.rcParams["legend.fontsize"] >= 9


def test_png_at_2x_has_twice_the_pixels_of_its_display_width():
    plots.style()
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    data, meta = plots._png_at_2x(fig)
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(raw[16:20], "big")
    assert meta == {"width": width // 2}  # no height: a narrow screen keeps the aspect ratio
    assert abs(width // 2 - 4 * plots.DISPLAY_DPI) < 0.25 * 4 * plots.DISPLAY_DPI  # tight bbox
    plt.close(fig)
    assert plots._png_at_2x(plt.figure()) is None  # an empty figure shows nothing


def test_legend_outside_lists_a_repeated_label_once_and_removes_axes_legends():
    plots.style()
    fig, (a0, a1) = plt.subplots(1, 2)
    for ax in (a0, a1):
        ax.plot([0, 1], [0, 1], label="same")
        ax.legend()
    a1.plot([0, 1], [1, 0], label="other")
    legend = plots._legend_outside(fig)
    assert [t.get_text() for t in legend.get_texts()] == ["same", "other"]
    assert a0.get_legend() is None and a1.get_legend() is None
    plt.close(fig)


# ----- the figures of chapters 3, 4 and fidelity, from small synthetic inputs -------------------

def _history(m, seed, n_max=8):
    rng = np.random.default_rng(100 * m + seed)
    return {"config": {"seed": seed, "module_size": m},
            "stages": [{"n": n, "steps": int(50 * rng.integers(1, 40)),
                        "seconds": float(rng.uniform(1, 30))} for n in range(2, n_max + 1)]}


def _generalisation(rng):
    return {"length": {"accuracy": {str(f): {str(n): float(rng.uniform(0.9, 1)) for n in range(2, 6)}
                                    for f in (1, 2, 5, 10)}},
            "transfer": {"curve": [{"steps": k, "new_head": float(rng.uniform(0.5, 1))}
                                   for k in (0, 50, 100, 200, 500)]}}


def _figures():
    """name -> a function drawing one figure of chapters 3, 4 or fidelity."""
    rng = np.random.default_rng(0)
    sizes, seeds = (5, 10, 15, 20), range(5)
    hist = {m: [_history(m, s) for s in seeds] for m in sizes}
    acc = lambda: {m: [{str(n): float(rng.uniform(0.95, 1)) for n in range(2, 9)} for _ in seeds]
                   for m in sizes}
    answer = namedtuple("Answer", "n answer label confidence")
    curves = {m: [([m * k for k in range(1, 8)], list(range(2, 9))) for _ in seeds] for m in sizes}
    points = {h: (h, [4, 5, 6, 5, 6]) for h in (20, 50, 100, 150)}
    gen = {"modular, M_m = 10": [_generalisation(rng) for _ in seeds],
           **{f"non-modular, {h} neurons": [_generalisation(rng) for _ in seeds] for h in (20, 100)}}
    nets = [{"newest": float(rng.uniform(0.975, 0.995)), "p_check10": float(rng.uniform()),
             "p_epoch_of_10_checks": float(rng.uniform()), "p_test50": 0.0,
             "p_epoch_confirmed": float(rng.uniform())} for _ in range(6)]
    return {
        "steps_to_criterion": lambda: plots.plot_steps_to_criterion(hist),
        "steps_to_criterion_3_sizes": lambda: plots.plot_steps_to_criterion(
            {m: hist[m] for m in sizes[:3]}),
        "wall_time": lambda: plots.plot_wall_time(hist),
        "head_accuracy": lambda: plots.plot_head_accuracy(
            {"at its own stage": acc(), "after growth": acc(), "after growth, p = 0.5": acc()}),
        "ablation": lambda: plots.plot_ablation(
            {v: [list(50 * rng.integers(1, 40, 7)) for _ in seeds]
             for v in ("duplicate, hard freeze", "random init, hard freeze")}, list(range(2, 9))),
        "answers": lambda: plots.plot_answers(
            (torch.rand(20) < 0.5).float(),
            [answer(n, n % 3 == 0, True, 0.5 + 0.05 * n) for n in range(2, 9)]),
        "capacity": lambda: plots.plot_capacity(curves, points, "neurons",
                                                long_points=points, long_label="5x budget"),
        "capacity_log": lambda: plots.plot_capacity(curves, points, "total parameters", logx=True),
        "steps_both": lambda: plots.plot_steps_both(
            hist[10], {h: [_history(h, s) for s in seeds] for h in (20, 50)}),
        "length_generalisation": lambda: plots.plot_length_generalisation(gen),
        "transfer": lambda: plots.plot_transfer(gen),
        "scaling": lambda: plots.plot_scaling(_history(10, 2, n_max=40)),
        "pass_probability": lambda: plots.plot_pass_probability(0.02, nets),
        "variant_steps": lambda: plots.plot_variant_steps(
            {v: list(rng.integers(2000, 9000, 5)) for v in ("ours", "lr", "authors")}),
        "steps_by_seed": lambda: plots.plot_steps_by_seed(hist),
        "steps_by_seed_1_size": lambda: plots.plot_steps_by_seed({10: hist[10]}),
        "architecture": lambda: plots.plot_architecture(),
        "max_n_pairs": lambda: plots.plot_max_n_pairs(
            {20: ([9, 8, 8, 7, 10], [9, 8, 8, 8, 9]), 150: ([21, 20, 21, 23, 21],
                                                          [20, 20, 22, 21, 21])}, [0, 1, 2, 3, 4]),
    }


def _legends(fig):
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]


@pytest.mark.parametrize("name", list(_figures()))
def test_figure_of_chapters_3_4_and_fidelity_keeps_its_legends_off_the_data(name):
    plots.style()
    fig, _ = _figures()[name]()
    fig.canvas.draw()
    assert fig.get_size_inches()[0] <= plots.MAX_WIDTH
    legends = _legends(fig)
    assert legends, f"{name} has no legend"
    frame = fig.bbox.padded(1)
    for legend in legends:
        box = legend.get_window_extent()
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), \
            f"{name}: a legend sticks out of the figure"
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent()), f"{name}: a legend covers data"
        assert min(t.get_fontsize() for t in legend.get_texts()) >= 9
    for ax in fig.axes:
        for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
            assert not text.get_text() or text.get_fontsize() >= 11
    assert plots._png_at_2x(fig) is not None
    plt.close(fig)


def test_steps_to_criterion_draws_every_seed_with_its_own_marker():
    plots.style()
    hist = {m: [_history(m, s) for s in range(6)] for m in (5, 10)}
    fig, axes = plots.plot_steps_to_criterion(hist)
    for ax in axes:
        runs = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
        assert len(runs) == 6  # one line per seed (a fifth and sixth seed were once dropped)
        assert len({line.get_marker() for line in runs}) == 6
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [f"seed {s}" for s in range(6)] + ["one epoch (500 steps)"]
    plt.close(fig)


def test_a_short_log_axis_of_steps_still_has_several_plain_labels():
    plots.style()
    for values in ([550, 600, 800, 1000], [50, 400, 10_000]):
        fig, ax = plots.plot_variant_steps({"ours": values, "other": values[::-1]})
        fig.canvas.draw()
        lo, hi = ax.get_ylim()
        labels = [t.get_text() for t in ax.yaxis.get_majorticklabels()
                  + ax.yaxis.get_minorticklabels()
                  if t.get_text() and lo <= t.get_position()[1] <= hi]
        assert len(labels) >= 3 and all(label.isdigit() for label in labels), labels
        plt.close(fig)


def test_perturbation_explorer_scales_to_a_phone_width():
    """The explorer must fit a 390 px window (about 340 px of content): the plot is an SVG that
    scales with its box and no part has a fixed width wider than that. tools/browser_check.py
    checks the same in Chromium by moving the controls; this is the check without a browser."""
    import re

    sweep = {"eps": [0.01, 0.1, 1.0], "ns": [2, 3],
             "groups": {c: {"stream": {"per_head": [[1.0, 0.9]] * 3}} for c in ("hidden", "input")}}
    html = plots.perturbation_explorer({"modular": sweep}, uid="t")
    svg = re.search(r"<svg [^>]*>", html).group(0)
    assert 'width="100%"' in svg and "viewBox=" in svg and "height:auto" in svg
    fixed = [int(w) for w in re.findall(r"(?<![-\w])width:\s*(\d+)px", html)]
    assert fixed and max(fixed) <= 320, fixed   # the slider is the widest fixed part
    for part in ("class-select", "eps-slider", "eps-value", "plot", "note"):
        assert f'id="t-{part}"' in html


# ----- the head x stage accuracy heatmap, the steps per seed and the architecture diagram -------

def _acc_history(m, seed, n_max, rng):
    """A growth history whose stage N holds an accuracy for every head 2..N."""
    return {"config": {"seed": seed, "module_size": m},
            "stages": [{"n": n, "steps": 50 * int(rng.integers(1, 40)),
                        "accuracy": {str(k): round(float(rng.uniform(0.96, 1)), 5)
                                     for k in range(2, n + 1)}} for n in range(2, n_max + 1)]}


def _grid(ax):
    """(first N, the image's cells as a masked array) of a heatmap panel."""
    im = ax.get_images()[0]
    return round(im.get_extent()[0] + 0.5), im.get_array()


def test_stage_accuracy_cells_are_the_history_and_blank_above_the_diagonal():
    plots.style()
    h = _acc_history(10, 0, 6, np.random.default_rng(1))
    fig, axes = plots.plot_stage_accuracy({10: [h]})
    lo, grid = _grid(axes[0])
    assert lo == 2 and grid.shape == (5, 5)
    for s in h["stages"]:
        for head in range(2, 7):
            if head <= s["n"]:
                assert grid[head - lo, s["n"] - lo] == s["accuracy"][str(head)]
            else:  # the head did not exist yet at that stage
                assert grid.mask[head - lo, s["n"] - lo]
    assert len(fig.axes) == 2  # one panel and its colourbar
    plt.close(fig)


def test_stage_accuracy_takes_the_median_over_runs_or_one_seed_and_handles_early_stops():
    plots.style()
    rng = np.random.default_rng(2)
    runs = [_acc_history(5, 0, 7, rng), _acc_history(5, 1, 4, rng), _acc_history(5, 2, 7, rng)]
    fig, axes = plots.plot_stage_accuracy({5: runs})
    lo, grid = _grid(axes[0])
    assert grid.shape == (6, 6)
    at = lambda r, n, k: r["stages"][n - 2]["accuracy"][str(k)]
    assert grid[3 - lo, 4 - lo] == np.median([at(r, 4, 3) for r in runs])
    # seed 1 stopped after N = 4: later stages are the median of the two runs that reached them
    assert grid[2 - lo, 6 - lo] == np.median([at(runs[0], 6, 2), at(runs[2], 6, 2)])
    plt.close(fig)
    fig, axes = plots.plot_stage_accuracy({5: runs}, seed=1)
    lo, grid = _grid(axes[0])
    assert grid.shape == (3, 3) and grid[2 - lo, 4 - lo] == at(runs[1], 4, 2)
    assert axes[0].get_title().endswith("seed 1")
    plt.close(fig)
    assert plots._stage_accuracy(runs)[2] == [3, 3, 3, 2, 2, 2]  # runs that solved each stage


@pytest.mark.parametrize("sizes", [(10,), (5, 10), (5, 10, 15, 20)])
def test_stage_accuracy_has_a_panel_per_module_size_and_marks_the_criterion(sizes):
    plots.style()
    rng = np.random.default_rng(3)
    fig, axes = plots.plot_stage_accuracy({m: [_acc_history(m, s, 3 + m // 5, rng)
                                                for s in range(2)] for m in sizes})
    assert [ax.get_title() for ax in axes] == [f"$M_m$ = {m}" for m in sizes]
    assert fig.get_size_inches()[0] <= plots.MAX_WIDTH
    bar = axes[-1].get_images()[0].colorbar  # the shared colourbar
    assert "0.98 (criterion)" in [t.get_text() for t in bar.ax.get_yticklabels()]
    cmap, norm = bar.cmap, bar.norm
    below, above = (cmap(norm(v)) for v in (0.98, 0.98001))  # the criterion needs more than 0.98
    assert below[0] > below[2] and above[2] > above[0]  # red at or below, blue above
    plt.close(fig)


def test_steps_by_seed_draws_a_box_and_every_stage_but_the_first_per_seed():
    plots.style()
    hist = {m: [_history(m, s) for s in range(4)] for m in (5, 20)}
    fig, axes = plots.plot_steps_by_seed(hist)
    for ax, m in zip(axes, (5, 20)):
        points = [line for line in ax.get_lines() if line.get_linestyle() == "None"
                  and line.get_marker() in plots.SEED_MARKERS]
        assert [sorted(p.get_ydata()) for p in points] == \
            [sorted(s["steps"] for s in h["stages"][1:]) for h in hist[m]]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
        assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "one epoch (500 steps)" in labels
    plt.close(fig)


def test_architecture_diagram_follows_the_config():
    from matplotlib.patches import FancyBboxPatch

    from modgrow.training import GrowthConfig
    plots.style()

    def drawn(cfg, n_modules=4):
        fig, ax = plots.plot_architecture(cfg, n_modules)
        texts = [t.get_text() for t in ax.texts]
        boxes = [p.get_facecolor() for p in ax.patches if isinstance(p, FancyBboxPatch)]
        legend = "\n".join(t.get_text() for t in fig.legends[0].get_texts())
        plt.close(fig)
        return texts, boxes, legend

    texts, boxes, legend = drawn(GrowthConfig())
    assert [t for t in texts if t.startswith("head")] == [f"head N = {n}" for n in range(2, 6)]
    assert texts.count(r"$w^{in}$") == 4 and texts.count(r"$W^{ff}$") == 3
    frozen = matplotlib.colors.to_rgba(plots.ARCH_STATE_COLORS["frozen"])
    trained = matplotlib.colors.to_rgba(plots.ARCH_STATE_COLORS["trained"])
    assert boxes == [frozen, frozen] * 3 + [trained, trained]  # module, head, ...
    assert "module 3 starts as module 2's trained parameters × (1 + 0.05 ξ)" in legend
    assert "w_rec" in legend and "head starts at random" in legend
    texts, boxes, legend = drawn(GrowthConfig(duplicate=False, gamma=0.5, n_start=3), 3)
    assert [t for t in texts if t.startswith("head")] == [f"head N = {n}" for n in range(3, 6)]
    assert "starts as" not in legend and "lr × 0.5^age" in legend
    assert len(set(map(tuple, boxes))) == 2  # slowed and trained
    texts, _, legend = drawn(GrowthConfig(), 2)  # the copy of module 0 has no W_ff to copy
    assert "w_ff" not in legend and "w_rec" in legend
    with pytest.raises(ValueError):
        plots.plot_architecture(GrowthConfig(architecture="nonmodular"))


def test_drift_figure_draws_each_seed_and_the_median_per_class_and_initialisation():
    def net(seed, scale):
        return {"seed": seed, "modules": 3,
                "drift": {"within": [0.5 * scale, 0.2 * scale, 0.1 * scale],
                          "between": [None, 0.4 * scale, 0.3 * scale]}}
    summary = {"duplicate": [net(0, 1), net(1, 2)], "random init": [net(0, 3)]}
    fig, axes = plots.plot_drift(summary)
    assert [a.get_title() for a in axes] == ["duplicate", "random init"]
    for ax, rows in zip(axes, summary.values()):
        assert len(ax.lines) == 2 * (len(rows) + 1)       # per class: each seed and the median
        assert ax.get_yscale() == "log"
    median_within = [ln for ln in axes[0].lines if ln.get_label() == "within-module"][0]
    assert list(median_within.get_ydata()) == pytest.approx([0.75, 0.3, 0.15])
    median_between = [ln for ln in axes[0].lines if ln.get_label() == "between-module"][0]
    assert np.isnan(median_between.get_ydata()[0])       # module 0 has no between matrix
    fig.canvas.draw()                                    # the labels render
    plt.close(fig)


def test_max_n_pairs_joins_each_seeds_two_runs_at_every_size():
    pairs = {20: ([9, 8], [7, 8]), 50: ([13, 14], [12, 15])}
    fig, ax = plots.plot_max_n_pairs(pairs, [0, 1])
    joined = [ln for ln in ax.lines if ln.get_linestyle() == "-" and len(ln.get_xdata()) == 2]
    assert [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in joined] == [
        ([0, 1], [9, 7]), ([0, 1], [8, 8]), ([3, 4], [13, 12]), ([3, 4], [14, 15])]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "20: without margin", "20: with margin", "50: without margin", "50: with margin"]
    plt.close(fig)


def test_cost_by_n_figure_draws_each_round_the_fit_and_the_work_line():
    """One panel per kind of batch, every round's point, the fitted law and the work model's
    line through the fit at the smallest N; within the page width, with a legend."""
    from modgrow.bench import batch_flops, cost_fit, step_flops

    ns = [100, 150, 200]
    rows = [{"n": n, "round": k, "step_ms": step_flops(n, 10, 256, n) / 2e7 * (1 + 0.02 * k),
             "test_ms": batch_flops(n, 10, 256) / 3e7 * (1 + 0.02 * k),
             "step_gflops": 20.0, "test_gflops": 30.0} for n in ns for k in range(4)]
    data = {"ns": ns, "module_size": 10, "batch_size": 256, "rows": rows}
    plots.style()
    fig, axes = plots.plot_cost_by_n(data, cost_fit(data))
    fig.canvas.draw()
    assert fig.get_size_inches()[0] <= plots.MAX_WIDTH and _legends(fig)
    assert [ax.get_title().split(":")[0] for ax in axes] == ["training step", "test batch"]
    for ax in axes:
        points, fitted, work = ax.get_lines()
        assert len(points.get_xdata()) == len(rows)
        assert work.get_linestyle() == "--"
        assert work.get_ydata()[0] == pytest.approx(fitted.get_ydata()[0])
