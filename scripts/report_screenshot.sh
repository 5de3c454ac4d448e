#!/usr/bin/env bash
# Runs the demo (./scripts/demo.sh) and takes a screenshot of its report page in headless
# Chromium, the way the report's browser test does, into docs/report-demo.png (the README's
# picture). Needs chromium (./scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/demo.sh >/dev/null
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --disable-background-networking \
  --hide-scrollbars --window-size=1100,1250 --screenshot="$root/docs/report-demo.png" \
  "file://$root/build/demo/report.html" >/dev/null 2>&1
echo "docs/report-demo.png: $(stat -c %s docs/report-demo.png) bytes, from build/demo/report.html"
