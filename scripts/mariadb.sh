#!/usr/bin/env bash
# A throwaway MariaDB server on loopback for tests, from Debian's mariadb-server.
#
#   scripts/mariadb.sh start DIR [mariadbd options...]
#       creates DIR/data, starts mariadbd on a free port with its own socket DIR/sock,
#       creates database pdr_test and user pdr (password in DIR/password, also from
#       127.0.0.1 and localhost), and writes DIR/env (PORT, SOCKET, PID, PASSWORD lines).
#   scripts/mariadb.sh stop DIR       stops it by the pid in DIR/pid (never by name)
#   scripts/mariadb.sh restart DIR    stops and starts it again on the same port and data
#   scripts/mariadb.sh sql DIR "..."  runs SQL as root over the socket
set -euo pipefail

cmd=${1:?usage: mariadb.sh start|stop|restart|sql DIR ...}
dir=${2:?usage: mariadb.sh start|stop|restart|sql DIR ...}
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "mariadb.sh: no free port found" >&2
  exit 1
}

sql() { mariadb --no-defaults --socket="$dir/sock" -uroot -N -B -e "$1"; }

launch() {
  local port=$1
  shift
  mkdir -p "$dir/tmp"
  mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --tmpdir="$dir/tmp" --user=root --skip-log-bin --innodb-log-file-size=16M \
    --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
    --pid-file="$dir/pid" --log-error="$dir/error.log" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    if sql 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break  # it exited (e.g. the port was taken meanwhile)
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  return 1
}

fail_launch() {
  echo "mariadb.sh: server did not come up; see $dir/error.log" >&2
  tail -5 "$dir/error.log" >&2 || true
  exit 1
}

stop() {
  [[ -f "$dir/pid" ]] || return 0
  local pid
  pid=$(cat "$dir/pid")
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "$cmd" in
  start)
    if [[ ! -d "$dir/data/mysql" ]]; then
      # Its own tmpdir: two installs at once in one /tmp collide on temporary table names.
      mkdir -p "$dir/tmp"
      mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --user=root \
        --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 ||
        { echo "mariadb.sh: mariadb-install-db failed; see $dir/install.log" >&2; exit 1; }
    fi
    echo "$*" >"$dir/options"
    started=no
    for _ in 1 2 3; do  # another server may take the free port first: try another
      port=$(free_port)
      echo "$port" >"$dir/port"
      if launch "$port" "$@"; then started=yes; break; fi
    done
    [[ $started == yes ]] || fail_launch
    password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$password" >"$dir/password"
    sql "CREATE DATABASE IF NOT EXISTS pdr_test;
         CREATE USER IF NOT EXISTS 'pdr'@'127.0.0.1' IDENTIFIED BY '$password';
         CREATE USER IF NOT EXISTS 'pdr'@'localhost' IDENTIFIED BY '$password';
         GRANT ALL ON pdr_test.* TO 'pdr'@'127.0.0.1';
         GRANT ALL ON pdr_test.* TO 'pdr'@'localhost';
         CREATE USER IF NOT EXISTS 'nopass'@'localhost';
         GRANT ALL ON pdr_test.* TO 'nopass'@'localhost';
         DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;"
    printf 'PORT=%s\nSOCKET=%s\nPID=%s\nPASSWORD=%s\n' "$port" "$dir/sock" "$(cat "$dir/pid")" "$password" >"$dir/env"
    ;;
  stop) stop ;;
  restart)
    stop
    # shellcheck disable=SC2046
    launch "$(cat "$dir/port")" $(cat "$dir/options") || fail_launch
    printf 'PORT=%s\nSOCKET=%s\nPID=%s\nPASSWORD=%s\n' "$(cat "$dir/port")" "$dir/sock" "$(cat "$dir/pid")" \
      "$(cat "$dir/password")" >"$dir/env"
    ;;
  sql) sql "$1" ;;
  *) echo "mariadb.sh: unknown command $cmd" >&2; exit 2 ;;
esac
