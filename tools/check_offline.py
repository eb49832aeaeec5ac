#!/usr/bin/env python3
"""Fail when the built HTML would load anything from the network.

Usage: python tools/check_offline.py [_build/html]

Scans every *.html file for resources fetched from an http(s) or
protocol-relative URL (<script src>, <link href> other than plain links,
<img>/<iframe>/<source>/<video>/<audio>/<embed>/<object> sources, and
data-jupyter-widgets-cdn attributes) and every *.css file for url(...)/@import
pointing off-site. Ordinary <a href> hyperlinks are allowed.
Prints one line per offender and exits 1 if there is any.
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
# <link rel=...> values that make the browser fetch something.
FETCHING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon",
                 "shortcut", "apple-touch-icon", "manifest", "preconnect",
                 "dns-prefetch", "import"}
SRC_TAGS = {"script", "img", "iframe", "source", "video", "audio", "embed",
            "track", "input"}


class Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.offenders: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        line = self.getpos()[0]
        if tag in SRC_TAGS and REMOTE.match(a.get("src", "")):
            self.offenders.append((line, f"<{tag} src={a['src']}>"))
        if tag == "object" and REMOTE.match(a.get("data", "")):
            self.offenders.append((line, f"<object data={a['data']}>"))
        if tag == "link" and REMOTE.match(a.get("href", "")):
            rels = set(a.get("rel", "").lower().split())
            if rels & FETCHING_RELS:
                self.offenders.append((line, f"<link rel={a.get('rel')} href={a['href']}>"))
        for k, v in a.items():
            if k == "data-jupyter-widgets-cdn" and REMOTE.match(v):
                self.offenders.append((line, f"<{tag} {k}={v}>"))


CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.I)


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "_build/html")
    if not root.is_dir():
        print(f"check_offline: {root} does not exist; build the book first", file=sys.stderr)
        return 2
    problems: list[str] = []
    n_html = n_css = 0
    for path in sorted(root.rglob("*.html")):
        n_html += 1
        s = Scanner()
        s.feed(path.read_text(encoding="utf-8", errors="replace"))
        problems += [f"{path.relative_to(root)}:{ln}: {what}" for ln, what in s.offenders]
    for path in sorted(root.rglob("*.css")):
        n_css += 1
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in CSS_URL.finditer(text):
            ln = text.count("\n", 0, m.start()) + 1
            problems.append(f"{path.relative_to(root)}:{ln}: css url {m.group(1)}")
    for p in problems:
        print(p)
    if n_html == 0:
        print(f"check_offline: no HTML files under {root}")
        return 1
    print(f"check_offline: {n_html} HTML and {n_css} CSS files scanned, "
          f"{len(problems)} remote resource(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
