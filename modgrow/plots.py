"""Figure functions for the book: each returns (fig, ax) and uses one style."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

from .analysis import best_accuracy_seeing, full_recurrent_matrix, label_balance
from .tasks import sequence_length_range

__all__ = ["style", "SIZE_COLORS", "ARCH_COLORS", "plot_sequences", "plot_length_distribution",
           "plot_label_balance", "plot_bits_seen", "plot_connectivity", "plot_parameters",
           "plot_steps_to_criterion", "plot_wall_time", "plot_head_accuracy", "plot_ablation",
           "plot_answers", "plot_pass_probability", "plot_variant_steps"]

SIZE_COLORS = {5: "#1b9e77", 10: "#d95f02", 15: "#7570b3", 20: "#e7298a"}
ARCH_COLORS = {"modular": "#d95f02", "nonmodular": "#4d4d4d"}


# Pixels per inch of a figure on the page: a figure 6.5 in wide is shown 650 CSS pixels wide,
# inside the book's text column (about 760 px), so its text appears at its point size (1 pt =
# 100/72 px, slightly above a CSS point); the PNG holds twice as many pixels (crisp on
# high-density screens and when zoomed on a phone). The book's figures are at most MAX_WIDTH
# inches wide, so that none is shrunk on a desktop page.
DISPLAY_DPI = 100
MAX_WIDTH = 7.2


def style() -> None:
    """The book's matplotlib style; numpy scalars print as plain numbers (myst-nb's glue formats
    a value from its text form, which numpy 2 writes as ``np.float64(...)``). In an IPython
    kernel, figures are shown as PNGs at twice ``DISPLAY_DPI`` (see ``_show_png_at_2x``)."""
    np.set_printoptions(legacy="1.25")
    plt.rcParams.update({
        "figure.dpi": DISPLAY_DPI, "savefig.dpi": 2 * DISPLAY_DPI,
        "font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11,
        "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 9.5,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "legend.frameon": False, "figure.constrained_layout.use": True,
    })
    _show_png_at_2x()


def _png_at_2x(fig):
    """A figure as PNG at twice its dpi (base64, as IPython sends it) with only its display width
    as metadata: the page shows it at ``fig.dpi`` pixels per inch, and a narrow screen shrinks it
    keeping its aspect ratio (a height would be fixed by Sphinx's inline style)."""
    import base64

    from IPython.core.pylabtools import print_figure

    data = print_figure(fig, "retina")  # PNG at 2 x fig.dpi, tight bounding box
    if data is None:  # an empty figure
        return None
    width = int.from_bytes(data[16:20], "big")  # from the PNG's IHDR chunk
    return base64.b64encode(data).decode("ascii"), {"width": width // 2}


def _show_png_at_2x() -> None:
    """Register ``_png_at_2x`` as the PNG formatter of matplotlib figures in a running IPython
    kernel (the inline backend's own formatter writes the PNG at ``figure.dpi``)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    import importlib

    import matplotlib
    from matplotlib.figure import Figure

    # Import the backend now: importing matplotlib_inline's backend (pyplot does so at the first
    # figure) registers its own figure formatters, which would replace this one.
    backend = matplotlib.rcParams["backend"]
    if backend.startswith("module://"):
        importlib.import_module(backend.removeprefix("module://"))
    shell.display_formatter.formatters["image/png"].for_type(Figure, _png_at_2x)


def _legend_outside(fig, axes=None, where: str = "upper center", ncols: int | None = None, **kw):
    """One legend for the figure outside every axes (constrained layout keeps room for it):
    ``where`` is a matplotlib ``outside ...`` location; a label repeated across ``axes`` (default:
    all of the figure's) is listed once; ``ncols`` defaults to one row."""
    entries = {}
    for ax in np.ravel(fig.axes if axes is None else axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    return fig.legend(list(entries.values()), list(entries), loc="outside " + where,
                      ncols=ncols or max(1, len(entries)), **kw)


def _legend_above(ax, ncols: int = 1, **kw):
    """The legend of ``ax`` in a block above it, outside the data."""
    return ax.legend(loc="lower left", bbox_to_anchor=(0, 1.02), borderaxespad=0, ncols=ncols,
                     **kw)


def _legend_right(ax, **kw):
    """The legend of ``ax`` to its right, outside the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, **kw)


def _plain_log_ticks(axis) -> None:
    """Ticks of a log axis at 1, 2 and 5 times powers of ten, written as plain numbers."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter
    axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def _plain_log_axis(axis) -> None:
    """Like ``_plain_log_ticks``, and on an axis spanning less than a decade or so (too few major
    ticks to read it) the minor ticks are labelled too, also as plain numbers."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"

    _plain_log_ticks(axis)
    axis.set_minor_formatter(PlainLogFormatter(minor_thresholds=(1, 0.4)))


def _opaque_legend_handles(legend) -> None:
    """Legend markers at full opacity (the plotted points may be faint)."""
    for handle in legend.legend_handles:
        handle.set_alpha(1)


def plot_sequences(x: torch.Tensor, y: torch.Tensor, ns, n_show: int = 6):
    """Bit rasters of a few sequences with their parity labels for each N; the last N bits of
    the largest N are outlined."""
    bits = x[:n_show, :, 0].numpy()
    fig, ax = plt.subplots(figsize=(6.8, 0.4 * n_show + 1.2))
    ax.imshow(bits, cmap="Greys", aspect="auto", vmin=0, vmax=1.4, interpolation="nearest")
    t = bits.shape[1]
    ax.add_patch(plt.Rectangle((t - max(ns) - 0.5, -0.5), max(ns), n_show, fill=False,
                               ec="#d95f02", lw=2, label=f"last {max(ns)} bits"))
    ax.set_yticks(range(n_show))
    ax.set_yticklabels([" ".join(f"N{n}:{int(y[i, j])}" for j, n in enumerate(ns))
                        for i in range(n_show)], fontsize=9.5)
    ax.set_xlabel("time step (one bit per step; black = 1)")
    ax.grid(False)
    _legend_outside(fig, where="upper left")
    return fig, ax


def plot_length_distribution(lengths_by_nmax: dict[int, list[int]]):
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for n_max, lengths in lengths_by_nmax.items():
        lo, hi = sequence_length_range(n_max)
        ax.hist(lengths, bins=np.arange(lo, hi + 1) - 0.5, alpha=0.6, density=True,
                label=f"N_max={n_max}: T in [{lo}, {hi - 1}]")
    ax.set_xlabel("sequence length T (drawn once per batch)")
    ax.set_ylabel("fraction of batches")
    _legend_outside(fig, ncols=2)
    return fig, ax


def plot_label_balance(ns, empirical_per_batch, empirical_fixed):
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot(ns, [label_balance(n) for n in ns], "k-", lw=1, label="theory, p ~ U(0,1) per batch")
    ax.plot(ns, empirical_per_batch, "o", color="#d95f02", label="sampled, p ~ U(0,1) per batch")
    ax.plot(ns, empirical_fixed, "s", color="#1b9e77", label="sampled, p = 0.5")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("N")
    ax.set_ylabel("P(label = 1)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _legend_outside(fig, ncols=2)
    return fig, ax


def plot_bits_seen(n: int, simulated: dict[str, list[float]]):
    """Best possible accuracy when only k of the last N bits are seen: theory and simulation."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ks = list(range(n + 1))
    for prob, color in (("per_batch", "#d95f02"), (0.5, "#1b9e77")):
        label = "p ~ U(0,1) per batch" if prob == "per_batch" else "p = 0.5"
        ax.plot(ks, [best_accuracy_seeing(n, k, prob) for k in ks], "-", color=color,
                label=f"theory, {label}")
        ax.plot(ks, simulated[str(prob)], "o", color=color, ms=5, label=f"simulated, {label}")
    ax.set_xlabel(f"bits seen among the last N = {n}")
    ax.set_ylabel("best accuracy")
    ax.set_ylim(0.45, 1.02)
    _legend_outside(fig, ncols=2)
    return fig, ax


def plot_connectivity(nets: dict):
    """Recurrent matrices side by side (row: receiving neuron, column: sending neuron)."""
    import textwrap
    fig, axes = plt.subplots(1, len(nets), figsize=(min(MAX_WIDTH, 2.4 * len(nets)), 3.2))
    axes = np.atleast_1d(axes)
    for ax, (title, net) in zip(axes, nets.items()):
        w = full_recurrent_matrix(net).numpy()
        lim = np.abs(w).max()
        im = ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(textwrap.fill(title, 20))
        ax.set_xlabel("from neuron")
        ax.grid(False)
        fig.colorbar(im, ax=ax, location="bottom", shrink=0.9, aspect=15, label="weight")
    axes[0].set_ylabel("to neuron")
    return fig, axes


def plot_parameters(rows: list[dict]):
    """Total and trainable parameters at one stage, modular against non-modular (equal neurons)."""
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    sizes = sorted({r["module_size"] for r in rows})
    x = np.arange(len(sizes))
    for j, (arch, key, hatch) in enumerate((("modular", "total_all", ""),
                                            ("modular", "trainable_all", "//"),
                                            ("nonmodular", "total_all", ""))):
        vals = [next(r[key] for r in rows if r["architecture"] == arch and r["module_size"] == m)
                for m in sizes]
        ax.bar(x + (j - 1) * 0.27, vals, 0.27, color=ARCH_COLORS[arch], hatch=hatch,
               alpha=0.9 if hatch == "" else 0.5,
               label=f"{arch}, {'trainable' if 'trainable' in key else 'total'}")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"M_m = {m}\n({rows[0]['n'] - 1} modules)" for m in sizes])
    ax.set_ylabel("parameters")
    _legend_outside(fig)
    return fig, ax


ARCH_STATE_COLORS = {"trained": "#fdd0a2", "frozen": "#d9d9d9", "slowed": "#fee6ce"}


def plot_architecture(cfg=None, n_modules: int = 4):
    """A schematic of the modular network at the stage that trains its ``n_modules``-th module,
    read from a ``training.GrowthConfig`` (default: the default config) and the code: every
    module gets the input bit (``w_in``) and a recurrent loop (``W_rec``, per-neuron tau);
    module k feeds module k+1 (``W_ff``); head k answers N = n_start + k from its module's final
    state. Shading: whether a module's and a head's parameters train at this stage
    (``training.lr_multiplier``). The newest module is marked as initialised from its
    predecessor when the config duplicates (``network.DUPLICATED``). Returns (fig, ax)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    from .network import DUPLICATED
    from .training import GrowthConfig, lr_multiplier
    cfg = GrowthConfig() if cfg is None else cfg
    if cfg.architecture != "modular" or n_modules < 2:
        raise ValueError("the diagram shows a modular network of at least two modules")

    def state(mult: float) -> str:
        return "trained" if mult == 1 else "frozen" if mult == 0 else "slowed"

    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.3))
    ax.set_axis_off()
    ax.set_aspect("equal")
    pitch, w, h, y0, yh = 3.0, 2.0, 1.5, 1.3, 4.0
    arrow = dict(arrowstyle="-|>", mutation_scale=12, lw=1.2, color="k")
    for k in range(n_modules):
        x = k * pitch
        body = state(lr_multiplier(cfg, n_modules, k, "within"))
        ax.add_patch(FancyBboxPatch((x, y0), w, h, boxstyle="round,pad=0.05",
                                    fc=ARCH_STATE_COLORS[body], ec="k", lw=1.2))
        ax.text(x + w / 2, y0 + h - 0.25, f"module {k}", ha="center", va="center",
                fontsize=10, weight="bold")
        # the recurrent loop: W_rec (no self-connections) and per-neuron tau
        ax.add_patch(FancyArrowPatch((x + w / 2 - 0.25, y0 + 0.5), (x + w / 2 + 0.25, y0 + 0.5),
                                     connectionstyle="arc3,rad=-1.4", **arrow))
        ax.text(x + w / 2, y0 + 0.27, r"$W^{rec}$, $\tau$", ha="center", va="center",
                fontsize=9.5)
        # the input reaches every module
        ax.add_patch(FancyArrowPatch((x + w / 2, 0.35), (x + w / 2, y0 - 0.07), **arrow))
        ax.text(x + w / 2 + 0.08, 0.75, r"$w^{in}$", ha="left", va="center", fontsize=9.5)
        # the head of module k answers N = n_start + k from the module's final state
        head = state(lr_multiplier(cfg, n_modules, k, "readout"))
        ax.add_patch(FancyArrowPatch((x + w / 2, y0 + h + 0.07), (x + w / 2, yh - 0.07),
                                     **arrow))
        ax.add_patch(FancyBboxPatch((x + 0.35, yh), w - 0.7, 0.55, boxstyle="round,pad=0.05",
                                    fc=ARCH_STATE_COLORS[head], ec="k", lw=1))
        ax.text(x + w / 2, yh + 0.27, f"head N = {cfg.n_start + k}", ha="center",
                va="center", fontsize=9.5)
        if k > 0:  # feed-forward from the previous module
            ax.add_patch(FancyArrowPatch((x - pitch + w + 0.07, y0 + h / 2),
                                         (x - 0.07, y0 + h / 2), **arrow))
            ax.text(x - (pitch - w) / 2, y0 + h / 2 + 0.12, r"$W^{ff}$", ha="center",
                    va="bottom", fontsize=9.5)
    span = (n_modules - 1) * pitch + w
    ax.plot([0, span], [0.35, 0.35], color="k", lw=1.2)
    ax.text(span / 2, 0.05, "input: one bit x(t) per time step, to every module",
            ha="center", va="center", fontsize=9.5)
    handles = [Patch(fc=ARCH_STATE_COLORS["frozen"], ec="k", label="frozen at this stage"),
               Patch(fc=ARCH_STATE_COLORS["trained"], ec="k", label="trained at this stage")]
    if any(0 < lr_multiplier(cfg, n_modules, k, "within") < 1 for k in range(n_modules)):
        handles.append(Patch(fc=ARCH_STATE_COLORS["slowed"], ec="k",
                             label=f"trained at lr × {cfg.gamma:g}^age"))
    if cfg.duplicate:
        new, old = n_modules - 1, n_modules - 2
        ax.add_patch(FancyArrowPatch((old * pitch + w - 0.3, y0 + h + 0.07),
                                     (new * pitch + 0.3, y0 + h + 0.07), ls="--",
                                     connectionstyle="arc3,rad=-0.5", arrowstyle="-|>",
                                     mutation_scale=12, lw=1.2, color="#d95f02"))
        ax.text(new * pitch - (pitch - w) / 2, y0 + h + 0.72, f"copy of\nmodule {old}",
                ha="center", va="bottom", fontsize=9.5, color="#d95f02")
        what = "trained" if cfg.duplicate_source == "trained" else "initial"
        copied = [n for n in DUPLICATED if not (old == 0 and n in ("w_ff", "b_ff"))]
        handles.append(Line2D([], [], color="#d95f02", ls="--", lw=1.2,
                              label=f"module {new} starts as module {old}'s {what} parameters "
                                    f"× (1 + {cfg.noise:g} ξ), ξ ~ N(0, 1)\n"
                                    f"({', '.join(copied)}); its head starts "
                                    + ("as a noisy copy of head " + str(old)
                                       if cfg.duplicate_head else "at random")))
    ax.set_xlim(-0.2, span + 0.2)
    ax.set_ylim(-0.15, yh + 0.7)
    fig.legend(handles=handles, loc="outside lower center", ncols=2 if len(handles) < 3 else 1)
    return fig, ax


__all__ += ["plot_architecture"]


SEED_MARKERS = "os^dvP*X"


def _seed_handles(seeds, color="0.25", **kw):
    """Legend handles for seeds drawn with ``SEED_MARKERS`` (marker by position in ``seeds``)."""
    from matplotlib.lines import Line2D
    return [Line2D([], [], marker=SEED_MARKERS[j % len(SEED_MARKERS)], ms=4, lw=0.8, color=color,
                   label=f"seed {s}", **kw) for j, s in enumerate(seeds)]


def _steps_axis(ax, epoch: int, ylabel: str | None, epoch_label: str | None = None) -> None:
    """Steps-to-criterion axes: log scale, a dashed line at one epoch (with ``epoch_label`` as its
    legend label), N on x. The legend is left to the caller (outside the data)."""
    ax.axhline(epoch, color="k", ls="--", lw=0.8, label=epoch_label)
    ax.set_yscale("log")
    ax.set_xlabel("N")
    if ylabel:
        ax.set_ylabel(ylabel)


def _epoch_label(epoch: int) -> str:
    return f"one epoch ({epoch} steps)"


def plot_steps_to_criterion(histories_by_size: dict[int, list[dict]], epoch: int = 500):
    """Steps to criterion against N, one panel per module size (a grid of two columns), one line
    per seed (marker by seed, the same in every panel); one legend above the panels."""
    from matplotlib.lines import Line2D
    sizes = sorted(histories_by_size)
    cols = min(2, len(sizes))
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.8, 2.5 * rows + 0.9), sharex=True,
                             sharey=True, squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(sizes):]:
        ax.set_visible(False)
    seeds = sorted({h["config"]["seed"] for hs in histories_by_size.values() for h in hs})
    for i, (ax, m) in enumerate(zip(axes, sizes)):
        for h in histories_by_size[m]:
            marker = SEED_MARKERS[seeds.index(h["config"]["seed"]) % len(SEED_MARKERS)]
            ax.plot([s["n"] for s in h["stages"]], [s["steps"] for s in h["stages"]],
                    marker + "-", ms=3.5, lw=0.8, color=SIZE_COLORS.get(m), alpha=0.8)
        _steps_axis(ax, epoch, "steps to criterion" if i % cols == 0 else None)
        ax.set_title(f"$M_m$ = {m}")
        if i + cols < len(sizes):  # a panel below shows the same x axis
            ax.set_xlabel("")
        else:
            ax.tick_params(labelbottom=True)
    axes[0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _plain_log_axis(axes[0].yaxis)
    handles = _seed_handles(seeds) + [Line2D([], [], color="k", ls="--", lw=0.8,
                                             label=_epoch_label(epoch))]
    fig.legend(handles=handles, loc="outside upper center", ncols=-(-len(handles) // 2))
    return fig, axes[:len(sizes)]


def plot_wall_time(histories_by_size: dict[int, list[dict]]):
    """Cumulative wall time against N, one line per run, coloured by module size."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for m in sorted(histories_by_size):
        for i, h in enumerate(histories_by_size[m]):
            ns = [s["n"] for s in h["stages"]]
            ax.plot(ns, np.cumsum([s["seconds"] for s in h["stages"]]) / 60, "-", lw=1,
                    color=SIZE_COLORS.get(m), label=f"$M_m$ = {m}" if i == 0 else None)
    ax.set_xlabel("N")
    ax.set_ylabel("cumulative wall time\n(min, 1 CPU thread)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _legend_outside(fig)
    return fig, ax


def plot_head_accuracy(panels: dict[str, dict[int, list[dict[str, float]]]],
                       threshold: float = 0.98):
    """Accuracy of every head, one line per run coloured by module size, one panel per
    measurement (``panels``: title -> module size -> one {N: accuracy} per run), side by side
    with a shared y axis; one legend above the panels."""
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(MAX_WIDTH, 2.9 * rows + 0.9), sharex=True,
                             sharey=True, squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for i, (ax, (title, by_size)) in enumerate(zip(axes, panels.items())):
        for m, runs in sorted(by_size.items()):
            for j, acc in enumerate(runs):
                ax.plot([int(k) for k in acc], list(acc.values()), "-", lw=0.8,
                        color=SIZE_COLORS.get(m), alpha=0.8,
                        label=f"$M_m$ = {m}" if j == 0 else None)
        ax.axhline(threshold, color="k", ls="--", lw=0.8,
                   label=f"criterion ({100 * threshold:g} %)")
        ax.set_title(title)
        if i % cols == 0:
            ax.set_ylabel("accuracy")
        if i + cols >= len(panels):
            ax.tick_params(labelbottom=True)
    axes[0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.supxlabel("head (the N it was trained for)", fontsize=plt.rcParams["axes.labelsize"])
    _legend_outside(fig, axes[:len(panels)])
    return fig, axes[:len(panels)]


def plot_ablation(steps_by_variant: dict[str, list[list[int]]], ns: list[int], epoch: int = 500):
    """Median (over seeds) steps to criterion per N for each training variant."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, runs in steps_by_variant.items():
        length = min(len(r) for r in runs)
        med = np.median(np.array([r[:length] for r in runs]), axis=0)
        ax.plot(ns[:length], med, ".-", label=label)
    _steps_axis(ax, epoch, "steps to criterion\n(median over seeds)", _epoch_label(epoch))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _plain_log_axis(ax.yaxis)
    _legend_outside(fig, ncols=2)
    return fig, ax


def plot_answers(x: torch.Tensor, rows):
    """A sequence and each head's answer (green: right, red: wrong)."""
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.8, 3.6), height_ratios=[1, 2])
    a0.imshow(x.reshape(1, -1).numpy(), cmap="Greys", aspect="auto", vmin=0, vmax=1.4,
              interpolation="nearest")
    a0.set_yticks([])
    a0.set_xlabel("input bits (one per time step; black = 1)")
    a0.grid(False)
    ns = [r.n for r in rows]
    ok = [r.answer == r.label for r in rows]
    colors = {True: "#1b9e77", False: "#d62728"}
    a1.bar(ns, [r.confidence for r in rows], color=[colors[o] for o in ok])
    a1.set_ylim(0.4, 1.02)
    a1.set_xlabel("head N")
    a1.set_ylabel("confidence\nof its answer")
    a1.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    a1.set_title(f"{sum(ok)}/{len(ok)} heads answer correctly")
    fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colors[True], label="right"),
                        plt.Rectangle((0, 0), 1, 1, color=colors[False], label="wrong")],
               loc="outside right lower")
    return fig, (a0, a1)


def _stage_accuracy(histories: list[dict]):
    """(first N, grid, runs): grid[head - first, stage - first] is the median over ``histories``
    of head's accuracy on the test that ended that stage (NaN where no run has that cell: above
    the diagonal, or past the last stage any run solved); runs[j]: how many runs solved stage
    first + j."""
    cells: dict[tuple[int, int], list[float]] = {}
    for h in histories:
        for s in h["stages"]:
            for head, a in s["accuracy"].items():
                cells.setdefault((int(head), int(s["n"])), []).append(float(a))
    if not cells:
        return None, np.full((0, 0), np.nan), []
    lo = min(min(k) for k in cells)
    hi = max(max(k) for k in cells)
    grid = np.full((hi - lo + 1, hi - lo + 1), np.nan)
    for (head, n), v in cells.items():
        grid[head - lo, n - lo] = np.median(v)
    runs = [sum(any(s["n"] == n for s in h["stages"]) for h in histories)
            for n in range(lo, hi + 1)]
    return lo, grid, runs


def _criterion_colours(threshold: float, vmin: float, step: float):
    """A stepped colour scale for accuracies: bins of ``step`` from ``vmin`` to 1, reds at or
    below ``threshold`` (the criterion needs more than it), blues above, none of them white (the
    colour of a blank cell); dark red below ``vmin``."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    below = np.linspace(vmin, threshold, max(1, round((threshold - vmin) / step)) + 1)
    above = np.linspace(threshold, 1.0, max(1, round((1.0 - threshold) / step)) + 1)
    base = plt.get_cmap("RdBu")
    colours = [*base(np.linspace(0.12, 0.4, len(below) - 1)),
               *base(np.linspace(0.6, 0.95, len(above) - 1))]
    edges = np.concatenate([below[:-1], [np.nextafter(threshold, 1.0)], above[1:-1],
                            [np.nextafter(1.0, 2.0)]])
    cmap = ListedColormap(colours).with_extremes(under=base(0.0))
    return cmap, BoundaryNorm(edges, len(colours))


def plot_stage_accuracy(histories_by_size: dict[int, list[dict]], threshold: float = 0.98,
                        seed: int | None = None, vmin: float = 0.97, step: float = 0.0025):
    """Accuracy of every head (row: the N it answers) on the test that ended each curriculum stage
    (column: the N that stage trained), one panel per module size: the median over the runs
    that solved that stage, or with ``seed`` that seed's run alone. Cells above the diagonal (a
    head that did not exist yet) and past the last stage solved stay blank. One stepped colour
    scale for all panels (``_criterion_colours``: red at or below ``threshold``, blue above,
    bins of ``step``, below ``vmin`` dark red), its colourbar labelling the criterion."""
    sizes = sorted(histories_by_size)
    cols = min(2, len(sizes))
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(MAX_WIDTH if cols > 1 else 5.6,
                                                  3.1 * rows + 0.6 * (rows == 1)), squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(sizes):]:
        ax.set_visible(False)
    cmap, norm = _criterion_colours(threshold, vmin, step)
    im = None
    for i, (ax, m) in enumerate(zip(axes, sizes)):
        hs = histories_by_size[m]
        if seed is not None:
            hs = [h for h in hs if h["config"]["seed"] == seed]
        lo, grid, _ = _stage_accuracy(hs)
        ax.grid(False)
        ax.set_title(f"$M_m$ = {m}" + (f", seed {seed}" if seed is not None else ""))
        if i % cols == 0:
            ax.set_ylabel("head (the N it answers)")
        if i + cols >= len(sizes):
            ax.set_xlabel("stage (the N it trained)")
        if lo is None:
            ax.text(0.5, 0.5, "no stored run", ha="center", va="center", transform=ax.transAxes)
            continue
        hi = lo + len(grid) - 1
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, origin="lower",
                       extent=(lo - 0.5, hi + 0.5, lo - 0.5, hi + 0.5), interpolation="nearest")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(plt.MaxNLocator(integer=True, nbins=6))
    if im is not None:
        bar = fig.colorbar(im, ax=axes[:len(sizes)].tolist(), shrink=0.8 if rows > 1 else 1,
                           aspect=25, extend="min", spacing="proportional",
                           label="accuracy on the test that ended the stage")
        ticks = sorted({vmin, threshold, *np.arange(threshold, 1.0 + 1e-9, 0.01)})
        bar.set_ticks(ticks, labels=[f"{t:g} (criterion)" if t == threshold else f"{t:g}"
                                     for t in ticks])
        bar.ax.axhline(threshold, color="k", lw=1.5)
    return fig, axes[:len(sizes)]


def plot_steps_by_seed(histories_by_size: dict[int, list[dict]], epoch: int = 500,
                       skip_first: bool = True):
    """The spread of steps to criterion between seeds: one panel per module size (side by side,
    shared log y axis), one box per seed over that run's stages pooled over N (whiskers: the
    extremes), each stage a point (marker by seed, as in ``plot_steps_to_criterion``); a solid
    line at the median of all stages of the panel, a dashed one at one epoch. With ``skip_first`` the first stage
    (which trains the first module from scratch) is left out, as in ``analysis.run_summary``."""
    from matplotlib.lines import Line2D
    sizes = sorted(histories_by_size)
    seeds = sorted({h["config"]["seed"] for hs in histories_by_size.values() for h in hs})
    width = min(MAX_WIDTH, 1.6 + 0.55 * len(seeds) * len(sizes))
    fig, axes = plt.subplots(1, len(sizes), figsize=(max(width, 5.0), 3.6), sharey=True,
                             squeeze=False)
    axes = axes.ravel()
    rng = np.random.default_rng(0)  # jitter of the points along x only
    for i, (ax, m) in enumerate(zip(axes, sizes)):
        runs = sorted(histories_by_size[m], key=lambda h: h["config"]["seed"])
        steps = [[s["steps"] for s in h["stages"][1 if skip_first else 0:]] for h in runs]
        color = SIZE_COLORS.get(m, "C0")
        ax.boxplot([v if v else [np.nan] for v in steps], positions=range(len(runs)),
                   widths=0.6, whis=(0, 100), showfliers=False, patch_artist=True,
                   boxprops={"facecolor": color, "alpha": 0.3},
                   medianprops={"color": "k", "lw": 1.5})
        for j, (h, v) in enumerate(zip(runs, steps)):
            marker = SEED_MARKERS[seeds.index(h["config"]["seed"]) % len(SEED_MARKERS)]
            ax.plot(j + rng.uniform(-0.18, 0.18, len(v)), v, marker, ms=3.5, color=color,
                    alpha=0.7, ls="none")
        pooled = [x for v in steps for x in v]
        if pooled:
            ax.axhline(np.median(pooled), color=color, lw=1.2)
        ax.axhline(epoch, color="k", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels([str(h["config"]["seed"]) for h in runs])
        ax.set_xlabel("seed")
        ax.set_title(f"$M_m$ = {m}")
        ax.grid(False, axis="x")
        if i == 0:
            ax.set_ylabel("steps to criterion\n(each stage)")
    _plain_log_axis(axes[0].yaxis)
    # the seeds are the x ticks (their markers are those of ``plot_steps_to_criterion``)
    median_colour = SIZE_COLORS.get(sizes[0], "C0") if len(sizes) == 1 else "0.25"
    handles = [Line2D([], [], color=median_colour, lw=1.2,
                      label="median of all stages of the panel"),
               Line2D([], [], color="k", ls="--", lw=0.8, label=_epoch_label(epoch))]
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return fig, axes


__all__ += ["plot_stage_accuracy", "plot_steps_by_seed", "plot_paired_totals",
            "plot_median_steps_by_group"]


# ----- chapter 4: modular against non-modular ------------------------------------------------------

HIDDEN_COLORS = {20: "#bdbdbd", 50: "#969696", 100: "#636363", 150: "#252525", 500: "#000000"}


def _errorbar(ax, x, values, **kw):
    from .analysis import mean_ci
    m, ci = mean_ci(values)
    ax.errorbar([x], [m], yerr=[0 if np.isnan(ci) else ci], capsize=3, **kw)
    ax.plot([x] * len(values), values, ".", color=kw.get("color"), alpha=0.4, ms=4)


def _grouped_legend(fig, groups: list[list], **kw):
    """One legend above the figure with one column per group of handles (shorter groups padded
    with blank rows, so that a column never mixes two groups)."""
    from matplotlib.lines import Line2D
    groups = [g for g in groups if g]
    depth = max((len(g) for g in groups), default=0)
    handles = [h for g in groups
               for h in g + [Line2D([], [], alpha=0, label=" ")] * (depth - len(g))]
    return fig.legend(handles=handles, loc="outside upper center", ncols=max(1, len(groups)),
                      **kw)


def plot_capacity(modular_curves: dict[int, list[tuple[list, list]]],
                  nonmodular_points: dict[int, tuple[float, list[int]]], xlabel: str,
                  logx: bool = False,
                  long_points: dict[int, tuple[float, list[int]]] | None = None,
                  long_label: str = "longer budget"):
    """Highest N reached against a size measure (neurons or parameters). Modular: one thin line
    per seed through its stages (within the budget); non-modular: mean ± 95% CI over seeds with
    the seeds as dots (filled squares; ``long_points``, the same networks trained longer: open
    squares, shifted right a little so that both stay visible). One legend above the axes, a
    column per group (modular, non-modular, non-modular trained longer)."""
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    groups = [[], [], []]
    for m, curves in sorted(modular_curves.items()):
        for i, (xs, ns) in enumerate(curves):
            line, = ax.plot(xs, ns, "-", lw=1, color=SIZE_COLORS.get(m), alpha=0.7,
                            label=f"modular, $M_m$ = {m}")
            if i == 0:
                groups[0].append(line)
    for h, (x, values) in sorted(nonmodular_points.items()):
        _errorbar(ax, x, values, color=HIDDEN_COLORS.get(h, "k"), marker="s", ms=7,
                  label=f"non-modular, {h} neurons")
        groups[1].append(ax.containers[-1])
    for h, (x, values) in sorted((long_points or {}).items()):
        _errorbar(ax, x * 1.04, values, color=HIDDEN_COLORS.get(h, "k"), marker="s", ms=7,
                  mfc="white", label=f"{h} neurons, {long_label}")
        groups[2].append(ax.containers[-1])
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("highest N reached")
    ax.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _grouped_legend(fig, groups)
    return fig, ax


def plot_steps_both(modular: list[dict], nonmodular: dict[int, list[dict]], epoch: int = 500):
    """Steps to criterion against N, both architectures on one figure."""
    fig, ax = plt.subplots(figsize=(6.8, 4))
    for i, h in enumerate(modular):
        ax.plot([s["n"] for s in h["stages"]], [s["steps"] for s in h["stages"]], ".-", lw=0.8,
                color=ARCH_COLORS["modular"], alpha=0.7,
                label=f"modular, $M_m$ = {h['config']['module_size']}" if i == 0 else None)
    for hid, hs in sorted(nonmodular.items()):
        for i, h in enumerate(hs):
            ax.plot([s["n"] for s in h["stages"]], [s["steps"] for s in h["stages"]], "s-",
                    ms=3, lw=0.8, color=HIDDEN_COLORS.get(hid, "k"), alpha=0.8,
                    label=f"non-modular, {hid} neurons" if i == 0 else None)
    _steps_axis(ax, epoch, "SGD steps to criterion", _epoch_label(epoch))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _plain_log_axis(ax.yaxis)
    _opaque_legend_handles(_legend_outside(fig, ncols=3))
    return fig, ax


def plot_steps_groups(groups: dict[str, list[dict]], epoch: int = 500):
    """Steps to criterion against N (log scale) for several groups of runs on one axes: one
    colour per group, one line per run (history)."""
    fig, ax = plt.subplots(figsize=(6.8, 4))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "o^sDvP*X"
    for i, (label, hs) in enumerate(groups.items()):
        color, marker = palette[i % len(palette)], markers[i % len(markers)]
        for j, h in enumerate(hs):
            ax.plot([s["n"] for s in h["stages"]], [s["steps"] for s in h["stages"]],
                    marker=marker, ms=3, lw=0.8, color=color, alpha=0.75,
                    label=label if j == 0 else None)
    _steps_axis(ax, epoch, "SGD steps to criterion", _epoch_label(epoch))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _plain_log_axis(ax.yaxis)
    _opaque_legend_handles(_legend_outside(fig, ncols=min(3, len(groups) + 1)))
    return fig, ax


def plot_median_steps_by_group(histories: dict[str, list[dict]], epoch: int = 500):
    """Steps to criterion against N, one colour per group of runs (label -> histories): every
    run's stages as faint points, and a line through the median over the runs that solved each N
    (drawn where at least half of them did)."""
    import numpy as np
    fig, ax = plt.subplots(figsize=(6.8, 4))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, hs) in enumerate(histories.items()):
        color = palette[i % len(palette)]
        by_n: dict[int, list[int]] = {}
        for h in hs:
            for st in h["stages"]:
                by_n.setdefault(st["n"], []).append(st["steps"])
        ns = sorted(n for n, v in by_n.items() if 2 * len(v) >= len(hs))
        for n, v in by_n.items():
            ax.plot([n] * len(v), v, ".", color=color, alpha=0.25, ms=4)
        ax.plot(ns, [np.median(by_n[n]) for n in ns], "o-", color=color, ms=3, lw=1.2,
                label=f"{label} (median of {len(hs)} seeds)")
    _steps_axis(ax, epoch, "SGD steps to criterion", _epoch_label(epoch))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _plain_log_axis(ax.yaxis)
    long_labels = max(len(str(label)) for label in histories) > 12
    _opaque_legend_handles(_legend_outside(fig, ncols=2 if long_labels else 3))
    return fig, ax


def plot_median_steps_by_module_size(histories_by_size: dict[int, list[dict]],
                                     epoch: int = 500):
    """``plot_median_steps_by_group`` with one group per module size (in increasing order)."""
    return plot_median_steps_by_group(
        {f"$M_m$ = {m}": hs for m, hs in sorted(histories_by_size.items())}, epoch)


def plot_paired_totals(totals: dict[str, list[int]], reached: dict[str, list[bool]],
                       seeds: list[int], ylabel: str = "SGD steps in all"):
    """Paired runs across conditions: one x position per condition (label), one grey line per
    seed joining its totals (marker by seed; open where the run stopped before its last N), and
    the geometric mean with the t 95 % interval of the log mean in black."""
    from .stats import geo_mean_ci
    labels = list(totals)
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    for j, seed in enumerate(seeds):
        ys = [totals[lb][j] for lb in labels]
        marker = SEED_MARKERS[j % len(SEED_MARKERS)]
        ax.plot(range(len(labels)), ys, "-", color="0.6", lw=0.8)
        for i, lb in enumerate(labels):
            ax.plot([i], [ys[i]], marker, ms=4, color="0.35",
                    mfc="0.35" if reached[lb][j] else "white")
    for i, lb in enumerate(labels):
        m, lo, hi = geo_mean_ci(totals[lb])
        ax.errorbar([i + 0.15], [m], yerr=[[m - lo], [hi - m]] if lo == lo else None,
                    fmt="D", color="k", ms=5, capsize=3)
    from matplotlib.lines import Line2D
    handles = _seed_handles(seeds, color="0.35") + [Line2D(
        [], [], marker="D", color="k", ls="", label="geometric mean, 95 % CI")]
    if not all(all(v) for v in reached.values()):
        handles.append(Line2D([], [], marker="o", ls="", color="0.35", mfc="white",
                              label="open: stopped before the last N"))
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    _plain_log_axis(ax.yaxis)
    fig.legend(handles=handles, loc="outside upper center", ncols=min(4, len(handles)))
    return fig, ax


def plot_max_n_pairs(pairs: dict[int, tuple[list[int], list[int]]], seeds: list[int],
                     labels: tuple[str, str] = ("without margin", "with margin")):
    """Highest N of paired runs under two protocols, per network size: at each size two x
    positions (``labels``), one grey line per seed joining its two runs (marker by seed), and the
    mean with its t 95 % interval in black."""
    from .stats import mean_ci
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    sizes = list(pairs)
    for i, h in enumerate(sizes):
        a, b = pairs[h]
        xs = (3 * i, 3 * i + 1)
        for j, ys in enumerate(zip(a, b)):
            ax.plot(xs, ys, "-", color="0.6", lw=0.8)
            ax.plot(xs, ys, SEED_MARKERS[j % len(SEED_MARKERS)], ms=4, color="0.35")
        for x, vals in zip(xs, (a, b)):
            m, lo, hi = mean_ci(vals)
            ax.errorbar([x + 0.2], [m], yerr=[[m - lo], [hi - m]], fmt="D", color="k", ms=5,
                        capsize=3)
    ax.set_xticks([3 * i + k for i in range(len(sizes)) for k in (0, 1)],
                  [f"{h}: {lb}" for h in sizes for lb in labels], rotation=30, ha="right")
    ax.set_xlabel("non-modular neurons")
    ax.set_ylabel("highest N reached")
    from matplotlib.lines import Line2D
    handles = _seed_handles(seeds, color="0.35") + [Line2D(
        [], [], marker="D", color="k", ls="", label="mean, 95 % CI")]
    fig.legend(handles=handles, loc="outside upper center", ncols=min(6, len(handles)))
    return fig, ax


def plot_stage_curves(curves: dict[str, dict[int, list[dict]]], threshold: float = 0.98):
    """Learning curves within a stage (``curves.stage_curve``): one panel per N, the newest
    head's accuracy at every criterion check against the steps of the stage, one thin line per
    run coloured by architecture (the first label modular, the second non-modular); a filled
    marker where a check passed and was confirmed (the stage ended), an open one where it passed
    but the confirmation rejected it; the threshold dashed."""
    from matplotlib.lines import Line2D
    ns = sorted({n for d in curves.values() for n in d})
    fig, axes = plt.subplots(1, len(ns), figsize=(6.8, 3.4), sharey=True, squeeze=False)
    colors = [ARCH_COLORS["modular"], ARCH_COLORS["nonmodular"]]
    for ax, n in zip(axes[0], ns):
        for (label, by_n), color in zip(curves.items(), colors):
            for j, c in enumerate(by_n.get(n, [])):
                steps = [r["step"] for r in c["checks"]]
                ax.plot(steps, [r["newest"] for r in c["checks"]], "-", color=color, lw=0.9,
                        alpha=0.8, marker=SEED_MARKERS[j % len(SEED_MARKERS)], ms=2.5)
                for r in c["checks"]:
                    if "confirmed" in r:
                        ax.plot([r["step"]], [r["newest"]], "o", ms=6, color=color,
                                mfc=color if r["confirmed"] else "white")
        ax.axhline(threshold, color="k", ls="--", lw=0.8)
        ax.set_title(f"stage N = {n}")
        ax.set_xlabel("SGD steps in the stage")
    axes[0][0].set_ylabel("newest head's accuracy\nat each check")
    handles = [Line2D([], [], color=c, lw=1.2, label=lb.replace("M_m", "$M_m$"))
               for lb, c in zip(curves, colors)]
    handles += [Line2D([], [], marker="o", ls="", color="0.3", label="confirmed: stage ends"),
                Line2D([], [], marker="o", ls="", color="0.3", mfc="white",
                       label="passed, confirmation rejected"),
                Line2D([], [], color="k", ls="--", lw=0.8, label=f"threshold {threshold:.0%}")]
    fig.legend(handles=handles, loc="outside upper center", ncols=3)
    return fig, axes[0]


def _group_lines(groups: dict[str, list[dict]], xy):
    """One colour per group, one line per result; ``xy(result) -> (xs, ys)``."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, results), color in zip(groups.items(), palette):
        for i, r in enumerate(results):
            xs, ys = xy(r)
            ax.plot(xs, ys, "o-", color=color, alpha=0.8, label=label if i == 0 else None)
    return fig, ax


def plot_length_generalisation(groups: dict[str, list[dict]]):
    """Mean accuracy over heads against the sequence-length factor; one line per seed."""
    fig, ax = _group_lines(groups, lambda r: (
        [int(f) for f in r["length"]["accuracy"]],
        [np.mean(list(a.values())) for a in r["length"]["accuracy"].values()]))
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 5, 10])
    ax.set_xticklabels(["1x", "2x", "5x", "10x"])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("sequence length / longest trained length")
    ax.set_ylabel("mean accuracy over heads")
    _opaque_legend_handles(_legend_outside(fig, ncols=2))
    return fig, ax


def plot_transfer(groups: dict[str, list[dict]]):
    """Accuracy of the new head against SGD steps after growing for N0 + 1."""
    fig, ax = _group_lines(groups, lambda r: ([c["steps"] for c in r["transfer"]["curve"]],
                                              [c["new_head"] for c in r["transfer"]["curve"]]))
    ax.set_xlabel("SGD steps on the new task")
    ax.set_ylabel("accuracy of the new head")
    ax.axhline(0.98, color="k", ls="--", lw=0.8, label="criterion (98 %)")
    _opaque_legend_handles(_legend_outside(fig, ncols=2))
    return fig, ax


def plot_scaling(history: dict, epoch: int = 500):
    """One long growth run: steps to criterion (top) and cumulative wall time (bottom) against
    N."""
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.5, 5.2), sharex=True)
    ns = [s["n"] for s in history["stages"]]
    a0.plot(ns, [s["steps"] for s in history["stages"]], ".-", lw=0.8,
            color=ARCH_COLORS["modular"], label="steps of each stage")
    _steps_axis(a0, epoch, "steps to criterion", _epoch_label(epoch))
    _plain_log_axis(a0.yaxis)
    a0.set_xlabel("")
    _legend_above(a0, ncols=2)
    a1.plot(ns, np.cumsum([s["seconds"] for s in history["stages"]]) / 60, "-",
            color=ARCH_COLORS["modular"])
    a1.set_xlabel("N")
    a1.set_ylabel("cumulative wall time\n(min, 1 CPU thread)")
    a1.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    return fig, (a0, a1)


def plot_far(summaries: dict[str, dict], epoch: int = 500):
    """The far-growth runs (label -> ``beyond.far_summary``), one colour each: steps of each
    stage with the median of each range of N and its 95 % interval (top), wall milliseconds per
    batch on log-log axes with the fitted power law (middle), cumulative wall time (bottom), all
    against N."""
    from matplotlib.lines import Line2D
    fig, (a0, a1, a2) = plt.subplots(3, 1, figsize=(6.5, 8.0))
    colors = [ARCH_COLORS["modular"], "#1b9e77", "#7570b3", "#e7298a"]
    for (label, summary), color in zip(summaries.items(), colors):
        ns = np.asarray(summary["ns"])
        a0.plot(ns, summary["steps"], ".", ms=3, color=color, alpha=0.6)
        for b in summary["bins"]:
            lo_n, hi_n = (int(v) for v in b["N"].split("-"))
            m, lo, hi = b["median steps"]
            a0.plot([lo_n, hi_n], [m, m], "-", color=color, lw=1.8)
            if lo == lo:
                a0.fill_between([lo_n, hi_n], lo, hi, color=color, alpha=0.15, lw=0)
        a1.plot(ns, np.asarray(summary["seconds per batch"]) * 1000, ".", ms=3, color=color)
        fit = summary["fit"]
        if fit is not None:
            on = ns >= summary["fit from N"]
            a1.plot(ns[on], fit["scale"] * ns[on] ** fit["exponent"] * 1000, "-", color=color,
                    lw=1.4)
        a2.plot(ns, np.cumsum(summary["stage seconds"]) / 3600, "-", color=color)
    _steps_axis(a0, epoch, "steps to criterion")
    _plain_log_axis(a0.yaxis)
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_xlabel("N (log scale)")
    a1.set_ylabel("wall ms per batch\n(1 CPU thread)")
    _plain_log_ticks(a1.xaxis)
    _plain_log_ticks(a1.yaxis)
    a2.set_xlabel("N")
    a2.set_ylabel("cumulative wall time\n(hours, 1 CPU thread)")
    handles = [Line2D([], [], color=c, marker=".", lw=1.8, label=lb)
               for lb, c in zip(summaries, colors)]
    handles += [Line2D([], [], color="0.4", lw=1.8,
                       label="median of a range of N (band: 95 % CI); fitted power law"),
                Line2D([], [], color="k", ls="--", lw=0.8, label=_epoch_label(epoch))]
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return fig, (a0, a1, a2)


def plot_cost_by_n(data: dict, fit: dict):
    """``bench.cost_by_n``'s measurement (``data``) with ``bench.cost_fit`` (``fit``), one panel
    per kind of batch: the wall milliseconds of every round against N on log-log axes, the
    fitted power law (solid), and the work model's growth (dashed) drawn through the fit at the
    smallest N: where the measured points climb above the dashed line, each FLOP costs more."""
    from matplotlib.lines import Line2D
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.4), sharex=True)
    ns = np.asarray(sorted(set(data["ns"])), dtype=float)
    color = ARCH_COLORS["modular"]
    for ax, kind, title in zip(axes, ("step", "test"), ("training step", "test batch")):
        ax.plot([r["n"] for r in data["rows"]], [r[f"{kind}_ms"] for r in data["rows"]], ".",
                color=color, alpha=0.6)
        f = fit[kind]
        ms = f["scale"] * ns ** f["exponent"]
        ax.plot(ns, ms, "-", color=color, lw=1.4)
        ax.plot(ns, ms[0] * (ns / ns[0]) ** f["work"], "--", color="0.3", lw=1.0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{title}: N^{f['exponent']:.2f} (work N^{f['work']:.2f})", fontsize=9)
        ax.set_xlabel("N (log scale)")
        _plain_log_ticks(ax.xaxis)
        _plain_log_ticks(ax.yaxis)
    axes[0].set_ylabel("wall ms (1 CPU thread)")
    handles = [Line2D([], [], color=color, marker=".", ls="", label="one round"),
               Line2D([], [], color=color, lw=1.4, label="fitted power law (Theil-Sen)"),
               Line2D([], [], color="0.3", ls="--", lw=1.0,
                      label="work model's growth, through the fit at the smallest N")]
    fig.legend(handles=handles, loc="outside upper center", ncols=3, fontsize=8)
    return fig, axes


# ----- fidelity: the criterion and the authors' choices ---------------------------------------------

def plot_pass_probability(batch_sd: float, networks: list[dict], threshold: float = 0.98):
    """P(a stage ends) against a fixed network's true accuracy: curves from the normal model with
    the measured batch spread, points from resampling the batches of stored networks (drawn at the
    bottom edge when below it). One legend above the axes."""
    from matplotlib.lines import Line2D

    from .criterion import normal_pass, stage_pass
    a = np.linspace(0.95, 0.995, 200)
    p10 = normal_pass(a, 10, batch_sd, threshold)
    curves = {"one 10-batch check": p10,
              "an epoch of 10 such checks": stage_pass(p10, 10),
              "the authors' 50-batch test per epoch": normal_pass(a, 50, batch_sd, threshold),
              "an epoch of checks confirmed on 100 batches":
                  stage_pass(p10, 10, normal_pass(a, 100, batch_sd, threshold))}
    colors = ["#7570b3", "#d95f02", "#1b9e77", "#000000"]
    keys = ["p_check10", "p_epoch_of_10_checks", "p_test50", "p_epoch_confirmed"]
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    for (label, y), color, key in zip(curves.items(), colors, keys):
        ax.plot(100 * a, y, "-", color=color, lw=1.5, label=label)
        ax.plot([100 * n["newest"] for n in networks], [max(n[key], 1e-4) for n in networks],
                "o", color=color, ms=4, alpha=0.8)
    ax.axvline(100 * threshold, color="k", ls=":", lw=1, label=f"threshold ({100 * threshold:g} %)")
    ax.axhline(0.05, color="grey", ls="--", lw=0.8, label="P(pass) = 0.05")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 1.5)
    ax.set_xlabel("newest head's true accuracy (%)")
    ax.set_ylabel("P(pass)")
    handles, labels = ax.get_legend_handles_labels()
    handles.insert(4, Line2D([], [], marker="o", ls="", ms=4, color="0.4",
                             label="stored networks (resampled)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return fig, ax


def plot_variant_steps(steps_by_variant: dict[str, list[int]], reference: str = "ours"):
    """Total steps to the last N per seed (log scale) for every protocol variant; bars: geometric
    mean with its t 95% interval (of the log mean; the axis stops at one step); the reference
    variant's mean as a dashed line. One legend above the axes."""
    from matplotlib.lines import Line2D

    from .stats import geo_mean_ci
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    labels = list(steps_by_variant)
    for i, label in enumerate(labels):
        v = steps_by_variant[label]
        g, lo, hi = geo_mean_ci(v)
        color = "#d95f02" if label == reference else "#4d4d4d"
        ax.errorbar([i], [g], yerr=[[g - lo if lo == lo else 0], [hi - g if hi == hi else 0]],
                    fmt="s", color=color, capsize=3, ms=6)
        ax.plot([i + 0.15] * len(v), v, ".", color=color, alpha=0.5, ms=5)
        if label == reference:
            ax.axhline(g, color=color, ls="--", lw=0.8)
    ax.set_yscale("log")
    # a wide interval of a few seeds can reach below one step, which no run can take: the axis
    # stops at one step (the bar runs off it)
    ax.set_ylim(bottom=max(ax.get_ylim()[0], 1))
    _plain_log_axis(ax.yaxis)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel("total SGD steps to the last N")
    handles = [Line2D([], [], marker="s", ls="", ms=6, color="0.3",
                      label="geometric mean (t 95 % interval)"),
               Line2D([], [], marker=".", ls="", ms=5, color="0.3", label="one seed"),
               Line2D([], [], ls="--", lw=0.8, color="#d95f02",
                      label=f"geometric mean of {reference}")]
    _legend_above(ax, ncols=2, handles=handles)
    return fig, ax

# ----- chapter 6: timescales -----

TAU_NET = r"$\tau_\mathrm{net}$"


def plot_tau_validation(rows: list[dict]):
    """Recovered against true timescale on synthetic data (``timescales.validate`` rows): every
    data set as a dot, the median as a cross, the identity with a +-10 % band."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    hi = max(r["tau_true"] for r in rows) * 2.2
    t = np.geomspace(min(min(r["tau_true"] for r in rows) / 2, 1), hi, 50)
    ax.fill_between(t, 0.9 * t, 1.1 * t, color="0.85", label="identity ±10 %")
    ax.plot(t, t, "k-", lw=0.8)
    for r in rows:
        mix = r["case"] == "mixture"
        x = r["tau_true"] * (1.08 if mix else 1.0)
        color = "#7570b3" if mix else "#d95f02"
        taus = np.asarray(r["taus"], dtype=float)
        ax.plot(np.full(taus.shape, x), taus, "o", ms=3, alpha=0.5, color=color)
        ax.plot(x, r["tau_median"], "x", ms=8, mew=2, color=color)
    ax.plot([], [], "o", color="#d95f02", label="AR(1) data sets (x: median)")
    ax.plot([], [], "o", color="#7570b3", label="mixture, slow tau (x: median)")
    ax.axhline(100, color="k", ls=":", lw=0.8, label="fit bound")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("true tau (steps)")
    ax.set_ylabel("recovered tau (steps)")
    _legend_outside(fig, ncols=2)
    return fig, ax


def plot_module_autocorrelations(analysis: dict, depths, fit_lags: int = 30):
    """Population autocorrelation of a few modules of one network with the kept fit."""
    from .timescales import TimescaleFit
    fig, ax = plt.subplots(figsize=(6.5, 4))
    cmap = plt.get_cmap("viridis")
    for i, d in enumerate(depths):
        m = analysis["modules"][d]
        ac = np.array([np.nan if v is None else v for v in m["pop_ac"]])
        lags = np.arange(ac.size)
        color = cmap(0.9 * i / max(1, len(depths) - 1))
        ax.plot(lags, ac, "o", ms=2.5, color=color)
        fit = TimescaleFit(np.nan if m["tau_net_pop"] is None else m["tau_net_pop"],
                           m["pop_model"], tuple(m["pop_params"]), np.nan, np.nan, True)
        fl = np.linspace(0, fit_lags, 100)
        ax.plot(fl, fit.curve(fl), "-", lw=1.2, color=color,
                label=f"module {d}: {TAU_NET} {fit.tau:.2f} ({m['pop_model']})")
    ax.axvline(fit_lags, color="k", ls=":", lw=0.8)
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("autocorrelation (population)")
    _legend_outside(fig, ncols=2)
    return fig, ax


def _module_values(a: dict, key: str):
    mods = [m for m in a["modules"] if m["solved"]]
    return ([m["depth"] for m in mods],
            [np.nan if m[key] is None else m[key] for m in mods])


def plot_tau_by_depth(results_by_size: dict[int, list[dict]], key: str = "tau_net_median"):
    """Per module size, one panel (a grid of two columns): a module's tau_net against depth, one
    marker style per seed; the module's mean isolated timescale -1/ln(1-1/tau) in grey. One
    legend above the panels (colour: module size, as in the panel titles)."""
    from matplotlib.lines import Line2D
    sizes = sorted(results_by_size)
    cols = min(2, len(sizes))
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.8, 2.6 * rows + 0.8), sharex=True,
                             sharey=True, squeeze=False)
    axes = axes.ravel()
    for ax in axes[len(sizes):]:
        ax.set_visible(False)
    markers = "os^dv"
    seeds = sorted({a["seed"] for v in results_by_size.values() for a in v})
    for ax, m in zip(axes, sizes):
        for i, a in enumerate(results_by_size[m]):
            x, y = _module_values(a, key)
            ax.plot(x, y, markers[seeds.index(a["seed"]) % 5] + "-", ms=3, lw=0.6, alpha=0.8,
                    color=SIZE_COLORS.get(m, "k"))
            xi, yi = _module_values(a, "isolated_mean")
            ax.plot(xi, yi, "-", color="0.6", lw=0.8)
        ax.set_title(f"module size {m}")
    for i, ax in enumerate(axes[:len(sizes)]):
        if i + cols >= len(sizes):  # no panel below
            ax.set_xlabel("module depth")
            ax.tick_params(labelbottom=True)
        if i % cols == 0:
            ax.set_ylabel({"tau_net_median": TAU_NET + " (median over\nneurons, steps)",
                           "tau_net_pop": TAU_NET + " (module\npopulation, steps)"}.get(key, key))
    handles = [Line2D([], [], marker=markers[j % 5], ms=4, lw=0.6, color="0.25",
                      label=f"seed {s}") for j, s in enumerate(seeds)]
    handles.append(Line2D([], [], color="0.6", lw=0.8, label="isolated neuron"))
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles))
    return fig, axes[:len(sizes)]


def plot_tau_vs_tau_net(modular: dict[int, list[dict]], nonmodular: list[dict]):
    """Every fitted neuron of the solved modules (top) and of the non-modular networks (below):
    trained tau against tau_net, with the isolated neuron's timescale -1/ln(1-1/tau) (what tau
    alone would give)."""
    from .timescales import isolated_neuron_timescale
    fig, axes = plt.subplots(2, 1, figsize=(6.8, 6.6), sharex=True, sharey=True)
    groups = [(axes[0], [(f"M_m = {m}", SIZE_COLORS.get(m, "k"), a) for m, v in
                         sorted(modular.items()) for a in v]),
              (axes[1], [(f"{a['module_size']} neurons", None, a) for a in nonmodular])]
    hi = 1.0
    for ax, items in groups:
        seen = set()
        for label, color, a in items:
            n = a["neurons"]
            keep = np.asarray(n["block"]) < a["n_solved"]
            tau = np.asarray(n["tau"], dtype=float)[keep]
            tn = np.array([np.nan if v is None else v for v in n["tau_net"]])[keep]
            hi = max(hi, np.nanmax(tau, initial=1.0))
            ax.plot(tau, tn, ".", ms=2, alpha=0.35, color=color,
                    label=None if label in seen else label)
            seen.add(label)
    for ax in axes:
        t = np.linspace(1, hi, 200)
        ax.plot(t, isolated_neuron_timescale(t), "k-", lw=1, label="isolated neuron")
        ax.set_ylabel(TAU_NET + " (steps)")
        _opaque_legend_handles(_legend_right(ax, markerscale=4))
    axes[1].set_xlabel("trained tau (clamped >= 1)")
    axes[0].set_title("modular (solved modules)")
    axes[1].set_title("non-modular")
    axes[0].set_yscale("symlog", linthresh=1)
    return fig, axes


def plot_tau_net_vs_n(rows: list[dict], reference=((2, 2, 2), (35, 5, 10))):
    """Non-modular networks: mean neuron tau_net against the N they reached, one colour per size;
    grey: the ICLR 2024 values (N, low, high)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    sizes = sorted({r["neurons"] for r in rows})
    cmap = plt.get_cmap("copper")
    for i, s in enumerate(sizes):
        rs = [r for r in rows if r["neurons"] == s]
        ax.plot([r["N"] for r in rs], [r["tau_net mean"] for r in rs], "o", ms=6,
                color=cmap(i / max(1, len(sizes) - 1)), label=f"{s} neurons")
    for n, lo, hi in reference:
        ax.errorbar(n, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="s", color="0.5", capsize=4,
                    label="ICLR 2024" if n == reference[0][0] else None)
    ax.set_xlabel("N reached (heads)")
    ax.set_ylabel("mean " + TAU_NET + " (steps)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _legend_right(ax)
    return fig, ax


__all__ += ["plot_tau_validation", "plot_module_autocorrelations", "plot_tau_by_depth",
            "plot_tau_vs_tau_net", "plot_tau_net_vs_n"]


# ----- chapter 5: perturbations -----

NONMOD_GREYS = {20: "#cccccc", 50: "#a6a6a6", 100: "#737373", 150: "#404040"}
CLASS_COLORS = {"hidden": "#000000", "within": "#1f78b4", "between": "#e31a1c", "input": "#33a02c"}


def _eps_axis(ax, eps):
    ax.set_xscale("symlog", linthresh=eps[1])
    ax.set_xlim(0, eps[-1] * 1.1)
    ax.axhline(0.5, color="k", ls=":", lw=0.8)
    ax.set_xlabel(r"perturbation size $\epsilon$ (relative Frobenius norm)")


def _band(ax, eps, curves, color, label, ls="-"):
    """Mean over networks with the min-max band."""
    c = np.asarray(curves, dtype=float)
    ax.plot(eps, c.mean(0), ls, color=color, label=label, lw=1.5)
    if len(c) > 1:
        ax.fill_between(eps, c.min(0), c.max(0), color=color, alpha=0.15, lw=0)


def plot_robustness(rob: dict, measure: str = "stream"):
    """Relative accuracy r against eps (hidden-to-hidden perturbations), every architecture on
    one axis (mean over seeds, band = range), and below it eps50 per network."""
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.8, 7), height_ratios=[3, 2])
    eps = None
    for m, sw in sorted(rob["modular"].items()):
        eps = rob_eps(sw[0])
        _band(a0, eps, [s["groups"]["hidden"][measure]["r_mean"] for s in sw],
              SIZE_COLORS.get(m, "C0"), f"modular $M_m$={m} ({sw[0]['neurons']} n.)")
    for h, sw in sorted(rob["nonmodular"].items()):
        _band(a0, rob_eps(sw[0]), [s["groups"]["hidden"][measure]["r_mean"] for s in sw],
              NONMOD_GREYS.get(h, "#888888"), f"non-modular {h}", ls="--")
    labels = []
    if rob["iclr"]:
        i = rob["iclr"]
        a0.plot(rob_eps(i), i["groups"]["hidden"][measure]["r_mean"], "k-.", lw=1.8,
                label=f"non-modular {i['neurons']} (ICLR size)")
    _eps_axis(a0, eps)
    a0.set_ylabel("relative accuracy r")
    _legend_above(a0, ncols=2)
    groups = [(f"mod {m}", sw, SIZE_COLORS.get(m, "C0")) for m, sw in sorted(rob["modular"].items())]
    groups += [(f"non {h}", sw, NONMOD_GREYS.get(h, "#888888"))
               for h, sw in sorted(rob["nonmodular"].items())]
    if rob["iclr"]:
        groups.append((f"non {rob['iclr']['neurons']}", [rob["iclr"]], "k"))
    for j, (lab, sw, col) in enumerate(groups):
        v = np.clip([s["groups"]["hidden"][measure]["eps50"] for s in sw], 1e-2, 10)
        a1.scatter(np.full(len(v), j) + np.linspace(-0.1, 0.1, len(v)), v, color=col,
                   edgecolor="k", lw=0.5, zorder=3)
        labels.append(lab)
    a1.set_yscale("log")
    _plain_log_ticks(a1.yaxis)
    a1.set_xticks(range(len(labels)))
    a1.set_xticklabels(labels)
    a1.set_ylabel(r"$\epsilon_{50}$ (r = 0.5)")
    a1.set_xlabel("architecture (mod: modular, module size; non: non-modular, neurons)")
    return fig, (a0, a1)


def rob_eps(sweep: dict) -> list[float]:
    """The eps grid of a stored sweep."""
    return sweep["eps"]


def plot_classes(rob: dict, per_module: dict, measure: str = "stream"):
    """r against eps for each matrix class, per module size (mean over seeds; a grid of panels),
    and below them eps50 of each module's within- and between-module matrices alone (module
    size 10). One legend for the classes, above the panels."""
    sizes = sorted(rob["modular"])
    cols = 2 if len(sizes) > 1 else 1
    rows = -(-len(sizes) // cols)
    fig = plt.figure(figsize=(6.8, 2.4 * rows + 3.2))
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[1] * rows + [1.3])
    axes = []
    for i, m in enumerate(sizes):
        ax = fig.add_subplot(gs[i // cols, i % cols],
                             sharex=axes[0] if axes else None, sharey=axes[0] if axes else None)
        axes.append(ax)
        sw = rob["modular"][m]
        for cls in ("within", "between", "input"):
            _band(ax, rob_eps(sw[0]), [s["groups"][cls][measure]["r_mean"] for s in sw],
                  CLASS_COLORS[cls], cls)
        _eps_axis(ax, rob_eps(sw[0]))
        below = i + cols < len(sizes)  # a panel below shows the same x axis
        ax.set_xlabel("" if below else r"$\epsilon$")
        ax.set_ylabel("relative accuracy r" if i % cols == 0 else "")
        if below:
            ax.tick_params(labelbottom=False)
        if i % cols:
            ax.tick_params(labelleft=False)
        ax.set_title(f"$M_m$ = {m}")
    ax = fig.add_subplot(gs[rows, :])
    for cls in ("within", "between"):
        for i, row in enumerate(per_module[cls]):
            v = np.clip(np.asarray(row, dtype=float), 1e-2, 10)
            ax.plot(range(len(v)), v, "o-", ms=3, lw=0.8, color=CLASS_COLORS[cls],
                    label=cls if i == 0 else None)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("module perturbed alone (0 = first)")
    ax.set_ylabel(r"$\epsilon_{50}$ of the heads" "\n" "it reaches")
    ax.set_title("one module at a time, $M_m$ = 10")
    axes.append(ax)
    _legend_outside(fig, axes[:1])
    return fig, np.array(axes, dtype=object)


def plot_conservation(cons: dict, measure: str = "stream"):
    """Correlation between modules' matrices by lag, and below it r after transplanting one
    module's matrices into another, with and without duplication."""
    import textwrap
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.5, 6.6))
    styles = {"duplicate": "-", "random init": "--"}
    for label, nets in cons.items():
        for cls in ("within", "between"):
            lags = [n["similarity"][cls]["by lag"] for n in nets if n["similarity"][cls]["by lag"]]
            if lags:
                c = np.asarray(lags)
                a0.plot(range(1, c.shape[1] + 1), c.mean(0), styles[label],
                        color=CLASS_COLORS[cls], label=f"{cls}, {label}")
    a0.set_xlabel("distance between modules")
    a0.set_ylabel("correlation of weights")
    a0.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    if a0.get_legend_handles_labels()[0]:
        _legend_above(a0, ncols=2)
    pos = 0
    ticks = []
    for label, nets in cons.items():
        for cls in ("within", "between"):
            v = np.concatenate([n["transplant"][measure][cls] for n in nets] or [[]])
            if v.size:
                a1.boxplot([v], positions=[pos], widths=0.6, patch_artist=True,
                           boxprops={"facecolor": CLASS_COLORS[cls], "alpha": 0.4})
            ticks.append((pos, f"{cls}\n{textwrap.fill(label, 12)}"))
            pos += 1
    a1.set_xticks([p for p, _ in ticks])
    a1.set_xticklabels([t for _, t in ticks])
    a1.set_ylabel("r after transplant")
    a1.axhline(1, color="k", lw=0.6)
    return fig, (a0, a1)


def plot_drift(summary: dict[str, list[dict]]):
    """Drift of each module's within- and between-module weights from where its stage began,
    against the module's index: one panel per initialisation, median over seeds (thick) and
    each seed (thin); log scale."""
    fig, axes = plt.subplots(1, len(summary), figsize=(7.2, 3.6), sharey=True, squeeze=False)
    for ax, (label, rows) in zip(axes[0], summary.items()):
        for cls in ("within", "between"):
            per = [[np.nan if v is None else v for v in r["drift"][cls]] for r in rows]
            if not per:
                continue
            k = max(len(p) for p in per)
            arr = np.full((len(per), k), np.nan)
            for i, p in enumerate(per):
                arr[i, :len(p)] = p
            for line in arr:
                ax.plot(range(k), line, color=CLASS_COLORS[cls], lw=0.6, alpha=0.35)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # module 0: no between matrix
                ax.plot(range(k), np.nanmedian(arr, axis=0), color=CLASS_COLORS[cls], lw=2,
                        label=f"{cls}-module")
        ax.set_yscale("log")
        ax.set_title(label)
        ax.set_xlabel("module (index)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("drift \u2016W \u2212 W\u2080\u2016 / \u2016W\u2080\u2016")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:  # one legend for both panels, above their titles
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
    return fig, axes[0]


def plot_fixed(summary: dict):
    """Claim 6: max N per seed for each variant, and below it steps per N."""
    import textwrap
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.8, 6.4), height_ratios=[1.4, 3])
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, ((label, row), col) in enumerate(zip(summary.items(), palette)):
        a0.scatter(np.full(len(row["max N"]), j) + np.linspace(-0.15, 0.15, len(row["max N"])),
                   row["max N"], color=col, edgecolor="k", lw=0.5, zorder=3)
        for i, steps in enumerate(row["steps per N"]):
            a1.plot(range(2, 2 + len(steps)), steps, ".-", color=col, lw=0.8, alpha=0.8,
                    label=label if i == 0 else None)
    a0.set_xticks(range(len(summary)))
    a0.set_xticklabels([textwrap.fill(k, 16) for k in summary])
    a0.set_ylabel("max N reached")
    a0.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _steps_axis(a1, 500, "SGD steps to criterion")
    a1.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _opaque_legend_handles(_legend_above(a1, ncols=2))
    return fig, (a0, a1)


def perturbation_explorer(nets: dict[str, dict], classes=("hidden", "within", "between", "input"),
                          measure: str = "stream", uid: str = "ch5") -> str:
    """Self-contained HTML (inline SVG and JavaScript; no external file): accuracy of every head
    of each network under a perturbation of size eps (slider) of one matrix class (menu).
    ``nets``: label -> a stored sweep (per-head accuracy per eps and class)."""
    import html
    import json as _json

    data, eps = {}, None
    for label, sw in nets.items():
        eps = rob_eps(sw)
        data[label] = {"ns": sw["ns"], "acc": {c: sw["groups"][c][measure]["per_head"]
                                               for c in classes if c in sw["groups"]}}
    colors = ["#d95f02", "#4d4d4d", "#1b9e77", "#7570b3"]
    payload = _json.dumps({"eps": eps, "nets": data, "colors": colors})
    opts = "".join(f'<option value="{c}">{html.escape(c)}</option>' for c in classes)
    return f"""
<div id="{uid}-explorer" style="font:13px sans-serif;max-width:640px">
 <label>matrix class <select id="{uid}-class-select">{opts}</select></label>
 <label style="margin-left:1em">&epsilon; <input type="range" id="{uid}-eps-slider" min="0"
  max="{len(eps) - 1}" step="1" value="{min(5, len(eps) - 1)}" style="width:220px"></label>
 <span id="{uid}-eps-value"></span>
 <svg id="{uid}-plot" width="100%" viewBox="0 0 620 260" style="max-width:620px;height:auto"
  role="img" aria-label="accuracy of every head against its N for the chosen matrix class and
  perturbation size, one line per network" xmlns="http://www.w3.org/2000/svg"></svg>
 <div id="{uid}-note" style="color:#555"></div>
</div>
<script>
(function() {{
 var D = {payload};
 var sel = document.getElementById("{uid}-class-select");
 var sl = document.getElementById("{uid}-eps-slider");
 var svg = document.getElementById("{uid}-plot");
 var out = document.getElementById("{uid}-eps-value");
 var note = document.getElementById("{uid}-note");
 var W = 620, H = 260, L = 50, R = 150, T = 10, B = 35;
 var nmax = 2, nmin = 1e9;
 for (var k in D.nets) {{ D.nets[k].ns.forEach(function(n) {{ nmax = Math.max(nmax, n);
   nmin = Math.min(nmin, n); }}); }}
 function x(n) {{ return L + (n - nmin) / Math.max(1, nmax - nmin) * (W - L - R); }}
 function y(a) {{ return T + (1 - (a - 0.4) / 0.6) * (H - T - B); }}
 function el(tag, attrs, text) {{
   var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
   for (var a in attrs) e.setAttribute(a, attrs[a]);
   if (text !== undefined) e.textContent = text;
   svg.appendChild(e); return e; }}
 function draw() {{
   while (svg.firstChild) svg.removeChild(svg.firstChild);
   var i = +sl.value, c = sel.value, missing = [];
   out.textContent = "= " + D.eps[i].toPrecision(3);
   [0.5, 0.6, 0.7, 0.8, 0.9, 1.0].forEach(function(a) {{
     el("line", {{x1: L, x2: W - R, y1: y(a), y2: y(a), stroke: a == 0.5 ? "#000" : "#ddd",
       "stroke-dasharray": a == 0.5 ? "3,3" : ""}});
     el("text", {{x: L - 6, y: y(a) + 4, "text-anchor": "end", "font-size": 11}}, a.toFixed(1)); }});
   for (var n = nmin; n <= nmax; n += Math.max(1, Math.round((nmax - nmin) / 8)))
     el("text", {{x: x(n), y: H - B + 16, "text-anchor": "middle", "font-size": 11}}, n);
   el("text", {{x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", "font-size": 12}},
      "N (head)");
   el("text", {{x: 12, y: (T + H - B) / 2, "font-size": 12,
      transform: "rotate(-90 12 " + (T + H - B) / 2 + ")", "text-anchor": "middle"}}, "accuracy");
   var j = 0;
   for (var k in D.nets) {{
     var net = D.nets[k], col = D.colors[j % D.colors.length];
     if (!net.acc[c]) {{ missing.push(k); j++; continue; }}
     var acc = net.acc[c][i];
     var pts = net.ns.map(function(n, h) {{ return x(n) + "," + y(Math.max(0.4, acc[h])); }});
     el("polyline", {{points: pts.join(" "), fill: "none", stroke: col, "stroke-width": 2}});
     net.ns.forEach(function(n, h) {{ el("circle", {{cx: x(n), cy: y(Math.max(0.4, acc[h])), r: 3,
       fill: col}}); }});
     el("text", {{x: W - R + 8, y: T + 14 + 16 * j, fill: col, "font-size": 12}}, k);
     j++; }}
   note.textContent = missing.length ? ("no " + c + " matrices in: " + missing.join(", ")) : "";
 }}
 sl.addEventListener("input", draw); sel.addEventListener("change", draw); draw();
}})();
</script>"""
