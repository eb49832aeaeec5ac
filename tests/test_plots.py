"""The figure helpers of modgrow.plots that the notebooks do not exercise on their own."""

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
