#!/usr/bin/env bash
# Vendor the JavaScript the rendered book needs, so that the HTML works offline:
#   MathJax 3 (math), require.js + @jupyter-widgets/html-manager (static ipywidgets).
# Fetched from the npm registry into the git-ignored folder _vendor/, which
# _config.yml lists in html_static_path (copied to _build/html/_static/).
# NB: the folder must not be called _static: jupyter-book adds every *.js/*.css
# found under a root _static/ folder to every page.
# Idempotent: does nothing when _vendor/VERSIONS matches the pins below.
set -euo pipefail

MATHJAX_VERSION=3.2.2
REQUIREJS_VERSION=2.3.8
HTML_MANAGER_VERSION=1.0.15   # html-manager 1.x <-> ipywidgets 8.x

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/_vendor"
want="mathjax@$MATHJAX_VERSION requirejs@$REQUIREJS_VERSION @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION"

if [[ -f "$dest/VERSIONS" && "$(cat "$dest/VERSIONS")" == "$want" \
      && -f "$dest/mathjax/tex-mml-chtml.js" && -f "$dest/requirejs/require.js" \
      && -f "$dest/html-manager/embed-amd.js" ]]; then
  echo "vendor_js: up to date ($want)"
  exit 0
fi

command -v npm >/dev/null || { echo "vendor_js: npm not found (apt-get install -y npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "vendor_js: fetching $want"
(cd "$tmp" && npm pack --silent $want >/dev/null)

unpack() {  # tarball -> directory
  mkdir -p "$tmp/$2"
  tar -xzf "$tmp/$1" -C "$tmp/$2" --strip-components=1
}
unpack "mathjax-$MATHJAX_VERSION.tgz" mathjax
unpack "requirejs-$REQUIREJS_VERSION.tgz" requirejs
unpack "jupyter-widgets-html-manager-$HTML_MANAGER_VERSION.tgz" html-manager

new="$dest.new"
rm -rf "$new"
mkdir -p "$new/requirejs" "$new/html-manager"
cp -r "$tmp/mathjax/es5" "$new/mathjax"
cp "$tmp/mathjax/LICENSE" "$new/mathjax/LICENSE"
cp "$tmp/requirejs/require.js" "$new/requirejs/require.js"
# embed-amd.js bundles the base/controls/output widget modules; its font files
# (font-awesome) are resolved relative to the script, so keep dist/ together.
find "$tmp/html-manager/dist" -maxdepth 1 -type f ! -name '*.map' ! -name 'embed.js*' -exec cp {} "$new/html-manager/" \;
cp "$tmp/html-manager/LICENSE" "$new/html-manager/LICENSE" 2>/dev/null || true
echo "$want" > "$new/VERSIONS"

rm -rf "$dest"
mv "$new" "$dest"
echo "vendor_js: wrote $dest ($(du -sh "$dest" | cut -f1))"
