#!/usr/bin/env bash
# Formats the C++ sources with the project's .clang-format, or with --check only says which
# files differ (exit 1). The test suite runs the check.
#   ./scripts/format.sh          rewrite in place
#   ./scripts/format.sh --check  list files that do not follow the style
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (apt install clang-format)" >&2; exit 2; }
mapfile -t files < <(git ls-files -- 'apps/*.cpp' 'apps/*.h' 'libpdr/*.cpp' 'libpdr/*.h' 'tests/*.cpp' 'tests/*.h' 2>/dev/null ||
                     find apps libpdr tests -name '*.cpp' -o -name '*.h')
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]} > 0)); then
    printf 'format: %s does not follow .clang-format (run ./scripts/format.sh)\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files follow .clang-format"
else
  clang-format -i "${files[@]}"
fi
