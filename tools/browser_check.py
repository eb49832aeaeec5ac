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
Pages holding a perturbation explorer (modgrow.plots.perturbation_explorer, found by its
"-eps-slider" id) are also opened at window widths of 1280 and 390 px through the DevTools
protocol (--remote-debugging-pipe, standard library only). There the script moves the eps
slider and picks another matrix class, as a reader would (value set, 'input' and 'change'
dispatched), and reports a problem when the plot's SVG or the eps label does not change,
when the explorer or one of its controls is wider than the window (horizontal overflow),
or when the page raises a JavaScript exception. One line per page and width says what was
checked; a screenshot of the explorer goes to _build/screenshots/<page>-explorer-<width>.png.
Exits 1 if there is any problem, 2 if Chromium or the build is missing.
Set CHROMIUM=/path/to/chromium to choose the browser binary.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import time
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
# A page error that is not the book's: sphinx-book-theme declares THEBE_JS_URL in two scripts.
THEME_NOISE = "THEBE_JS_URL"
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


# ----- interaction check of the perturbation explorer (DevTools protocol over a pipe) ------------

WIDTHS = {1280: 900, 390: 844}          # window width -> height (desktop, phone)
EXPLORER_MARK = "-eps-slider"


class DevTools:
    """A minimal client of Chromium's DevTools protocol over --remote-debugging-pipe: the
    browser reads JSON messages, each ended by a NUL byte, on fd 3 and writes them on fd 4."""

    def __init__(self, browser: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory()
        cmd_r, self._cmd_w = os.pipe()       # we write commands, the browser reads fd 3
        self._res_r, res_w = os.pipe()       # the browser writes fd 4, we read replies

        def child_fds() -> None:               # runs in the child between fork and exec
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        flags = [f for f in FLAGS if not f.startswith("--virtual-time-budget")]
        self.proc = subprocess.Popen(
            [browser, *flags, "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=False)  # close_fds would close 3 and 4
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._res_r], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium's DevTools pipe")
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed its DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()


# Runs in the page: for every explorer, the state of its figure before and after each control
# is used, and the boxes of its parts. Returns a JSON string (one object per explorer).
INTERACT_JS = r"""
(async () => {
  const tick = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
  const box = e => { if (!e) return null; const b = e.getBoundingClientRect();
    return {left: b.left, right: b.right, width: b.width}; };
  const fire = (e, ...types) => types.forEach(t => e.dispatchEvent(new Event(t, {bubbles: true})));
  const out = [];
  for (const sl of document.querySelectorAll('input[id$="-eps-slider"]')) {
    const uid = sl.id.slice(0, -"-eps-slider".length);
    const $ = s => document.getElementById(uid + s);
    const sel = $("-class-select"), plot = $("-plot"), label = $("-eps-value"), note = $("-note");
    const exp = $("-explorer") || sl.parentElement;
    const state = () => ({svg: plot ? plot.innerHTML : null,
                          label: label ? label.textContent : null,
                          note: note ? note.textContent : null,
                          slider: sl.value, cls: sel ? sel.value : null});
    exp.scrollIntoView({block: "center"});   // "start" would hide it under the sticky header
    await tick();
    const r = {uid, missing: [["-class-select", sel], ["-plot", plot], ["-eps-value", label]]
                 .filter(p => !p[1]).map(p => uid + p[0])};
    r.before = state();
    const lo = +sl.min, hi = +sl.max, cur = +sl.value, mid = Math.round((lo + hi) / 2);
    sl.value = String(mid !== cur ? mid : (cur < hi ? cur + 1 : cur - 1));
    fire(sl, "input", "change");
    await tick();
    r.slid = state();
    if (sel && sel.options.length > 1) {
      sel.selectedIndex = (sel.selectedIndex + 1) % sel.options.length;
      fire(sel, "input", "change");
    }
    await tick();
    r.selected = state();
    const de = document.documentElement;
    r.layout = {viewport: Math.min(window.innerWidth, de.clientWidth),
                page_scroll_width: de.scrollWidth,
                scroll_width: exp.scrollWidth, client_width: exp.clientWidth,
                parts: {explorer: box(exp), "class menu": box(sel), "eps slider": box(sl),
                        "eps label": box(label), plot: box(plot)}};
    out.push(r);
  }
  return JSON.stringify(out);
})()
"""


def change_problems(before: dict, after: dict, action: str, keys: tuple[str, ...]) -> list[str]:
    """What `action` should have changed (the `keys` of an explorer state) but did not."""
    what = {"svg": "the plot's SVG", "label": "the eps label"}

    def shown(v) -> str:
        return repr(v) if v is None or len(v) <= 40 else f"{len(v)} characters"
    return [f"{action} did not change {what.get(k, k)} (still {shown(before.get(k))})"
            for k in keys if before.get(k) == after.get(k)]


def overflow_problems(layout: dict, width: int) -> list[str]:
    """Parts of the explorer that reach beyond the window (at most `width` px) or overflow the
    explorer's own box horizontally. Half a pixel of rounding is allowed."""
    view = min(width, layout.get("viewport") or width)
    out = []
    for name, b in layout["parts"].items():
        if b is None or b["width"] == 0:
            continue
        if b["right"] > view + 0.5 or b["left"] < -0.5:
            out.append(f"{name} spans x = {b['left']:.0f}..{b['right']:.0f} px, "
                       f"outside the {view} px wide window")
    sw, cw = layout.get("scroll_width", 0), layout.get("client_width", 0)
    if cw and sw > cw + 0.5:
        out.append(f"explorer content is {sw} px wide in its {cw} px box (horizontal overflow)")
    return out


def explorer_problems(result: dict, width: int) -> list[str]:
    """Every problem of one explorer's interaction result (see INTERACT_JS) at one width."""
    out = [f"element #{m} missing" for m in result.get("missing", [])]
    b, s, c = result["before"], result["slid"], result["selected"]
    if b["slider"] == s["slider"]:
        out.append("the eps slider's value could not be changed")
    else:
        out += change_problems(b, s, f"moving the eps slider ({b['slider']} -> {s['slider']})",
                               ("svg", "label"))
    if s["cls"] == c["cls"]:
        out.append("the class menu has no other option to pick")
    else:
        out += change_problems(s, c, f"choosing class {c['cls']!r} instead of {s['cls']!r}",
                               ("svg",))
    return out + overflow_problems(result["layout"], width)


def check_interaction(tools: DevTools, path: Path, name: str, width: int,
                      shot: Path) -> tuple[list[str], str]:
    """Opens `path` at `width` px, runs INTERACT_JS, saves a screenshot of the explorer.
    Returns (problems, summary of what was checked)."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for method in ("Runtime.enable", "Page.enable"):
            tools.send(method, session=session)
        tools.send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": WIDTHS.get(width, 900), "deviceScaleFactor": 1,
                    "mobile": width < 600}, session=session)
        tools.send("Page.navigate", {"url": path.as_uri()}, session=session)
        tools.wait_event("Page.loadEventFired", session)
        thrown = lambda: [ev["params"]["exceptionDetails"] for ev in tools.events  # noqa: E731
                          if ev.get("sessionId") == session
                          and ev.get("method") == "Runtime.exceptionThrown"]
        on_load = len(thrown())
        res = tools.send("Runtime.evaluate", {"expression": INTERACT_JS, "awaitPromise": True,
                                              "returnByValue": True}, session=session)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            return ([f"the interaction script failed: "
                     f"{d.get('exception', {}).get('description', d.get('text'))}"[:300]], "")
        results = json.loads(res["result"]["value"])
        png = tools.send("Page.captureScreenshot", {"format": "png"}, session=session)
        shot.write_bytes(base64.b64decode(png["data"]))
        # exceptions thrown by the page (on load or by a control), as the browser reported them
        errors = [("on load" if i < on_load else "while the controls moved", d)
                  for i, d in enumerate(thrown())]
    finally:
        tools.events = [ev for ev in tools.events if ev.get("sessionId") != session]
        tools.send("Target.closeTarget", {"targetId": target})

    problems, parts, noise = [], [], 0
    for when, d in errors:
        text = d.get("exception", {}).get("description") or d.get("text", "") or "?"
        if THEME_NOISE in text:
            noise += 1
            continue
        problems.append(f"JavaScript exception {when}: {text.splitlines()[0]}"[:200])
    if not results:
        problems.append(f"'{EXPLORER_MARK}' is in the HTML but no explorer slider was found")
    for r in results:
        problems += [f"explorer {r['uid']}: {p}" for p in explorer_problems(r, width)]
        b, s, c = r["before"], r["slid"], r["selected"]
        ex = r["layout"]["parts"]["explorer"]
        parts.append(f"explorer {r['uid']}: slider {b['slider']}->{s['slider']} "
                     f"label {b['label']!r}->{s['label']!r}, class {s['cls']}->{c['cls']}, "
                     f"width {ex['left']:.0f}..{ex['right']:.0f} of {r['layout']['viewport']} px")
    summary = "; ".join(parts) + f"; {len(errors) - noise} JS exception(s)"
    if noise:
        summary += f" (+{noise} ignored: the theme's {THEME_NOISE})"
    return problems, summary


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
    tools: DevTools | None = None
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
            if ":CONSOLE" in line and "Uncaught" in line and THEME_NOISE not in line:
                print(f"note: {name}: console: {line.split('] ', 1)[-1][:200]}")

        shot = shots / (path.stem + ".png")
        shot_run = chromium(browser, url, f"--screenshot={shot}", "--window-size=1280,4000")
        if shot_run.returncode != 0 or not shot.exists():
            problems.append(f"{name}: screenshot failed (exit {shot_run.returncode})")

        print(f"checked {name}: {static.output_imgs} output image(s), "
              f"{static.widget_views} widget view(s) -> {dom.widget_elems} widget element(s), "
              f"{dom.mathjax} rendered math, screenshot {shot.relative_to(root.parent.parent)}",
              file=sys.stderr)

        if EXPLORER_MARK not in path.read_text(encoding="utf-8", errors="replace"):
            continue
        for width in WIDTHS:
            shot = shots / f"{path.stem}-explorer-{width}.png"
            try:
                tools = tools or DevTools(browser)
                found, summary = check_interaction(tools, path, name, width, shot)
            except Exception as exc:  # noqa: BLE001 - any failure of the browser is a problem
                found, summary = [f"interaction check could not run: {exc}"], "not run"
                if tools is not None:
                    tools.close()
                    tools = None
            problems += [f"{name} @ {width} px: {p}" for p in found]
            print(f"interaction {name} @ {width} px: {'FAIL' if found else 'ok'}: {summary}, "
                  f"screenshot {shot.relative_to(root.parent.parent)}", file=sys.stderr)

    if tools is not None:
        tools.close()

    for p in problems:
        print(p)
    print(f"browser_check: {len(pages)} page(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
