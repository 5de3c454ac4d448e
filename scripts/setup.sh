#!/usr/bin/env bash
# Installs the Debian packages pdr_run needs to build and test. Idempotent: when every
# package is already installed it makes no apt call at all.
#   ./scripts/setup.sh          build + test dependencies
#   ./scripts/setup.sh --build  build dependencies only (what the demo needs)
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config libsoci-dev libmariadb-dev libsqlite3-dev libtbb-dev
            libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libboost-dev googletest
            libgtest-dev libgmock-dev libssl-dev libarchive-dev sqlite3 tar help2man
            libsoci-postgresql4.0 libpq-dev)
test_pkgs=(procps mariadb-server mariadb-client rclone openssh-server openssh-client
           slurm-wlm slurm-client munge clang-format chromium fonts-dejavu-core
           postgresql postgresql-client)

want=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
  exit 2
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
