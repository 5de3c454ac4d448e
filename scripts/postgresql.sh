#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for tests, from Debian's postgresql package.
#
#   scripts/postgresql.sh start DIR [postgres -c options...]
#       creates DIR/pg (owned by the postgres system user, as the server refuses to run as root),
#       starts a server on a free port with its socket in DIR/pg, creates database pdr_test and
#       role pdr (password in DIR/password), and writes DIR/env (PORT, SOCKET, PID, PASSWORD).
#       Options are server settings, e.g. "-c idle_session_timeout=1s -c max_connections=20".
#   scripts/postgresql.sh stop DIR       stops it by the pid in DIR/pid (never by name)
#   scripts/postgresql.sh restart DIR    stops and starts it again on the same port and data
#   scripts/postgresql.sh sql DIR "..."  runs SQL as the superuser over the socket (database
#                                        pdr_test, or PGDATABASE)
set -euo pipefail

cmd=${1:?usage: postgresql.sh start|stop|restart|sql DIR ...}
dir=${2:?usage: postgresql.sh start|stop|restart|sql DIR ...}
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n "$bin" && -x "$bin/postgres" ]] || { echo "postgresql.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

# The server runs as the postgres system user when this script runs as root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "postgresql.sh: no free port found" >&2
  exit 1
}

sql() {
  as_pg "$bin/psql" -X -q -A -t -h "$dir/pg" -p "$(cat "$dir/port")" -U postgres \
    -d "${PGDATABASE:-pdr_test}" -v ON_ERROR_STOP=1 -c "$1"
}

launch() {
  local port=$1
  shift
  # Logs go to a file; no -c with spaces in "$@" is split again.
  as_pg "$bin/postgres" -D "$dir/pg/data" -p "$port" -k "$dir/pg" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB \
    -c max_connections=200 "$@" >>"$dir/pg/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    if [[ -f "$dir/pg/data/postmaster.pid" ]] &&
      as_pg "$bin/pg_isready" -q -h "$dir/pg" -p "$port" 2>/dev/null; then
      head -1 "$dir/pg/data/postmaster.pid" >"$dir/pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break  # it exited (e.g. the port was taken meanwhile)
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  return 1
}

fail_launch() {
  echo "postgresql.sh: server did not come up; see $dir/pg/server.log" >&2
  tail -5 "$dir/pg/server.log" >&2 || true
  exit 1
}

stop() {
  [[ -f "$dir/pid" ]] || return 0
  local pid
  pid=$(cat "$dir/pid")
  kill -CONT "$pid" 2>/dev/null || true
  kill -INT "$pid" 2>/dev/null || true  # fast shutdown: ends the sessions, no waiting for clients
  for _ in $(seq 1 400); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

write_env() {
  printf 'PORT=%s\nSOCKET=%s\nPID=%s\nPASSWORD=%s\n' "$(cat "$dir/port")" "$dir/pg" "$(cat "$dir/pid")" \
    "$(cat "$dir/password")" >"$dir/env"
}

case "$cmd" in
  start)
    if [[ ! -d "$dir/pg/data" ]]; then
      mkdir -p "$dir/pg"
      # The server's user must reach its directory: DIR is traversable, DIR/pg is its own.
      chmod o+x "$dir"
      if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir/pg"
        as_pg test -w "$dir/pg" ||
          { echo "postgresql.sh: the postgres user cannot reach $dir/pg (a parent directory is not traversable)" >&2; exit 1; }
      fi
      as_pg "$bin/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$dir/pg/initdb.log" 2>&1 ||
        { echo "postgresql.sh: initdb failed; see $dir/pg/initdb.log" >&2; exit 1; }
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
    PGDATABASE=postgres sql "CREATE ROLE pdr LOGIN PASSWORD '$password'" >/dev/null
    PGDATABASE=postgres sql "CREATE DATABASE pdr_test OWNER pdr" >/dev/null
    write_env
    ;;
  stop) stop ;;
  restart)
    stop
    # shellcheck disable=SC2046
    launch "$(cat "$dir/port")" $(cat "$dir/options") || fail_launch
    write_env
    ;;
  sql) sql "$1" ;;
  *) echo "postgresql.sh: unknown command $cmd" >&2; exit 2 ;;
esac
