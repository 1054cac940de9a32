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

NAME=dockerd
ENV_VAR=DOCKER_HOST
STATE_DIR="${DP_DOCKERD_DIR:-/tmp/dp-dockerd}"
SOCK="$STATE_DIR/docker.sock"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="$STATE_DIR/dockerd.log"
STATE_SUBDIRS=(data exec)
WAIT_SECONDS="${DP_DOCKERD_TIMEOUT:-60}"

# shellcheck source=service.sh
. "$(dirname "${BASH_SOURCE[0]}")/service.sh"

install_if_missing() {
  if command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then return 0; fi
  apt_install docker.io
}

launch() {
  local dockerd_bin
  dockerd_bin="$(command -v dockerd || echo /usr/sbin/dockerd)"
  # setsid: the daemon must outlive the shell (and process group) that started it.
  setsid "$dockerd_bin" \
    --iptables=false --ip6tables=false --bridge=none \
    --storage-driver=vfs \
    --data-root "$STATE_DIR/data" \
    --exec-root "$STATE_DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "unix://$SOCK" \
    </dev/null >>"$LOG" 2>&1 &
}

# dockerd bind-mounts its data-root (and, with containers, more) and leaves
# them behind if it dies early.
startup_exited() { unmount_leftovers; }

# dockerd writes its pidfile late: a launcher that never got that far is not
# what stop_service kills.
startup_timed_out() {
  stop_service quiet
  kill -TERM "$1" 2>/dev/null || true
}

service_main "$@"
