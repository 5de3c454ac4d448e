#!/usr/bin/env bash
# Measures pdr_run side by side, in one run, on this machine, and prints a table with the targets:
#   1. a no-op grid (the bundled mock executables: pdr, one onion, tar) of N jobs with 1, 2 and 4
#      workers on SQLite, MariaDB and PostgreSQL, next to the same executables run by a plain shell loop
#      and by GNU Parallel (parallel --joblog): jobs/s and the runner's overhead per job;
#      and 4 processes x 4 workers on one MariaDB grid (completions/s);
#   2. registering a 1,000,000-point grid (s), beside the database's own copy of the rows it wrote
#      (the floor), and `pdr_run status` on it (ms), on every database;
#   3. peak database connections and peak RSS of a worker over a 10,000-job grid, and its RSS at
#      1,000 vs 10,000 jobs (100,000 would take ~15 minutes here; BENCH_RSS_JOBS=100000 runs it);
#   4. the database path alone (pdr_dbpath_bench: the runner, store and pool with no-op jobs),
#      claim + record cycles/s on SQLite, MariaDB and PostgreSQL, and 48 processes x 8 workers on one
#      MariaDB (every job once, peak connections, cycle latency);
#   5. the monitoring views of one model of a million jobs on MariaDB and PostgreSQL;
#   6. pdr_run report of a 100,000-job model: its time, size, and Chromium drawing it.
# MariaDB runs with its durable default (innodb_flush_log_at_trx_commit=1), PostgreSQL with fsync,
# synchronous_commit and full_page_writes on; rows marked
# "relaxed" repeat a measurement with 2 (a commit may be lost on a power failure).
#
#   ./scripts/bench.sh           the full set (about 50 minutes on 2 cores)
#   ./scripts/bench.sh --quick   smaller sizes (N=500, 100,000-point registration, 2,000-job run)
#   BENCH_REPEAT=R               runs of each no-op grid and reference, interleaved; the best of
#                                each is compared (2; 1 with --quick)
#   BENCH_ONLY=chain             only the realistic chain against its floor (below), then stop
#   BENCH_ONLY=dbpath            only the database path and the many-process rows, then stop
#   BENCH_ONLY=report            only pdr_run report of a 100,000-job model (size, time, Chromium)
#   BENCH_ONLY=registration      only the registration of the big grid, status and views on it
#
# The realistic chain: a 400-job grid on SQLite with 2 workers (pdr + onion for CO, every output
# stored and hashed, MCDRT<job>.tar.gz) next to its floor, the same two mock programs run by
# `xargs -P2`, each job in a fresh temporary directory and nothing else: pdr_run's wall time as a
# multiple of the floor's, and pdr_run's own CPU per job.
#
# Overhead per job = (pdr_run wall time - reference wall time) x workers / jobs: the worker time
# pdr_run spends per job beyond running the same executables (a fresh working directory, rendered
# inputs, storing and hashing ~12 outputs, recording states in the database). The reference runs
# only the executables, in a reused prepared directory per job slot: for 1 worker a shell loop,
# for more workers GNU Parallel with as many jobs at once. "pdr_run CPU" is the CPU time of the
# pdr_run process itself (all threads, not the jobs' processes) per job: the runner's cost
# without the machine's noise, but also without the overlap of its threads with the jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
if ((quick)); then
  N=500; REG_DENS=50; RSS_BIG=2000; REPEAT=${BENCH_REPEAT:-1}
else
  N=2000; REG_DENS=100; RSS_BIG=${BENCH_RSS_JOBS:-10000}; REPEAT=${BENCH_REPEAT:-2}
fi

./scripts/setup.sh >/dev/null
missing=()
for p in parallel bc time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "bench: missing packages: ${missing[*]} (apt-get install them)" >&2; exit 2; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPDR_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
PDR=$root/build/apps/pdr_run
DBPATH=$root/build/apps/pdr_dbpath_bench
BASE=$root/build/pdr_base
export PDR_BASE_DIR=$BASE

tmp=$(mktemp -d /tmp/pdr-bench-XXXXXX)
chmod o+x "$tmp"  # the PostgreSQL server runs as the postgres user (its data under $tmp/pg)
cleanup() {
  "$root/scripts/mariadb.sh" stop "$tmp/db" >/dev/null 2>&1 || true
  "$root/scripts/postgresql.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
# The server's durable default (a committed transaction survives a power loss) comes first;
# figures with innodb_flush_log_at_trx_commit=2 follow as "relaxed" rows.
"$root/scripts/mariadb.sh" start "$tmp/db" --innodb-buffer-pool-size=1G --max-connections=600 \
  --innodb-flush-log-at-trx-commit=1 >/dev/null
PORT=$(awk -F= '/^PORT=/{print $2}' "$tmp/db/env")
PASSWORD=$(cat "$tmp/db/password")
mysql_env=(PDR_DB_TYPE=mysql PDR_DB_HOST=127.0.0.1 PDR_DB_PORT="$PORT" PDR_DB_DATABASE=pdr_test
           PDR_DB_USERNAME=pdr PDR_DB_PASSWORD="$PASSWORD")
sqlq() { "$root/scripts/mariadb.sh" sql "$tmp/db" "$1"; }
fresh_mysql() { sqlq "DROP DATABASE IF EXISTS pdr_test; CREATE DATABASE pdr_test" >/dev/null; }
durable() { sqlq "SET GLOBAL innodb_flush_log_at_trx_commit = $1" >/dev/null; }  # 1 durable, 2 relaxed
# PostgreSQL with its durable defaults (fsync, synchronous_commit, full_page_writes on: the
# script's test settings are turned back).
"$root/scripts/postgresql.sh" start "$tmp/pg" -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
  -c shared_buffers=512MB -c max_connections=600 >/dev/null
pg_env=(PDR_DB_TYPE=postgresql PDR_DB_HOST=127.0.0.1 PDR_DB_PORT="$(cat "$tmp/pg/port")" PDR_DB_DATABASE=pdr_test
        PDR_DB_USERNAME=pdr PDR_DB_PASSWORD="$(cat "$tmp/pg/password")")
pgq() { PGDATABASE=pdr_test "$root/scripts/postgresql.sh" sql "$tmp/pg" "$1"; }
fresh_pg() {
  PGDATABASE=postgres "$root/scripts/postgresql.sh" sql "$tmp/pg" "DROP DATABASE IF EXISTS pdr_test" >/dev/null
  PGDATABASE=postgres "$root/scripts/postgresql.sh" sql "$tmp/pg" "CREATE DATABASE pdr_test OWNER pdr" >/dev/null
}
# The environment of a database: sqlite (none), mysql or postgresql; a fresh empty database.
db_env() { case $1 in mysql*) echo "${mysql_env[@]}" ;; postgresql) echo "${pg_env[@]}" ;; esac; }
fresh_db() { case $1 in mysql*) fresh_mysql ;; postgresql) fresh_pg ;; esac; }

cat >"$tmp/cfg.yaml" <<EOF
database:
  path: $tmp/jobs.db
storage:
  base_dir: $tmp/store
run:
  scratch_dir: $tmp/scratch
  log_dir: $tmp/logs
  progress_interval: 0
  step_timeout: 600
model_parameters:
  species: [CO]
EOF

now() { date +%s.%N; }
# A grid of $1 jobs (a multiple of 20) as flags: dens x 20 chi values x mass.
grid_flags() {
  local rest=$(($1 / 20)) dens mass=1
  dens=$rest
  if ((rest > 100)); then dens=100; mass=$((rest / 100)); fi
  echo "--dens $(seq 0 $((dens - 1)) | tr '\n' ' ') --chi $(seq 0 19 | tr '\n' ' ') --mass $(seq -50 $((mass - 51)) | tr '\n' ' ')"
}
jobs_of() { echo "$1"; }

# One pdr_run grid; prints "seconds peak_rss_kb cpu_seconds" (cpu: pdr_run's own, all threads,
# without the jobs' processes, from its end-of-run line).
run_grid() {  # db model workers jobs [extra env...]
  local db=$1 model=$2 workers=$3 n=$4
  shift 4
  local envs=("$@") denv=()
  read -r -a denv <<<"$(db_env "$db")"
  envs+=("${denv[@]+"${denv[@]}"}")
  local t0 t1
  t0=$(now)
  env "${envs[@]}" /usr/bin/time -f "%M" -o "$tmp/rss" "$PDR" --config "$tmp/cfg.yaml" --model-name "$model" \
    --parallel --workers "$workers" $(grid_flags "$n") >"$tmp/out" 2>"$tmp/err" || {
    echo "bench: pdr_run failed:" >&2; tail -5 "$tmp/err" >&2; exit 1; }
  t1=$(now)
  local cpu
  cpu=$(sed -n 's/.*\[info\] cpu: pdr_run \([0-9.]*\) s.*/\1/p' "$tmp/err" | tail -1)
  echo "$(echo "$t1 - $t0" | bc -l) $(cat "$tmp/rss") ${cpu:-0}"
}

# The reference: one prepared working directory (kept by pdr_run), copied per job.
"$PDR" --config "$tmp/cfg.yaml" --model-name refprep --keep-tmp --dens 30 --chi 10 --mass -10 >/dev/null 2>"$tmp/prep.err"
template=$(sed -n 's/.*working directory kept: //p' "$tmp/prep.err" | head -1)
[[ -d "$template" ]] || { echo "bench: no prepared working directory" >&2; exit 1; }
rm -f "$tmp/jobs.db"*; rm -rf "$tmp/store"
cat >"$tmp/job.sh" <<EOF
#!/bin/bash
# One reference job: the executables pdr_run runs for a job (pdr, one onion, the Out/ tarball),
# in a prepared working directory per job slot (\$2), reused: no setup, storage or database.
set -e
d="$tmp/scratch/ref-slot\$2"
[[ -d "\$d" ]] || cp -a "$template" "\$d"
cd "\$d"
PDR_JOB_NAME=ref_\$1 ./mockpdr >> pdroutput/TEXTOUT 2>&1
cp "$BASE/onioninpdata/ONION3.INP.CO" ONION3.INP
./mockonion "\$d/pdroutput/pdrstruct_s.hdf5" >> onionoutput/TEXTOUT 2>&1
tar -czf MCDRT.tar.gz Out
: > pdroutput/TEXTOUT
: > onionoutput/TEXTOUT
EOF
chmod +x "$tmp/job.sh"

# The machine's own noise is large (the same run 20-40 % apart): each measurement is taken
# $REPEAT times, references and pdr_run runs interleaved, and the best of each is compared.
lower() { if [[ -z "${2:-}" ]] || (($(echo "$1 < $2" | bc -l))); then echo "$1"; else echo "$2"; fi; }
rows=()
row() { rows+=("$(printf "$@")"); }
fmt() { printf "%.${2:-2}f" "$1"; }
check() { if (($(echo "$2" | bc -l))); then echo "  HOLDS   $1"; else echo "  MISSED  $1"; fi; }

# pdr_run report of a 100,000-job model (SQLite; 20 densities x 20 FUV fields x 25 masses x 10
# metallicities): 70 % finished over the last two hours on 8 hosts, 3 % failed, 2 % running, the
# rest pending (states set with SQL after a registration).
# The report's time (best of 3, whole command), its size, and headless Chromium loading it
# (--dump-dom, its own start included; beside it the same for an empty page).
report_bench() {
  local flags t0 t1 best=999999 secs size
  flags="--dens $(seq 20 39 | tr '\n' ' ') --chi $(seq 0 19 | tr '\n' ' ') --mass $(seq -20 4 | tr '\n' ' ') --metal $(seq 10 10 100 | tr '\n' ' ')"
  rm -f "$tmp/jobs.db"*
  "$PDR" --config "$tmp/cfg.yaml" --model-name rep --register-only $flags >/dev/null 2>"$tmp/reg.err" ||
    { echo "bench: registration failed" >&2; tail -3 "$tmp/reg.err" >&2; exit 1; }
  sqlite3 "$tmp/jobs.db" <<'SQL'
UPDATE pdr_model_jobs SET status = 'finished', pending = 0, active = 0, host = 'node' || (id % 8),
  time_of_start = datetime('now', '-' || (7200 - id % 7000) || ' seconds'),
  time_of_finish = datetime('now', '-' || (7200 - id % 7000 - 30 - id % 97) || ' seconds'),
  predicted_seconds = 40 + id % 90 WHERE id % 100 < 70;
UPDATE pdr_model_jobs SET status = 'failed', pending = 0, active = 0, host = 'node' || (id % 8),
  error_stage = 'onion', error_cause = 'CO: exit code ' || (id % 3 + 1), exit_code = id % 3 + 1,
  time_of_start = datetime('now', '-3000 seconds'), time_of_finish = datetime('now', '-2950 seconds')
  WHERE id % 100 BETWEEN 70 AND 72;
UPDATE pdr_model_jobs SET status = 'running', pending = 0, active = 1, host = 'node' || (id % 8),
  time_of_start = datetime('now', '-60 seconds') WHERE id % 100 BETWEEN 73 AND 74;
SQL
  for _ in 1 2 3; do
    t0=$(now)
    "$PDR" report --config "$tmp/cfg.yaml" --model-name rep --out "$tmp/report.html" 2>"$tmp/report.err" ||
      { echo "bench: report failed" >&2; tail -3 "$tmp/report.err" >&2; exit 1; }
    t1=$(now)
    best=$(lower "$(echo "$t1 - $t0" | bc -l)" "$best")
  done
  size=$(stat -c %s "$tmp/report.html")
  report_secs=$best
  report_kb=$((size / 1024))
  local chrome="chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
  echo '<!DOCTYPE html><html><body></body></html>' >"$tmp/empty.html"
  t0=$(now); $chrome --dump-dom "file://$tmp/empty.html" >/dev/null 2>&1; t1=$(now)
  local empty; empty=$(echo "$t1 - $t0" | bc -l)
  t0=$(now); $chrome --dump-dom "file://$tmp/report.html" >"$tmp/report.dom" 2>/dev/null; t1=$(now)
  local load; load=$(echo "$t1 - $t0" | bc -l)
  local cells; cells=$(grep -o '<rect class="cell"\|data-cells="[0-9]*"' "$tmp/report.dom" | sed 's/.*="\([0-9]*\)"/\1/; s/<rect.*/1/' | paste -sd+ | bc)
  row "sqlite  report of 100000 jobs (70 %% finished on 8 hosts, 3 %% failed, 2 %% running): %.2f s (best of 3, whole command), %d KB | Chromium draws it in %.1f s (%d state cells; an empty page: %.1f s)" \
    "$report_secs" "$report_kb" "$load" "$cells" "$empty"
}
report_targets() {
  check "report of 100,000 jobs under 2 MB ($report_kb KB, written in $(fmt "$report_secs") s)" "$report_kb < 2048"
}
if [[ "${BENCH_ONLY:-}" == report ]]; then
  report_bench
  echo
  echo "pdr_run bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)): the report"
  printf '%s\n' "${rows[@]}"
  echo
  echo "targets:"
  report_targets
  exit 0
fi
[[ -z "${BENCH_ONLY:-}" ]] && report_bench

CHAIN_N=400
cat >"$tmp/floor.sh" <<EOF
#!/bin/bash
# One floor job: the two mock programs in a fresh temporary directory, then the directory goes.
set -e
d=\$(mktemp -d "$tmp/scratch/floor-XXXXXX")
cp -a "$template/." "\$d"
cd "\$d"
PDR_JOB_NAME=floor_\$1 ./mockpdr >> pdroutput/TEXTOUT 2>&1
cp "$BASE/onioninpdata/ONION3.INP.CO" ONION3.INP
./mockonion "\$d/pdroutput/pdrstruct_s.hdf5" >> onionoutput/TEXTOUT 2>&1
cd /
rm -rf "\$d"
EOF
chmod +x "$tmp/floor.sh"
declare -A chain
[[ "${BENCH_ONLY:-}" == dbpath || "${BENCH_ONLY:-}" == registration ]] && CHAIN_REPEAT=0 || CHAIN_REPEAT=$REPEAT
chain[floor]=1; chain[pdr]=0; chain[cpu]=0
# On an ext4 without a journal (this machine's), the kernel passes over every inode freed in the
# last dirty_expire_centisecs/100 + 5 s each time it allocates one: a side started right after the
# other's deletions (the floor removes ~10,000 files, a run's store ~5,000) pays for them on each
# file it creates, in its own CPU. Each side starts after that window; each still pays for what
# it deletes itself while it runs.
settle_s=0
fs_dev=$(basename "$(findmnt -no SOURCE -T "$tmp" 2>/dev/null)" 2>/dev/null || true)
if [[ -n "$fs_dev" && "$(cat "/sys/fs/ext4/$fs_dev/journal_task" 2>/dev/null)" == "<none>" ]]; then
  settle_s=$(($(cat /proc/sys/vm/dirty_expire_centisecs) / 100 + 6))
fi
settle() { ((settle_s == 0)) || sleep "$settle_s"; }
for ((rep = 1; rep <= CHAIN_REPEAT; rep++)); do
  ((rep == 1)) && unset 'chain[floor]' 'chain[pdr]' 'chain[cpu]'
  rm -f "$tmp/jobs.db"*; rm -rf "$tmp/store"
  settle
  t0=$(now); seq 1 "$CHAIN_N" | xargs -P2 -n1 "$tmp/floor.sh"; t1=$(now)
  chain[floor]=$(lower "$(echo "$t1 - $t0" | bc -l)" "${chain[floor]:-}")
  settle
  read -r secs _ c < <(run_grid sqlite chain 2 "$CHAIN_N")
  chain[pdr]=$(lower "$secs" "${chain[pdr]:-}")
  chain[cpu]=$(lower "$c" "${chain[cpu]:-}")
done
chain_ratio=$(echo "${chain[pdr]} / ${chain[floor]}" | bc -l)
chain_cpu=$(echo "${chain[cpu]} * 1000 / $CHAIN_N" | bc -l)
((CHAIN_REPEAT)) && row "sqlite   2 workers, realistic chain: %d jobs in %6.2f s | floor (xargs -P2, fresh dir per job) %6.2f s | %.2fx the floor | pdr_run CPU %5.2f ms/job%s" \
  "$CHAIN_N" "${chain[pdr]}" "${chain[floor]}" "$chain_ratio" "$chain_cpu" \
  "$( ((settle_s)) && echo " (each side after ${settle_s} s: no journal on $fs_dev)" || true)"
chain_targets() {
  check "realistic chain <= 1.15x the floor's wall time ($(fmt "$chain_ratio")x)" "$chain_ratio <= 1.15"
  check "pdr_run CPU <= 2 ms per job on the realistic chain ($(fmt "$chain_cpu") ms)" "$chain_cpu <= 2"
}
if [[ "${BENCH_ONLY:-}" == chain ]]; then
  echo
  echo "pdr_run bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)): the realistic chain, best of $REPEAT"
  printf '%s\n' "${rows[@]}"
  echo
  echo "targets:"
  chain_targets
  exit 0
fi

if [[ "${BENCH_ONLY:-}" != registration ]]; then  # the database path and many nodes
# The database path alone: pdr_dbpath_bench runs pdr_run's runner, store, pool and heartbeat
# over a registered model whose jobs do nothing (claim + record cycles/s, and the p50/p99 of a
# worker's gap between two jobs: 0 when the claim that brought its last job brought its next one
# too, as it does when jobs end together and their finishes and claims are batched).
DP_N=4000
dbpath_run() {  # db processes workers job_seconds jobs [cfg] -> "jobs seconds p50 p99"
  local db=$1 procs=$2 workers=$3 secs=$4 jobs=$5 cfg=${6:-$tmp/cfg.yaml} envs=() t0 t1 pids=() p
  rm -f "$tmp/jobs.db"*; rm -rf "$tmp/store"; fresh_db "$db"
  read -r -a envs <<<"$(db_env "$db")"
  env "${envs[@]+"${envs[@]}"}" "$PDR" --config "$cfg" --model-name dp --register-only $(grid_flags "$jobs") \
    >/dev/null 2>&1
  [[ $db == mysql ]] && sqlq "FLUSH STATUS" >/dev/null
  t0=$(now)
  for ((p = 1; p <= procs; p++)); do
    env "${envs[@]+"${envs[@]}"}" "$DBPATH" --config "$cfg" --model-name dp --workers "$workers" \
      --job-seconds "$secs" >"$tmp/dp$p.out" 2>"$tmp/dp$p.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "bench: pdr_dbpath_bench failed:" >&2; cat "$tmp"/dp*.err >&2; exit 1; }; done
  t1=$(now)
  # The median of the processes' p50 and the worst p99.
  echo "$(cat "$tmp"/dp*.out | awk '{n += $1} END {print n}') $(echo "$t1 - $t0" | bc -l)" \
    "$(awk '{print $3}' "$tmp"/dp*.out | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')" \
    "$(awk '{print $4}' "$tmp"/dp*.out | sort -n | tail -1)"
  rm -f "$tmp"/dp*.out "$tmp"/dp*.err
}
declare -A dp
for spec in "sqlite 1" "mysql 4" "mysql-relaxed 4" "postgresql 4"; do
  read -r name procs <<<"$spec"
  db=${name%-relaxed}
  [[ $name == mysql-relaxed ]] && durable 2
  best_rate=0
  for ((rep = 1; rep <= REPEAT; rep++)); do
    read -r jobs secs p50 p99 < <(dbpath_run "$db" "$procs" 4 0 "$DP_N")
    rate=$(echo "$jobs / $secs" | bc -l)
    if (($(echo "$rate > $best_rate" | bc -l))); then best_rate=$rate; best_p50=$p50; best_p99=$p99; fi
  done
  [[ $name == mysql-relaxed ]] && durable 1
  dp[$name]=$best_rate
  row "%-13s database path, %d process%s x 4 workers, no-op jobs: %.0f claim+record cycles/s | a worker's gap between jobs p50 %.1f ms, p99 %.1f ms" \
    "$name" "$procs" "$([[ $procs == 1 ]] && echo "" || echo "es")" "$best_rate" "$best_p50" "$best_p99"
done

# Many nodes, simulated: 48 processes x 8 workers (384 jobs at once, each a 0.5 s sleep) on one
# MariaDB, with the default pool and with the pool many nodes should use (2 + 2 sessions).
MANY_N=2000
cat >"$tmp/cfg-pool4.yaml" <<EOF
$(cat "$tmp/cfg.yaml")
EOF
sed -i "s|^  path: .*|&\n  pool_size: 2\n  max_overflow: 2|" "$tmp/cfg-pool4.yaml"
declare -A many
for pool in default pool4; do
  cfg=$tmp/cfg.yaml; [[ $pool == pool4 ]] && cfg=$tmp/cfg-pool4.yaml
  read -r jobs secs p50 p99 < <(dbpath_run mysql 48 8 0.5 "$MANY_N" "$cfg")
  once=$(sqlq "SELECT COUNT(*) FROM pdr_test.pdr_model_jobs WHERE status = 'finished' AND attempts = 1")
  peak=$(sqlq "SHOW GLOBAL STATUS LIKE 'Max_used_connections'" | awk '{print $2}')
  per=$(sqlq "SELECT MAX(pool_created) FROM pdr_test.pdr_runs")
  many[$pool]="$once $peak $per"
  row "mysql   48 processes x 8 workers, 0.5 s jobs, pool %-7s: %d of %d jobs finished once in %.1f s | peak %d server connections, at most %d sessions opened per process | gap between jobs p50 %.0f ms, p99 %.0f ms" \
    "$pool" "$once" "$MANY_N" "$secs" "$peak" "$per" "$p50" "$p99"
done
# A process with 32 workers and the default pool: the sessions it opens.
read -r _ _ _ _ < <(dbpath_run mysql 1 32 0.05 640)
conn32=$(sqlq "SELECT MAX(pool_created) FROM pdr_test.pdr_runs")
row "mysql   1 process x 32 workers, default pool: %d sessions opened" "$conn32"
dbpath_targets() {
  check ">= 2000 claim+record cycles/s on the database path (SQLite 1 process $(fmt "${dp[sqlite]}" 0)/s, MariaDB 4 x 4 $(fmt "${dp[mysql]}" 0)/s durable, $(fmt "${dp[mysql-relaxed]}" 0)/s relaxed; PostgreSQL 4 x 4 $(fmt "${dp[postgresql]}" 0)/s durable)" \
    "${dp[sqlite]} >= 2000 && ${dp[mysql]} >= 2000"
  read -r once peak per <<<"${many[default]}"
  check "48 x 8 workers on one MariaDB: every job finished once, none failed ($once of $MANY_N, peak $peak connections)" \
    "$once == $MANY_N"
  check "a process with 32 workers holds <= 4 connections with the default pool ($conn32)" "$conn32 <= 4"
}
if [[ "${BENCH_ONLY:-}" == dbpath ]]; then
  echo
  echo "pdr_run bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), MariaDB $(sqlq 'SELECT VERSION()'), PostgreSQL $(pgq 'SHOW server_version')): the database path, best of $REPEAT"
  printf '%s\n' "${rows[@]}"
  echo
  echo "targets:"
  dbpath_targets
  exit 0
fi

fi
if [[ "${BENCH_ONLY:-}" != registration ]]; then  # grids of no-op jobs against their references
n=$(jobs_of "$N")
declare -A ref best cpu
for ((rep = 1; rep <= REPEAT; rep++)); do
  t0=$(now); for i in $(seq 1 "$n"); do "$tmp/job.sh" "$i" 1; done; t1=$(now)
  ref[loop]=$(lower "$(echo "$t1 - $t0" | bc -l)" "${ref[loop]:-}")
  for w in 1 2 4; do
    t0=$(now); seq 1 "$n" | parallel -j "$w" --joblog "$tmp/joblog.$w" "$tmp/job.sh" {} {%}; t1=$(now)
    ref[par$w]=$(lower "$(echo "$t1 - $t0" | bc -l)" "${ref[par$w]:-}")
  done
  for db in sqlite mysql postgresql; do
    for w in 1 2 4; do
      rm -f "$tmp/jobs.db"*; rm -rf "$tmp/store"; fresh_db "$db"
      read -r secs _ c < <(run_grid "$db" "noop$w" "$w" "$N")
      best[$db$w]=$(lower "$secs" "${best[$db$w]:-}")
      cpu[$db$w]=$(lower "$c" "${cpu[$db$w]:-}")
    done
  done
done

max_overhead=-1000000
for db in sqlite mysql postgresql; do
  for w in 1 2 4; do
    secs=${best[$db$w]}
    if ((w == 1)); then r=${ref[loop]}; rname="shell loop"; else r=${ref[par$w]}; rname="parallel -j$w"; fi
    over=$(echo "($secs - $r) * $w / $n * 1000" | bc -l)
    row "%-7s %2d workers: %6d jobs in %6.2f s = %7.1f jobs/s | %-13s %6.2f s = %7.1f jobs/s | overhead %6.2f ms/job | pdr_run CPU %5.2f ms/job" \
      "$db" "$w" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$rname" "$r" "$(echo "$n / $r" | bc -l)" "$over" \
      "$(echo "${cpu[$db$w]} * 1000 / $n" | bc -l)"
    if (($(echo "$over > $max_overhead" | bc -l))); then max_overhead=$over; fi
  done
done

# 4 processes x 4 workers on one MariaDB grid.
fresh_mysql
env "${mysql_env[@]}" "$PDR" --config "$tmp/cfg.yaml" --model-name multi --register-only $(grid_flags "$N") >/dev/null 2>&1
t0=$(now)
pids=()
for p in 1 2 3 4; do
  env "${mysql_env[@]}" "$PDR" worker --config "$tmp/cfg.yaml" --model-name multi --parallel --workers 4 \
    >"$tmp/w$p.out" 2>"$tmp/w$p.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(now)
multi_secs=$(echo "$t1 - $t0" | bc -l)
multi_rate=$(echo "$n / $multi_secs" | bc -l)
row "mysql   4 processes x 4 workers: %d jobs in %.2f s = %.1f completions/s" "$n" "$multi_secs" "$multi_rate"

fi
# Registration of a big grid, and status on it.
reg_points=$((REG_DENS * 100 * 100))
reg_flags="--dens $(seq 0 $((REG_DENS - 1)) | tr '\n' ' ') --chi $(seq 0 99 | tr '\n' ' ') --mass $(seq -50 49 | tr '\n' ' ')"
declare -A reg stat
# --dry-run of the same grid: planned and listed, nothing registered (best of 3).
dry=999999
for _ in 1 2 3; do
  t0=$(now)
  /usr/bin/time -f "%M" -o "$tmp/rss" "$PDR" --config "$tmp/cfg.yaml" --model-name big --dry-run $reg_flags \
    >/dev/null 2>"$tmp/dry.err" || { echo "bench: --dry-run failed" >&2; tail -3 "$tmp/dry.err" >&2; exit 1; }
  t1=$(now)
  dry=$(lower "$(echo "$t1 - $t0" | bc -l)" "$dry")
done
dry_rss=$(cat "$tmp/rss")
row "        --dry-run of %d points: %.2f s, peak RSS %d KiB (best of 3, output to /dev/null)" "$reg_points" "$dry" "$dry_rss"
# MariaDB first with its durable default, then relaxed (innodb_flush_log_at_trx_commit=2).
# On the durable model of a million jobs: each monitoring view for that model, by the client.
view_ms() {  # query [client] -> best of 3, milliseconds, by the client (mariadb: sqlq; psql: pgq), its start included
  local best=999999 t0 t1 ms client=${2:-sqlq}
  for _ in 1 2 3; do
    t0=$(now); "$client" "$1" >/dev/null; t1=$(now)
    ms=$(echo "($t1 - $t0) * 1000" | bc -l)
    if (($(echo "$ms < $best" | bc -l))); then best=$ms; fi
  done
  echo "$best"
}
declare -A views floor
# The floor of a registration: the database copying the rows it holds after one into empty
# twins of kosmatau_parameters and pdr_model_jobs with the same keys and indexes (INSERT ...
# SELECT, parameter rows in id order, no triggers). pdr_run cannot write those rows faster than
# the database can, whatever it sends.
floor_copy() {  # db -> seconds
  local t0 t1 twins="" ddl
  case $1 in
    sqlite)
      ddl=$(sqlite3 "$tmp/jobs.db" "SELECT sql || ';' FROM sqlite_master WHERE tbl_name IN ('kosmatau_parameters', 'pdr_model_jobs') AND type IN ('table', 'index') AND sql IS NOT NULL" |
        sed -E 's/^CREATE TABLE ([a-z_]+)/CREATE TABLE floor_\1/; s/^CREATE (UNIQUE )?INDEX ([a-z_]+) ON ([a-z_]+)/CREATE \1INDEX floor_\2 ON floor_\3/')
      sqlite3 "$tmp/jobs.db" "$ddl" >/dev/null
      t0=$(now)
      sqlite3 "$tmp/jobs.db" "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; BEGIN; INSERT INTO floor_kosmatau_parameters SELECT * FROM kosmatau_parameters WHERE 1 ORDER BY id; INSERT INTO floor_pdr_model_jobs SELECT * FROM pdr_model_jobs WHERE 1 ORDER BY id; COMMIT;" >/dev/null
      t1=$(now)
      sqlite3 "$tmp/jobs.db" "DROP TABLE floor_kosmatau_parameters; DROP TABLE floor_pdr_model_jobs" >/dev/null ;;
    mysql)
      sqlq "USE pdr_test; CREATE TABLE floor_kp LIKE kosmatau_parameters; CREATE TABLE floor_jobs LIKE pdr_model_jobs" >/dev/null
      t0=$(now)
      sqlq "USE pdr_test; INSERT INTO floor_kp SELECT * FROM kosmatau_parameters ORDER BY id; INSERT INTO floor_jobs SELECT * FROM pdr_model_jobs ORDER BY id" >/dev/null
      t1=$(now)
      sqlq "USE pdr_test; DROP TABLE floor_kp, floor_jobs" >/dev/null ;;
    postgresql)
      pgq "CREATE TABLE floor_kp (LIKE kosmatau_parameters INCLUDING ALL); CREATE TABLE floor_jobs (LIKE pdr_model_jobs INCLUDING ALL)" >/dev/null
      t0=$(now)
      pgq "INSERT INTO floor_kp SELECT * FROM kosmatau_parameters ORDER BY id; INSERT INTO floor_jobs SELECT * FROM pdr_model_jobs ORDER BY id" >/dev/null
      t1=$(now)
      pgq "DROP TABLE floor_kp, floor_jobs" >/dev/null ;;
  esac
  echo "$t1 - $t0" | bc -l
}
for db in sqlite mysql mysql-relaxed postgresql; do
  rm -f "$tmp/jobs.db"*; rm -rf "$tmp/store"; fresh_db "$db"
  [[ $db == mysql-relaxed ]] && durable 2
  read -r -a envs <<<"$(db_env "$db")"
  t0=$(now)
  env "${envs[@]+"${envs[@]}"}" "$PDR" --config "$tmp/cfg.yaml" --model-name big --register-only $reg_flags >/dev/null 2>"$tmp/reg.err" ||
    { echo "bench: registration failed" >&2; tail -3 "$tmp/reg.err" >&2; exit 1; }
  t1=$(now)
  [[ $db == mysql-relaxed ]] && durable 1
  reg[$db]=$(echo "$t1 - $t0" | bc -l)
  best=999999
  for _ in 1 2 3 4 5; do
    t0=$(now)
    env "${envs[@]+"${envs[@]}"}" "$PDR" status --config "$tmp/cfg.yaml" --model-name big >/dev/null 2>&1
    t1=$(now)
    ms=$(echo "($t1 - $t0) * 1000" | bc -l)
    if (($(echo "$ms < $best" | bc -l))); then best=$ms; fi
  done
  stat[$db]=$best
  row "%-13s registering %d points: %.1f s | pdr_run status on them: %.0f ms (best of 5, whole command)" \
    "$db" "$reg_points" "${reg[$db]}" "$best"
  if [[ $db == mysql ]]; then
    views[client]=$(view_ms "SELECT 1")
    views[progress]=$(view_ms "SELECT * FROM pdr_test.pdr_progress_v WHERE model_name = 'big'")
    views[failures]=$(view_ms "SELECT * FROM pdr_test.pdr_failures_v WHERE model_name = 'big'")
    views[workers]=$(view_ms "SELECT * FROM pdr_test.pdr_workers_v WHERE model_name = 'big'")
    views[running]=$(view_ms "SELECT * FROM pdr_test.pdr_jobs_v WHERE model_name = 'big' AND status = 'running'")
    views[count]=$(view_ms "SELECT COUNT(*) FROM pdr_test.pdr_jobs_v WHERE model_name = 'big'")
    views[worst]=$(printf '%s\n' "${views[progress]}" "${views[failures]}" "${views[workers]}" "${views[running]}" | sort -n | tail -1)
    row "mysql   views of the %d-job model (best of 3, by the mariadb client, whose own start takes %.0f ms): pdr_progress_v %.0f ms | pdr_failures_v %.0f ms | pdr_workers_v %.0f ms | pdr_jobs_v running jobs %.0f ms | COUNT(*) of pdr_jobs_v %.0f ms" \
      "$reg_points" "${views[client]}" "${views[progress]}" "${views[failures]}" "${views[workers]}" "${views[running]}" "${views[count]}"
  fi
  if [[ $db == postgresql ]]; then
    declare -A pgv
    pgv[client]=$(view_ms "SELECT 1" pgq)
    # What any libpq client pays, as pdr_run connects (TCP, the pdr role, its password: SCRAM):
    # psql running SELECT 1, best of 5.
    pgv[tcp]=999999
    for _ in 1 2 3 4 5; do
      t0=$(now)
      PGPASSWORD="$(cat "$tmp/pg/password")" psql -X -q -A -t -h 127.0.0.1 -p "$(cat "$tmp/pg/port")" -U pdr \
        -d pdr_test -c "SELECT 1" >/dev/null
      t1=$(now)
      pgv[tcp]=$(lower "$(echo "($t1 - $t0) * 1000" | bc -l)" "${pgv[tcp]}")
    done
    pgv[progress]=$(view_ms "SELECT * FROM pdr_progress_v WHERE model_name = 'big'" pgq)
    pgv[failures]=$(view_ms "SELECT * FROM pdr_failures_v WHERE model_name = 'big'" pgq)
    pgv[workers]=$(view_ms "SELECT * FROM pdr_workers_v WHERE model_name = 'big'" pgq)
    pgv[running]=$(view_ms "SELECT * FROM pdr_jobs_v WHERE model_name = 'big' AND status = 'running'" pgq)
    pgv[count]=$(view_ms "SELECT COUNT(*) FROM pdr_jobs_v WHERE model_name = 'big'" pgq)
    row "postgresql views of the %d-job model (best of 3, by psql, whose own start takes %.0f ms): pdr_progress_v %.0f ms | pdr_failures_v %.0f ms | pdr_workers_v %.0f ms | pdr_jobs_v running jobs %.0f ms | COUNT(*) of pdr_jobs_v %.0f ms" \
      "$reg_points" "${pgv[client]}" "${pgv[progress]}" "${pgv[failures]}" "${pgv[workers]}" "${pgv[running]}" "${pgv[count]}"
  fi
  if [[ $db != mysql-relaxed ]]; then
    floor[$db]=$(floor_copy "$db")
    row "%-13s floor: the database copying those %d parameter and job rows into empty twins with the same keys: %.1f s" \
      "$db" "$reg_points" "${floor[$db]}"
  fi
done

registration_targets() {
  check "registration of $reg_points points <= 10 s on SQLite ($(fmt "${reg[sqlite]}" 1) s; the database's own copy of the rows $(fmt "${floor[sqlite]}" 1) s)" "${reg[sqlite]} <= 10"
  check "registration of $reg_points points <= 20 s on MariaDB (durable $(fmt "${reg[mysql]}" 1) s, relaxed $(fmt "${reg[mysql-relaxed]}" 1) s, its own copy of the rows $(fmt "${floor[mysql]}" 1) s; PostgreSQL $(fmt "${reg[postgresql]}" 1) s, copy $(fmt "${floor[postgresql]}" 1) s)" \
    "${reg[mysql]} <= 20"
  check "every monitoring view of one model <= 100 ms at $reg_points jobs on MariaDB (worst $(fmt "${views[worst]}" 0) ms)" \
    "${views[worst]} <= 100"
  check "--dry-run of $reg_points points <= 2 s within 200 MB ($(fmt "$dry") s, $((dry_rss / 1024)) MB)" \
    "$dry <= 2 && $dry_rss <= 204800"
  check "status <= 100 ms (SQLite $(fmt "${stat[sqlite]}" 0) ms, MariaDB $(fmt "${stat[mysql]}" 0) ms, PostgreSQL $(fmt "${stat[postgresql]}" 0) ms, where psql connecting as pdr_run does, over TCP with SCRAM, and running SELECT 1 takes $(fmt "${pgv[tcp]}" 0) ms)" \
    "${stat[sqlite]} <= 100 && ${stat[mysql]} <= 100 && ${stat[postgresql]} <= 100"
}
if [[ "${BENCH_ONLY:-}" == registration ]]; then
  echo
  echo "pdr_run bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), MariaDB $(sqlq 'SELECT VERSION()'), PostgreSQL $(pgq 'SHOW server_version')): registration, status and views"
  printf '%s\n' "${rows[@]}"
  echo
  echo "targets:"
  registration_targets
  exit 0
fi

# Connections and memory of the runner (MariaDB, 4 workers): the grid is registered first, so
# the worker's RSS is the runner's alone, not the registration's (which holds the grid's points).
run_worker() {  # model jobs -> "seconds peak_rss_kb"
  local model=$1 jobs=$2 t0 t1
  fresh_mysql
  env "${mysql_env[@]}" "$PDR" --config "$tmp/cfg.yaml" --model-name "$model" --register-only $(grid_flags "$jobs") \
    >/dev/null 2>&1
  t0=$(now)
  env "${mysql_env[@]}" /usr/bin/time -f "%M" -o "$tmp/rss" "$PDR" worker --config "$tmp/cfg.yaml" \
    --model-name "$model" --parallel --workers 4 >"$tmp/out" 2>"$tmp/err" ||
    { echo "bench: worker failed:" >&2; tail -5 "$tmp/err" >&2; exit 1; }
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc -l) $(cat "$tmp/rss")"
}
: >"$tmp/conns"
( while :; do
    sqlq "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'pdr'" >>"$tmp/conns" 2>/dev/null || true
    sleep 0.1
  done ) &
poller=$!
read -r secs_big rss_big < <(run_worker rssbig "$RSS_BIG")
kill "$poller" 2>/dev/null || true
wait "$poller" 2>/dev/null || true
peak_conn=$(sort -n "$tmp/conns" | tail -1)
read -r secs_small rss_small < <(run_worker rsssmall 1000)
row "mysql   worker, %d jobs, 4 workers: peak %d database connections (target <= 3); peak RSS %d KiB" \
  "$RSS_BIG" "$peak_conn" "$rss_big"
row "mysql   worker peak RSS at 1000 jobs %d KiB vs %d jobs %d KiB (%+.1f %%)" "$rss_small" "$RSS_BIG" "$rss_big" \
  "$(echo "($rss_big - $rss_small) * 100 / $rss_small" | bc -l)"

echo
echo "pdr_run bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), MariaDB $(sqlq 'SELECT VERSION()'), PostgreSQL $(pgq 'SHOW server_version'))"
printf '%s\n' "${rows[@]}"
echo
echo "targets:"
chain_targets
check "overhead <= 2 ms per job on every database (worst $(fmt "$max_overhead") ms)" "$max_overhead <= 2"
check ">= 1000 completions/s on MariaDB from 4 processes x 4 workers ($(fmt "$multi_rate" 1)/s)" "$multi_rate >= 1000"
dbpath_targets
registration_targets
check "connections <= 3 per process whatever the workers (peak $peak_conn for 4 workers)" "$peak_conn <= 3"
check "RSS flat within 10 % (1000 vs $(jobs_of "$RSS_BIG") jobs)" "($rss_big - $rss_small) * 100 / $rss_small <= 10"
report_targets
