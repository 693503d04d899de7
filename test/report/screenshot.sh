#!/bin/sh
# Screenshot an eval report in headless Chromium (Debian's chromium package), to check by eye
# that its images and plots are visible (a plot file, eval/plots/*.svg, works too):
#   test/report/screenshot.sh runs/<run>/eval/report.html [out.png] [width,height]
set -eu
html=${1:?usage: screenshot.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]}
out=${2:-${html%.*}.png}
size=${3:-1200,3000}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "screenshot.sh: $chromium not found (apt-get install chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
  --screenshot="$out" "file://$abs" >/dev/null 2>&1
[ -s "$out" ] || { echo "screenshot.sh: no screenshot written" >&2; exit 1; }
echo "$out"
