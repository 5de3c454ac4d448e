#!/usr/bin/env bash
# Installs what is missing, builds pdr_run and the mock model, runs the 8-point demo grid with
# 2 workers on embedded SQLite (config/demo.yaml), prints its status and writes its report page.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./scripts/setup.sh --build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPDR_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

demo=$root/build/demo
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"
export PDR_BASE_DIR=$root/build/pdr_base
# The mock takes a moment per point so the two workers are visible in the log.
export PDR_MOCK_PLAN='*:sleep=0.3'

echo "== pdr_run --config config/demo.yaml (in build/demo)"
"$root/build/apps/pdr_run" --config "$root/config/demo.yaml"
echo
echo "== the same command again: nothing left to do"
"$root/build/apps/pdr_run" --config "$root/config/demo.yaml"
echo
echo "== pdr_run status --model-name demo_grid"
"$root/build/apps/pdr_run" status --config "$root/config/demo.yaml" --model-name demo_grid
echo
echo "== pdr_run report --model-name demo_grid"
"$root/build/apps/pdr_run" report --config "$root/config/demo.yaml" --model-name demo_grid --out report.html
echo
echo "Outputs: build/demo/storage/demo_grid/{pdrgrid,oniongrid}; job database: build/demo/demo.db"
echo "Report: build/demo/report.html (one self-contained page: open it in any browser)"
