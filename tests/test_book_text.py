"""Numbers in the book's prose come from the results (myst-nb glue), not from a keyboard.

A markdown cell may state the protocol (thresholds, budgets, learning rates: values of the
configs and profiles, or a verdict rule's threshold) and published values the code compares with but any other decimal number or percentage
in prose is a result typed by hand, which goes stale the moment a run changes."""

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest

from modgrow.engine import LEAK_SLOPE
from modgrow.experiments.timescales import ICLR_TAU_RANGE
from modgrow.network import H0_SCALE
from modgrow.profiles import PAPER
from modgrow.training import NONMODULAR_DEFAULTS, GrowthConfig

BOOK = Path(__file__).resolve().parent.parent / "book"
# verdict-rule thresholds and statistics conventions stated in the chapters
RULE_NUMBERS = {"80", "95", "20", "5", "0.5", "1.5", "2", "10"}


def protocol_numbers() -> set[str]:
    values = [f.default for f in dataclasses.fields(GrowthConfig)] + list(NONMODULAR_DEFAULTS.values())
    values += [LEAK_SLOPE, H0_SCALE, *ICLR_TAU_RANGE]  # constants, and published values
    values += [v for f in dataclasses.fields(PAPER) for v in _flat(getattr(PAPER, f.name))]
    out = set(RULE_NUMBERS)
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out |= {f"{v:g}", f"{100 * v:g}"}
    return out


def _flat(v):
    return [x for item in v for x in _flat(item)] if isinstance(v, tuple) else [v]


def prose_numbers(text: str) -> list[str]:
    """Decimal numbers and percentages outside code, glue roles, math and links."""
    text = re.sub(r"\{glue:[a-z]+\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)", " ", text,
                  flags=re.S)
    found = re.findall(r"(?<![\w.])(\d+\.\d+)(?![\w.])", text)
    found += re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)\s?%", text)
    return list(dict.fromkeys(found))


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_result_is_typed_into_prose(path):
    """Every number in a page's prose is glued or a protocol value; the "rerun this chapter" box
    is exempt: it is generated from the registry and the store (its stored-run counts and
    training times) and the rerun-box test checks that it is current."""
    from modgrow.report import RERUN_TITLE

    allowed = protocol_numbers()
    nb = json.loads(path.read_text())
    typed = [n for c in nb["cells"] if c["cell_type"] == "markdown"
             and not "".join(c["source"]).startswith(RERUN_TITLE)
             for n in prose_numbers("".join(c["source"])) if n not in allowed]
    assert not typed, f"numbers typed into the prose of {path.name} (glue them): {typed}"


def test_the_check_finds_typed_numbers_and_ignores_glued_ones():
    assert prose_numbers("at about 97.4 % after 0.35 s, 40 % later") == ["97.4", "0.35", "40"]
    assert prose_numbers("{glue:text}`x:.2f` and `0.3` and $0.25$ and [a](v1.2.html)") == []


def figure_metadata(nb: dict) -> list[dict]:
    """The myst-nb metadata of every code cell rendered as a numbered figure."""
    return [c["metadata"]["mystnb"] for c in nb["cells"]
            if c["cell_type"] == "code" and "figure" in c["metadata"].get("mystnb", {})]


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_figures_have_a_name_a_caption_and_alt_text_without_typed_results(path):
    allowed = protocol_numbers()
    for meta in figure_metadata(json.loads(path.read_text())):
        figure, alt = meta["figure"], meta.get("image", {}).get("alt", "")
        assert figure.get("name", "").startswith("fig-"), figure
        assert figure.get("caption") and alt, f"{figure['name']}: a caption and alt text"
        typed = [n for text in (figure["caption"], alt) for n in prose_numbers(text)
                 if n not in allowed]
        assert not typed, f"numbers typed into {figure['name']} (glue them): {typed}"


def test_figure_names_are_unique_across_the_book():
    names = [m["figure"]["name"] for p in BOOK.glob("*.ipynb")
             for m in figure_metadata(json.loads(p.read_text()))]
    assert len(names) == len(set(names))


def glue_keys(nb) -> tuple[set[str], list[str]]:
    """(keys a notebook's code may glue, prefixes of keys it glues by f-string or "+"). Loose on
    purpose (any quoted identifier in a cell that glues counts, for loops over names): a key that
    appears in no such cell is certainly missing."""
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    code = "\n".join(c for c in cells if "glue(" in c)
    keys = set(re.findall(r"\"(\w+)\"", code))
    prefixes = re.findall(r"glue\(f\"(\w*)\{", code) + re.findall(r"glue\(\"(\w*)\" \+", code)
    return keys, prefixes


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_glued_reference_is_glued_on_its_page(path):
    """A {glue} role whose key no cell glues renders as a build warning at best; catch it here."""
    nb = json.loads(path.read_text())
    keys, prefixes = glue_keys(nb)
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    used = {k.split(":")[0] for k in re.findall(r"\{glue(?::[a-z]+)?\}`([^`]+)`", text)}
    missing = sorted(k for k in used if k not in keys and not any(k.startswith(p) for p in prefixes if p))
    assert not missing, f"{path.name} refers to glue keys that none of its cells glues: {missing}"


def test_the_glue_check_finds_a_missing_key():
    nb = {"cells": [{"cell_type": "code", "source": ['glue("a", 1)\n', 'glue(f"b_{k}", 2)']},
                    {"cell_type": "markdown", "source": ["{glue:text}`a` {glue:text}`b_3:.2f`"]}]}
    keys, prefixes = glue_keys(nb)
    assert keys == {"a"} and prefixes == ["b_"]
    nb["cells"][1]["source"].append(" {glue:text}`c`")
    text = "".join(nb["cells"][1]["source"])
    used = {k.split(":")[0] for k in re.findall(r"\{glue(?::[a-z]+)?\}`([^`]+)`", text)}
    assert used - keys == {"b_3", "c"}


def test_every_chapter_has_a_current_rerun_box():
    """The box after each chapter's first cell lists that chapter's experiments as the registry
    has them now (refresh with tools/rerun_boxes.py)."""
    from modgrow import report
    from modgrow.experiments import CHAPTERS

    boxes = report.rerun_boxes(BOOK.parent / "_toc.yml", CHAPTERS)
    assert {"01_task", "03_curriculum", "fidelity", "06_timescales"} <= set(boxes)
    assert "compute growth`" in boxes["03_curriculum"] and "modgrow compute" not in boxes["01_task"]
    for stem, box in boxes.items():
        nb = json.loads((BOOK / f"{stem}.ipynb").read_text())
        assert "".join(nb["cells"][1]["source"]) == box, \
            f"book/{stem}.ipynb: rerun box missing or stale (python tools/rerun_boxes.py)"


# Chapters whose every figure is a numbered figure (myst-nb cell metadata), cited with {numref}.
FIGURE_CHAPTERS = ("01_task", "02_architecture", "03_curriculum", "04_baseline",
                   "05_perturbations", "06_timescales", "fidelity")
# A code cell draws a figure when it shows a matplotlib figure, the perturbation explorer or an
# interactive widget that draws one; a figure cell shows nothing else (a table or a printed line
# goes in the next cell, outside the figure).
DRAWS = re.compile(r"plt\.show\(\)|plots\.plot_|plots\.perturbation_explorer|\binteract\(")
NOT_IN_A_FIGURE = re.compile(r"\bprint\(|report\.table\(|\bdisplay\(")
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?(fig-[^`>]+)>?`")


def _figure_cells(nb: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and "figure" in c["metadata"].get("mystnb", {})]


@pytest.mark.parametrize("stem", FIGURE_CHAPTERS)
def test_every_cell_that_draws_is_a_numbered_figure_with_nothing_else_in_it(stem):
    nb = json.loads((BOOK / f"{stem}.ipynb").read_text())
    draws = {i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and DRAWS.search("".join(c["source"]))}
    figures = dict(_figure_cells(nb))
    assert draws, f"{stem} draws no figure"
    assert not draws - set(figures), f"cells {sorted(draws - set(figures))} draw an unnumbered figure"
    assert not set(figures) - draws, f"cells {sorted(set(figures) - draws)} are figures that draw nothing"
    crowded = [i for i, c in figures.items() if NOT_IN_A_FIGURE.search("".join(c["source"]))]
    assert not crowded, f"cells {crowded} put a table or printed text inside a figure"


@pytest.mark.parametrize("stem", FIGURE_CHAPTERS)
def test_every_figure_is_cited_in_the_prose_and_every_citation_has_a_figure(stem):
    nb = json.loads((BOOK / f"{stem}.ipynb").read_text())
    names = {m["figure"]["name"] for m in figure_metadata(nb)}
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    cited = set(NUMREF.findall(prose))
    assert not names - cited, f"figures not cited with {{numref}} in {stem}: {names - cited}"
    everywhere = {m["figure"]["name"] for p in BOOK.glob("*.ipynb")
                  for m in figure_metadata(json.loads(p.read_text()))}
    in_captions = {n for m in figure_metadata(nb) for n in NUMREF.findall(m["figure"]["caption"])}
    assert not (cited | in_captions) - everywhere, \
        f"{{numref}} to figures that do not exist: {(cited | in_captions) - everywhere}"


def test_numref_pattern_reads_plain_and_titled_citations():
    assert NUMREF.findall("{numref}`fig-a` and {numref}`Figure %s <fig-b-c>`") == ["fig-a", "fig-b-c"]


def protocol_keys(nb) -> list[str]:
    """The page keys of the dict literals a notebook passes to ``report.protocol_glue`` (each
    cell that calls it binds one to a name first), in order, repeats kept."""
    keys = []
    for c in nb["cells"]:
        code = "".join(c["source"])
        if c["cell_type"] != "code" or "protocol_glue(" not in code:
            continue
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Dict):
                keys += [ast.literal_eval(k) for k in node.keys]
    return keys


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_glue_key_is_glued_twice_on_a_page(path):
    """myst-nb warns on a duplicate glue key, and the book builds with warnings as errors."""
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    keys = re.findall(r"glue\(\"(\w+)\"", code) + protocol_keys(nb)
    assert len(keys) == len(set(keys)), \
        f"{path.name} glues {sorted({k for k in keys if keys.count(k) > 1})} more than once"


def test_the_duplicate_check_reads_the_protocol_dicts():
    cells = ['protocol = {"a": "seeds", "b": "n0"}\nfor k, v in report.protocol_glue(P, protocol)'
             '.items():\n    glue(k, v)', 'glue("a", 1)']
    nb = {"cells": [{"cell_type": "code", "source": [c]} for c in cells]}
    assert protocol_keys(nb) == ["a", "b"]


PROTOCOL_PAGES = ("03_curriculum", "04_baseline", "05_perturbations", "06_timescales", "fidelity")


@pytest.mark.parametrize("stem", PROTOCOL_PAGES)
def test_each_page_glues_its_protocol_in_one_cell_of_known_quantities(stem):
    """The protocol values of chapters 3-6 and the fidelity page come from
    report.protocol_glue (one definition per quantity), in one cell per page."""
    from modgrow import report
    from modgrow.profiles import PROFILES

    nb = json.loads((BOOK / f"{stem}.ipynb").read_text())
    cells = [c for c in nb["cells"] if "protocol_glue(" in "".join(c["source"])]
    assert len(cells) == 1, f"{stem}: {len(cells)} cells glue the protocol"
    [mapping] = [ast.literal_eval(n) for n in ast.walk(ast.parse("".join(cells[0]["source"])))
                 if isinstance(n, ast.Dict)]
    assert set(mapping.values()) <= set(report.PROTOCOL), set(mapping.values()) - set(report.PROTOCOL)
    for profile in PROFILES.values():
        assert list(report.protocol_glue(profile, mapping)) == list(mapping)


MAX_CELL_LINES = 15


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    """Notebook code cells stay short (at most MAX_CELL_LINES non-blank lines): longer logic
    belongs in the package, where it is tested."""
    nb = json.loads(path.read_text())
    long = {c.get("id", i): n for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and (n := sum(1 for line in "".join(c["source"]).splitlines() if line.strip()))
            > MAX_CELL_LINES}
    assert not long, f"{path.name}: code cells over {MAX_CELL_LINES} non-blank lines (id: lines): {long}"


def test_the_mathjax2_shim_loads_before_the_widget_manager():
    """embed-amd.js (ipywidgets html-manager 1.x) calls MathJax.Hub.Queue, which MathJax 3 lacks;
    _js/mathjax2_shim.js supplies it, so it must be served and listed before embed-amd.js."""
    import yaml
    root = Path(__file__).resolve().parents[1]
    sphinx = yaml.safe_load((root / "_config.yml").read_text())["sphinx"]["config"]
    scripts = list(sphinx["nb_ipywidgets_js"])
    assert "_js" in sphinx["html_static_path"] and (root / "_js" / "mathjax2_shim.js").exists()
    assert scripts.index("mathjax2_shim.js") < scripts.index("html-manager/embed-amd.js")
    assert "Hub" in (root / "_js" / "mathjax2_shim.js").read_text()
