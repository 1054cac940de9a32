#!/usr/bin/env bash
# Start, stop or describe a private Docker daemon for the tests.
#
#   bash .ci/dockerd.sh start   # install docker.io if needed, start, wait for /_ping
#   bash .ci/dockerd.sh env     # print DOCKER_HOST=unix://... (for eval/export)
#   bash .ci/dockerd.sh stop    # stop it and wait until it is gone
#   bash .ci/dockerd.sh status  # exit 0 when it answers /_ping
#
# Everything lives under one state directory, DP_DOCKERD_DIR (default
# /tmp/dp-dockerd): data-root, exec-root, pidfile, socket and log. The daemon
# runs without networking (no bridge, no iptables) on the vfs storage driver,
# which works inside containers and on any filesystem; it is only used to
# save/load/tag images, never to run containers. Start and stop are
# idempotent. Needs root (dockerd does).
set -euo pipefail

STATE_DIR="${DP_DOCKERD_DIR:-/tmp/dp-dockerd}"
SOCK="$STATE_DIR/docker.sock"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="$STATE_DIR/dockerd.log"
WAIT_SECONDS="${DP_DOCKERD_TIMEOUT:-60}"

say() { echo "dockerd.sh: $*" >&2; }

# Print the pid of our daemon if it is alive, else nothing.
running_pid() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

# Exit 0 when the socket answers GET /_ping with OK.
ping_ok() {
  [ -S "$SOCK" ] || return 1
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s -m 3 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" = "OK" ]
  else
    node -e '
      const req = require("http").get({ socketPath: process.argv[1], path: "/_ping", timeout: 3000 },
        (res) => { let b = ""; res.on("data", (c) => (b += c));
                   res.on("end", () => process.exit(b === "OK" ? 0 : 1)); });
      req.on("error", () => process.exit(1)); req.on("timeout", () => process.exit(1));
    ' "$SOCK"
  fi
}

install_if_missing() {
  if command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then return 0; fi
  say "dockerd not found: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  # stdout carries only the DOCKER_HOST line: apt's chatter goes to stderr.
  apt-get update -qq >&2
  apt-get install -y -qq docker.io >&2
}

# dockerd bind-mounts its data-root (and, with containers, more) and leaves
# them behind if it dies early: unmount whatever is left under the state dir.
unmount_leftovers() {
  local mnt
  # /proc/self/mounts escapes spaces as \040; our paths have none.
  awk -v dir="$STATE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
}

print_env() { echo "DOCKER_HOST=unix://$SOCK"; }

start() {
  if [ -n "$(running_pid)" ] && ping_ok; then
    say "already running (pid $(running_pid))"
    print_env
    return 0
  fi
  # A daemon that is alive but does not answer, or stale files: start afresh.
  stop_daemon quiet
  install_if_missing
  local dockerd_bin
  dockerd_bin="$(command -v dockerd || echo /usr/sbin/dockerd)"
  mkdir -p "$STATE_DIR/data" "$STATE_DIR/exec"
  rm -f "$SOCK"
  : >"$LOG"
  # setsid: the daemon must outlive the shell (and process group) that started it.
  setsid "$dockerd_bin" \
    --iptables=false --ip6tables=false --bridge=none \
    --storage-driver=vfs \
    --data-root "$STATE_DIR/data" \
    --exec-root "$STATE_DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "unix://$SOCK" \
    </dev/null >>"$LOG" 2>&1 &
  local launcher=$!
  local waited=0
  while ! ping_ok; do
    # (setsid may fork, so the launcher can exit while the daemon lives on.)
    if ! kill -0 "$launcher" 2>/dev/null && [ -z "$(running_pid)" ]; then
      say "dockerd exited during startup; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      unmount_leftovers
      return 1
    fi
    if [ "$waited" -ge $((WAIT_SECONDS * 2)) ]; then
      say "dockerd did not answer /_ping within ${WAIT_SECONDS}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      stop_daemon quiet
      kill -TERM "$launcher" 2>/dev/null || true
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "started (pid $(running_pid)), log in $LOG"
  print_env
}

# Stop our daemon (TERM, then KILL after 30 s) and wait until it is gone.
stop_daemon() {
  local pid
  pid="$(running_pid)"
  if [ -z "$pid" ]; then
    [ "${1:-}" = quiet ] || say "not running"
    rm -f "$PIDFILE" "$SOCK"
    unmount_leftovers
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) ignored TERM for 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PIDFILE" "$SOCK"
  unmount_leftovers
  [ "${1:-}" = quiet ] || say "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemon ;;
  env) print_env ;;
  status) ping_ok ;;
  *)
    echo "usage: bash .ci/dockerd.sh start|stop|env|status" >&2
    exit 2
    ;;
esac
