#!/usr/bin/env python3
"""Render every chapter page of the built book in headless Chromium and check it.

Usage: python tools/browser_check.py [_build/html]

For each _build/html/book/*.html page this script
  * saves a full-page screenshot to _build/screenshots/<page>.png,
  * dumps the DOM after JavaScript ran (with a 10 s virtual-time budget and all
    host names unresolvable, so the page must work offline), and
  * reports one line per problem:
      - a chapter page (book/0*.html) without an <img> in a cell output,
      - any cell output that is an error (myst-nb traceback output) or
        stderr containing a Python traceback / exception,
      - a page holding ipywidgets state whose widget views were not rendered,
      - a page with math where MathJax produced no output.
Exits 1 if there is any problem, 2 if Chromium or the build is missing.
Set CHROMIUM=/path/to/chromium to choose the browser binary.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--hide-scrollbars",
    "--virtual-time-budget=10000",
    # Nothing may be fetched from the network: every host name fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr", "--v=0",
]
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b.*:", re.M)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Page(HTMLParser):
    """Collects what the checks need from one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[set[str]] = []   # class sets of open elements
        self.output_imgs = 0              # <img> inside a cell output
        self.tracebacks: list[str] = []   # text of error outputs
        self.stderr: list[str] = []       # text of stderr outputs
        self.widget_views = 0             # widget-view+json script tags
        self.widget_state = False
        self.widget_elems = 0             # elements created by the html manager
        self.math = 0                     # elements Sphinx marks as math
        self.mathjax = 0                  # <mjx-container> produced by MathJax
        self._capture: list | None = None
        self._depth = 0

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
            "meta", "source", "track", "wbr"}

    def _inside(self, cls: str) -> bool:
        return any(cls in c for c in self.stack)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        if tag == "img" and (self._inside("cell_output") or self._inside("output")):
            self.output_imgs += 1
        if tag == "script" and a.get("type") == WIDGET_VIEW:
            self.widget_views += 1
        if tag == "script" and a.get("type") == WIDGET_STATE:
            self.widget_state = True
        if "jupyter-widgets" in classes or any(c.startswith("widget-") for c in classes):
            self.widget_elems += 1
        if "math" in classes:
            self.math += 1
        if tag == "mjx-container":
            self.mathjax += 1
        if tag in self.VOID:
            return
        if self._capture is None and "output" in classes and (
                "traceback" in classes or "stderr" in classes):
            self._capture = ["traceback" if "traceback" in classes else "stderr"]
            self._depth = len(self.stack)
        self.stack.append(classes)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in self.VOID or not self.stack:
            return
        self.stack.pop()
        if self._capture is not None and len(self.stack) == self._depth:
            kind, text = self._capture[0], "".join(self._capture[1:])
            (self.tracebacks if kind == "traceback" else self.stderr).append(text)
            self._capture = None

    def handle_data(self, data):
        if self._capture is not None:
            self._capture.append(data)


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    p.close()
    return p


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    err = [ln for ln in lines if re.match(r"^\w*(Error|Exception)\b", ln)]
    return (err[-1] if err else (lines[-1] if lines else ""))[:160]


def chromium(browser: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "_build/html").resolve()
    pages = sorted((root / "book").glob("*.html"))
    if not pages:
        print(f"browser_check: no pages under {root}/book; run 'make book' first")
        return 2
    browser = find_chromium()
    if browser is None:
        print("browser_check: Chromium not found. Install it with\n"
              "    sudo apt-get install -y chromium\n"
              "or set CHROMIUM=/path/to/chrome.")
        return 2
    shots = root.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    problems: list[str] = []
    for path in pages:
        name = path.relative_to(root).as_posix()
        url = path.as_uri()
        static = parse(path.read_text(encoding="utf-8", errors="replace"))

        if path.name.startswith("0") and static.output_imgs == 0:
            problems.append(f"{name}: no figure (<img>) in any cell output")
        for tb in static.tracebacks:
            problems.append(f"{name}: error output: {first_line(tb)}")
        for err in static.stderr:
            if TRACEBACK.search(err):
                problems.append(f"{name}: stderr shows an exception: {first_line(err)}")

        dom_run = chromium(browser, url, "--dump-dom")
        if dom_run.returncode != 0 or not dom_run.stdout.strip():
            problems.append(f"{name}: chromium --dump-dom failed (exit {dom_run.returncode})")
            continue
        dom = parse(dom_run.stdout)
        if static.widget_state or static.widget_views:
            created = dom.widget_elems - static.widget_elems
            if not static.widget_state:
                problems.append(f"{name}: widget views but no widget state saved in the page")
            elif static.widget_views and created <= 0:
                problems.append(f"{name}: {static.widget_views} widget view(s) not rendered "
                                "(no jupyter-widgets elements after JavaScript)")
        if static.math and dom.mathjax == 0:
            problems.append(f"{name}: {static.math} math element(s) but MathJax rendered none")
        for line in dom_run.stderr.splitlines():
            if ":CONSOLE" in line and "Uncaught" in line and "THEBE_JS_URL" not in line:
                print(f"note: {name}: console: {line.split('] ', 1)[-1][:200]}")

        shot = shots / (path.stem + ".png")
        shot_run = chromium(browser, url, f"--screenshot={shot}", "--window-size=1280,4000")
        if shot_run.returncode != 0 or not shot.exists():
            problems.append(f"{name}: screenshot failed (exit {shot_run.returncode})")

        print(f"checked {name}: {static.output_imgs} output image(s), "
              f"{static.widget_views} widget view(s) -> {dom.widget_elems} widget element(s), "
              f"{dom.mathjax} rendered math, screenshot {shot.relative_to(root.parent.parent)}",
              file=sys.stderr)

    for p in problems:
        print(p)
    print(f"browser_check: {len(pages)} page(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
