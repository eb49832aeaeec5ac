"""tools/browser_check.py: the interaction check of the perturbation explorer.

The pure-Python judges (did a control change the figure, does the explorer fit the window) on
made-up states; then, where Chromium is installed, the whole check in the browser on a page
holding the real explorer, once as made and once broken (a plot too wide for a phone)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import browser_check as bc  # noqa: E402


def _state(svg="<line/>", label="= 0.1", slider="4", cls="hidden"):
    return {"svg": svg, "label": label, "note": "", "slider": slider, "cls": cls}


def _box(left, right):
    return {"left": left, "right": right, "width": right - left}


def _layout(plot_right=366.0, scroll=342, client=342, viewport=390):
    return {"viewport": viewport, "page_scroll_width": viewport, "scroll_width": scroll,
            "client_width": client,
            "parts": {"explorer": _box(24, 366), "class menu": _box(100, 180),
                      "eps slider": _box(40, 260), "eps label": _box(262, 300),
                      "plot": _box(24, plot_right)}}


def _result(**kw):
    r = {"uid": "ch5", "missing": [],
         "before": _state(), "slid": _state(svg="<line y='2'/>", label="= 1.0", slider="2"),
         "selected": _state(svg="<line y='3'/>", label="= 1.0", slider="2", cls="within"),
         "layout": _layout()}
    r.update(kw)
    return r


def test_change_problems_names_what_did_not_change():
    before, after = _state(), _state(label="= 1.0", slider="2")
    out = bc.change_problems(before, after, "moving the eps slider", ("svg", "label"))
    assert out == ["moving the eps slider did not change the plot's SVG (still '<line/>')"]
    long_svg = _state(svg="x" * 500)
    assert "500 characters" in bc.change_problems(long_svg, long_svg, "a", ("svg",))[0]
    assert bc.change_problems(before, _state(svg="<g/>", label="= 2"), "a", ("svg", "label")) == []


def test_overflow_problems_flag_a_part_beyond_the_window_or_an_overflowing_box():
    assert bc.overflow_problems(_layout(), 390) == []
    wide = bc.overflow_problems(_layout(plot_right=584, scroll=560), 390)
    assert any(p.startswith("plot spans x = 24..584 px, outside the 390 px") for p in wide)
    assert any("560 px wide in its 342 px box" in p for p in wide)
    # the window is the smaller of the width asked for and what the page reports
    assert bc.overflow_problems(_layout(viewport=1280), 390) == []
    assert bc.overflow_problems(_layout(plot_right=400, viewport=1280), 390)
    # half a pixel of rounding passes; an element not laid out (width 0) is not judged
    assert bc.overflow_problems(_layout(plot_right=390.4), 390) == []
    lay = _layout()
    lay["parts"]["eps label"] = {"left": 500, "right": 500, "width": 0}
    lay["parts"]["class menu"] = None
    assert bc.overflow_problems(lay, 390) == []


def test_explorer_problems_pass_a_working_explorer_and_fail_each_broken_control():
    assert bc.explorer_problems(_result(), 390) == []
    stuck = _result(slid=_state(slider="2"))  # the slider moved, the figure did not
    out = bc.explorer_problems(stuck, 390)
    assert any("did not change the plot's SVG" in p for p in out)
    assert any("did not change the eps label" in p for p in out)
    same_class = _result(selected=_state(svg="<line y='2'/>", label="= 1.0", slider="2",
                                         cls="within"))
    assert bc.explorer_problems(same_class, 390) == [
        "choosing class 'within' instead of 'hidden' did not change the plot's SVG "
        "(still \"<line y='2'/>\")"]
    assert bc.explorer_problems(_result(slid=_state(svg="<g/>")), 390) == [
        "the eps slider's value could not be changed"]
    one_class = _result(selected=_state(svg="<g/>", slider="2"))
    assert "the class menu has no other option to pick" in bc.explorer_problems(one_class, 390)
    assert bc.explorer_problems(_result(missing=["ch5-plot"]), 390) == ["element #ch5-plot missing"]
    assert bc.explorer_problems(_result(layout=_layout(plot_right=584)), 390)


def _explorer_page(tmp_path, name, transform=lambda h: h):
    import numpy as np

    from modgrow import plots
    eps = [float(e) for e in np.logspace(-2, 1, 5)]
    ns = [2, 3, 4]

    def sweep(classes, seed):
        rng = np.random.default_rng(seed)
        return {"eps": eps, "ns": ns, "groups": {c: {"stream": {"per_head": [
            [float(1 - 0.05 * i * rng.uniform(0.5, 1)) for _ in ns] for i in range(len(eps))]}}
            for c in classes}}
    html = transform(plots.perturbation_explorer(
        {"modular": sweep(["hidden", "within", "between", "input"], 1),
         "non-modular": sweep(["hidden", "input"], 2)}))
    page = tmp_path / "book" / f"{name}.html"
    page.parent.mkdir(exist_ok=True)
    page.write_text('<!doctype html><html><head><meta name="viewport" '
                    'content="width=device-width, initial-scale=1"></head>'
                    f'<body style="margin:16px">{html}</body></html>')
    return page


@pytest.mark.skipif(bc.find_chromium() is None, reason="Chromium is not installed")
def test_interaction_in_chromium_passes_the_explorer_and_fails_a_too_wide_one(tmp_path):
    good = _explorer_page(tmp_path, "good")
    wide = _explorer_page(tmp_path, "wide", lambda h: h.replace(
        "max-width:620px;height:auto", "min-width:560px;height:auto"))
    tools = bc.DevTools(bc.find_chromium())
    try:
        for width in (1280, 390):
            shot = tmp_path / f"good-{width}.png"
            problems, summary = bc.check_interaction(tools, good, "good", width, shot)
            assert problems == [], summary
            assert "explorer ch5: slider 4->2" in summary and "class hidden->within" in summary
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        problems, _ = bc.check_interaction(tools, wide, "wide", 390, tmp_path / "wide.png")
    finally:
        tools.close()
    assert any("plot spans x = " in p for p in problems), problems
