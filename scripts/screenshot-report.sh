#!/usr/bin/env bash
# Screenshots a review's report.html in headless Chromium, for a person to look
# at (the issue's acceptance: "look at every chart and the screenshot").
#
#   scripts/screenshot-report.sh review-2026-10/report.html review-2026-10/screenshot.png [WIDTHxHEIGHT]
#
# Installs Debian's chromium when it is missing. Runs with no network use
# (background networking, sync and component updates off) and a fresh profile.
set -euo pipefail
report=${1:?usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]}
out=${2:?usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]}
size=${3:-1300x9000}
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars \
  --window-size="${size/x/,}" --screenshot="$(realpath -m "$out")" \
  "file://$(realpath "$report")" >/dev/null 2>&1
echo "wrote $out"
