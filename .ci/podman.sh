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

NAME=podman
ENV_VAR=DP_PODMAN_HOST
STATE_DIR="${DP_PODMAN_DIR:-/tmp/dp-podman}"
SOCK="$STATE_DIR/podman.sock"
PIDFILE="$STATE_DIR/podman.pid"
LOG="$STATE_DIR/podman.log"
STATE_SUBDIRS=(root runroot tmp libpod-tmp volumes networks)
WAIT_SECONDS="${DP_PODMAN_TIMEOUT:-60}"

# shellcheck source=service.sh
. "$(dirname "${BASH_SOURCE[0]}")/service.sh"

install_if_missing() {
  if command -v podman >/dev/null 2>&1; then return 0; fi
  apt_install podman
}

launch() {
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
}

# The service died before answering: drop its pidfile and socket too.
startup_exited() {
  rm -f "$PIDFILE" "$SOCK"
  unmount_leftovers
}

# The pidfile names podman from the start, so stopping it is enough.
startup_timed_out() { stop_service quiet; }

service_main "$@"
