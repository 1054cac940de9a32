#!/usr/bin/env bash
# Start, stop or describe a private Docker Engine 26.1.5 with the containerd
# image store (the store Docker 29 uses by default) for the tests.
#
#   bash .ci/dockerd26.sh start   # fetch it if needed, start, wait for /_ping
#   bash .ci/dockerd26.sh env     # print DP_DOCKERD26_HOST=unix://... (for eval/export)
#   bash .ci/dockerd26.sh stop    # stop it and wait until it is gone
#   bash .ci/dockerd26.sh status  # exit 0 when it answers /_ping
#   bash .ci/dockerd26.sh fetch   # only download + unpack (CI runs it early, in the background)
#
# The daemon comes from shared/tools/docker-containerd-store.sh (Debian
# trixie's docker.io 26.1.5 and containerd 1.7.24, unpacked into a cache, no
# system install; needs runc and Debian's mirror): shared/ is DP_SHARED_DIR,
# else ../shared next to this clone. Everything lives under one state
# directory, DP_DOCKERD26_DIR (default /tmp/dp-dockerd26): data-root,
# exec-root (so its own containerd socket and state), pidfile, socket and
# log. It coexists with the classic dockerd of .ci/dockerd.sh: each starts
# its own containerd under its own exec-root. No networking (no bridge, no
# iptables): containers run with --network none. Needs root.
set -euo pipefail

NAME=dockerd26
ENV_VAR=DP_DOCKERD26_HOST
STATE_DIR="${DP_DOCKERD26_DIR:-/tmp/dp-dockerd26}"
SOCK="$STATE_DIR/docker.sock"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="$STATE_DIR/dockerd.log"
STATE_SUBDIRS=(data exec)
WAIT_SECONDS="${DP_DOCKERD26_TIMEOUT:-60}"

# shellcheck source=service.sh
. "$(dirname "${BASH_SOURCE[0]}")/service.sh"

tool() {
  local shared="${DP_SHARED_DIR:-$(dirname "${BASH_SOURCE[0]}")/../../shared}"
  local path="$shared/tools/docker-containerd-store.sh"
  if [ ! -f "$path" ]; then
    say "no $path: set DP_SHARED_DIR to the shared/ directory"
    return 1
  fi
  echo "$path"
}

# Download and unpack once (about 40 s, 56 MB), before the /_ping clock starts.
install_if_missing() {
  command -v curl >/dev/null 2>&1 || apt_install curl
  bash "$(tool)" bin >/dev/null
}

launch() {
  # The tool starts dockerd with nohup, waits for /_ping itself and writes
  # dockerd's output to $LOG; setsid detaches it from our process group.
  setsid bash "$(tool)" start "$STATE_DIR" </dev/null >>"$STATE_DIR/launcher.log" 2>&1 &
}

# dockerd may have created its managed containerd's state before dying.
startup_exited() {
  tail -n 5 "$STATE_DIR/launcher.log" >&2 || true
  unmount_leftovers
}

# The launcher gives up after 30 s; dockerd writes its pidfile early.
startup_timed_out() {
  stop_service quiet
  kill -TERM "$1" 2>/dev/null || true
}

if [ "${1:-}" = fetch ]; then install_if_missing; exit 0; fi
service_main "$@"
