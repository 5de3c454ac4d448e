#!/usr/bin/env bash
# A throwaway one-node Slurm cluster for tests, from Debian's slurm-wlm and munge (as root).
#
#   scripts/slurm.sh start DIR   writes DIR/slurm.conf, starts munged (own key and socket),
#                                slurmctld and slurmd on free ports, waits until the node is
#                                idle, and writes DIR/env (SLURM_CONF=...)
#   scripts/slurm.sh stop DIR    stops the daemons by their pid files (never by name)
# Every Slurm command of a test must run with SLURM_CONF=DIR/slurm.conf.
set -euo pipefail

cmd=${1:?usage: slurm.sh start|stop DIR}
dir=${2:?usage: slurm.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "slurm.sh: no free port found" >&2
  exit 1
}

stop() {
  for d in slurmd slurmctld munged; do
    if [[ -f "$dir/$d.pid" ]]; then
      local pid
      pid=$(cat "$dir/$d.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/$d.pid"
    fi
  done
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "slurm.sh: unknown command $cmd" >&2; exit 2 ;;
esac

if [[ $(id -u) -ne 0 ]]; then echo "slurm.sh: needs root (slurmd runs jobs as their user)" >&2; exit 2; fi
for p in munged slurmctld slurmd sbatch sinfo; do
  command -v "$p" >/dev/null || { echo "slurm.sh: $p is not installed (./scripts/setup.sh installs it)" >&2; exit 2; }
done

host=$(hostname -s)
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 0700 "$dir/munge"
[[ -f "$dir/munge/munge.key" ]] || mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 0600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
  --log-file="$dir/munge/munged.log" --pid-file="$dir/munged.pid" --seed-file="$dir/munge/munged.seed"

write_conf() {
  cat >"$dir/slurm.conf" <<CONF
ClusterName=pdrtest
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdParameters=config_overrides
# More CPUs than the machine has: tests run several array tasks of several workers at once.
NodeName=$host CPUs=16 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

# Answers on 127.0.0.1:$1 (both daemons listen on every address).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A daemon's pid file and process, or nothing.
running() { [[ -f "$dir/$1.pid" ]] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }
# Its process runs, its port answers, and it did not find that port taken (a daemon that cannot
# bind retries for a while, while a server of another test answers there).
up() { running "$1" && listening "$2" && ! grep -qs "Address already in use" "$dir/$1.log"; }
stop_daemon() {
  if [[ -f "$dir/$1.pid" ]]; then kill -KILL "$(cat "$dir/$1.pid")" 2>/dev/null || true; rm -f "$dir/$1.pid"; fi
}

# A free port is only free when it is looked at: a server another test starts at the same time
# may take it first, and a daemon that cannot bind its port exits ("Address already in use").
# Each daemon is started on fresh ports until it listens (then a Slurm command that waits for a
# controller that is not there would block a test for many minutes).
export SLURM_CONF="$dir/slurm.conf"
echo "SLURM_CONF=$SLURM_CONF" >"$dir/env"
for try in 1 2 3 4 5; do
  ctl_port=$(free_port)
  d_port=$(free_port)
  write_conf
  stop_daemon slurmctld
  rm -f "$dir/slurmctld.log" "$dir/slurmd.log"
  slurmctld
  for _ in $(seq 1 50); do up slurmctld "$ctl_port" && break; sleep 0.1; done
  sleep 0.3  # a daemon that found its port taken (by a server that now answers there) exits
  up slurmctld "$ctl_port" || { stop_daemon slurmctld; continue; }
  stop_daemon slurmd
  slurmd
  for _ in $(seq 1 50); do up slurmd "$d_port" && break; sleep 0.1; done
  sleep 0.3
  if up slurmd "$d_port"; then break; fi
  stop_daemon slurmd
  stop_daemon slurmctld
done
if ! running slurmctld || ! running slurmd; then
  echo "slurm.sh: slurmctld or slurmd did not start on free ports in 5 tries; see $dir/slurmctld.log and $dir/slurmd.log" >&2
  exit 1
fi
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
  state=$(timeout 5 sinfo -h -n "$host" -o %t 2>/dev/null || true)
  if [[ "$state" == idle* ]]; then exit 0; fi
  sleep 0.1
done
echo "slurm.sh: the node did not become idle in 60 s (state '${state:-none}'); see $dir/slurmctld.log and $dir/slurmd.log" >&2
exit 1
