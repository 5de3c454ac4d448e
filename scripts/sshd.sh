#!/usr/bin/env bash
# A throwaway sshd on loopback for the sftp storage tests, from Debian's openssh-server.
#
#   scripts/sshd.sh start DIR   host key, client key (DIR/client_key), authorized_keys and
#                               known_hosts (DIR/known_hosts) in DIR; sshd on a free port;
#                               writes DIR/env (PORT, PID, USER)
#   scripts/sshd.sh start DIR --password
#                               also password logins for the account pdr-sftp-test (created
#                               if missing, root only) with a fresh random password in
#                               DIR/password; env gets PASSWORD_USER
#   scripts/sshd.sh stop DIR    stops it by the pid in DIR/pid
set -euo pipefail

cmd=${1:?usage: sshd.sh start|stop DIR}
dir=${2:?usage: sshd.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

password_user=""
if [[ "${3:-}" == "--password" ]]; then
  if [[ $(id -u) -ne 0 ]]; then echo "sshd.sh: --password needs root (it creates a test account)" >&2; exit 2; fi
  password_user=pdr-sftp-test
  id "$password_user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh "$password_user"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password"
  chmod 600 "$dir/password"
  echo "$password_user:$(cat "$dir/password")" | chpasswd
fi

case "$cmd" in
  start)
    mkdir -p /run/sshd
    [[ -f "$dir/host_key" ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    [[ -f "$dir/client_key" ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    chmod 600 "$dir/authorized_keys"
    user=$(id -un)
    for _ in 1 2 3; do
      port=$((20000 + RANDOM % 30000))
      cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
CONF
      if [[ -n "$password_user" ]]; then
        printf 'Match User %s\n  PasswordAuthentication yes\n' "$password_user" >>"$dir/sshd_config"
      fi
      rm -f "$dir/pid"
      /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" || continue
      for _ in $(seq 1 100); do [[ -s "$dir/pid" ]] && break; sleep 0.05; done
      if [[ -s "$dir/pid" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
        printf 'PORT=%s\nPID=%s\nUSER=%s\nPASSWORD_USER=%s\n' "$port" "$(cat "$dir/pid")" "$user" "$password_user" \
          >"$dir/env"
        exit 0
      fi
    done
    echo "sshd.sh: sshd did not come up; see $dir/sshd.log" >&2
    exit 1
    ;;
  stop)
    [[ -f "$dir/pid" ]] && kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
  *) echo "sshd.sh: unknown command $cmd" >&2; exit 2 ;;
esac
