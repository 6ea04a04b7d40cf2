#!/usr/bin/env bash
# A Docker engine of the tests' own: dockerd with its data root, exec root, pid file and
# socket under one directory, no iptables, no bridge (containers use --network host).
#   engine.sh start DIR   start it, wait until it answers; prints DOCKER_HOST=unix://...
#   engine.sh stop DIR    stop it by its pid (TERM, then KILL after 20 s), remove DIR
# Exit 1 with one line saying why when it cannot start (not root, no dockerd, ...).
set -uo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || { echo "usage: engine.sh start|stop DIR" >&2; exit 64; }
sock="$dir/docker.sock"; pidfile="$dir/dockerd.pid"

case "$cmd" in
start)
  [ "$(id -u)" = 0 ] || { echo "dockerd needs root (uid $(id -u))"; exit 1; }
  command -v dockerd >/dev/null || { echo "no dockerd on PATH (Debian: apt-get install docker.io)"; exit 1; }
  command -v docker >/dev/null || { echo "no docker client on PATH"; exit 1; }
  mkdir -p "$dir/data" "$dir/exec"
  # Short paths: a unix socket path is limited to 108 bytes.
  setsid dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" -H "unix://$sock" \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 300); do
    if DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then echo "DOCKER_HOST=unix://$sock"; exit 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  why=$(grep -iE 'level=(fatal|error)' "$dir/dockerd.log" | tail -n 1 | sed -E 's/.*msg="?([^"]*)"?.*/\1/')
  kill "$pid" 2>/dev/null
  echo "dockerd did not start: ${why:-no answer on $sock within 30 s} (log: $dir/dockerd.log)"
  exit 1
  ;;
stop)
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  # Left by overlay2 and containerd under the data root; then the directory itself.
  grep -F " $dir/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$dir"
  ;;
*) echo "usage: engine.sh start|stop DIR" >&2; exit 64 ;;
esac
