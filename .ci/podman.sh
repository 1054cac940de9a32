#!/usr/bin/env bash
# Start, stop or describe a private podman API service (Docker-compatible)
# for the tests.
#
#   bash .ci/podman.sh start   # install podman if needed, start, wait for /_ping
#   bash .ci/podman.sh env     # print DP_PODMAN_HOST=unix://... (for eval/export)
#   bash .ci/podman.sh stop    # stop it and wait until it is gone
#   bash .ci/podman.sh status  # exit 0 when it answers /_ping
#
# Everything lives under one state directory, DP_PODMAN_DIR (default
# /tmp/dp-podman): storage root, run root, libpod tmpdir, volume and network
# config dirs, TMPDIR (where podman spools an uploaded archive), pidfile,
# socket and log, so it never touches /var/lib/containers or another podman
# on the machine. (One exception, podman 4.3: while it probes a load as an
# oci-archive it unpacks into /var/tmp/ociNNN whatever TMPDIR or
# containers.conf say, and removes it at once.) vfs
# storage driver (works inside containers and on any filesystem), file
# events backend, cgroupfs; it is only used to load/inspect/tag images, never
# to run containers. Start and stop are idempotent. Needs root.
set -euo pipefail

STATE_DIR="${DP_PODMAN_DIR:-/tmp/dp-podman}"
SOCK="$STATE_DIR/podman.sock"
PIDFILE="$STATE_DIR/podman.pid"
LOG="$STATE_DIR/podman.log"
WAIT_SECONDS="${DP_PODMAN_TIMEOUT:-60}"

say() { echo "podman.sh: $*" >&2; }

# Print the pid of our service if it is alive, else nothing.
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
  if command -v podman >/dev/null 2>&1; then return 0; fi
  say "podman not found: installing Debian's podman"
  export DEBIAN_FRONTEND=noninteractive
  # stdout carries only the DP_PODMAN_HOST line: apt's chatter goes to stderr.
  apt-get update -qq >&2
  apt-get install -y -qq podman >&2
}

# Anything mounted under the state dir (containers/storage may leave mounts
# if the service dies): unmount it, deepest first.
unmount_leftovers() {
  local mnt
  # /proc/self/mounts escapes spaces as \040; our paths have none.
  awk -v dir="$STATE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
}

print_env() { echo "DP_PODMAN_HOST=unix://$SOCK"; }

start() {
  if [ -n "$(running_pid)" ] && ping_ok; then
    say "already running (pid $(running_pid))"
    print_env
    return 0
  fi
  # A service that is alive but does not answer, or stale files: start afresh.
  stop_service quiet
  install_if_missing
  mkdir -p "$STATE_DIR/root" "$STATE_DIR/runroot" "$STATE_DIR/tmp" "$STATE_DIR/libpod-tmp" \
    "$STATE_DIR/volumes" "$STATE_DIR/networks"
  rm -f "$SOCK"
  : >"$LOG"
  # setsid: the service must outlive the shell (and process group) that
  # started it. The inner shell writes its own pid and then execs podman, so
  # the pidfile names podman whether or not setsid forked.
  TMPDIR="$STATE_DIR/tmp" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    podman \
    --root "$STATE_DIR/root" \
    --runroot "$STATE_DIR/runroot" \
    --tmpdir "$STATE_DIR/libpod-tmp" \
    --volumepath "$STATE_DIR/volumes" \
    --network-config-dir "$STATE_DIR/networks" \
    --storage-driver vfs \
    --events-backend file \
    --cgroup-manager cgroupfs \
    system service --time=0 "unix://$SOCK" \
    </dev/null >>"$LOG" 2>&1 &
  local launcher=$!
  local waited=0
  while ! ping_ok; do
    if ! kill -0 "$launcher" 2>/dev/null && [ -z "$(running_pid)" ]; then
      say "podman exited during startup; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      rm -f "$PIDFILE" "$SOCK"
      unmount_leftovers
      return 1
    fi
    if [ "$waited" -ge $((WAIT_SECONDS * 2)) ]; then
      say "podman did not answer /_ping within ${WAIT_SECONDS}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      stop_service quiet
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "started (pid $(running_pid)), log in $LOG"
  print_env
}

# Stop our service (TERM, then KILL after 30 s) and wait until it is gone.
stop_service() {
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
    say "podman (pid $pid) ignored TERM for 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PIDFILE" "$SOCK"
  unmount_leftovers
  [ "${1:-}" = quiet ] || say "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop_service ;;
  env) print_env ;;
  status) ping_ok ;;
  *)
    echo "usage: bash .ci/podman.sh start|stop|env|status" >&2
    exit 2
    ;;
esac
