#!/usr/bin/env bash
# Start, stop or describe a private local registry for the tests: Debian's
# docker-registry (distribution 2.8), plain http on 127.0.0.1 only.
#
#   bash .ci/registry.sh start   # install docker-registry if needed, start, wait for /v2/
#   bash .ci/registry.sh env     # print DP_REGISTRY=127.0.0.1:PORT (for eval/export)
#   bash .ci/registry.sh stop    # stop it and wait until it is gone
#   bash .ci/registry.sh status  # exit 0 when it answers GET /v2/
#
# Everything lives under one state directory, DP_REGISTRY_DIR (default
# /tmp/dp-registry): config, filesystem blob store, pidfile and log. Port
# DP_REGISTRY_PORT (default 5055, the port the shared registry-gz pair was
# pushed to). No auth, no TLS: dockerd treats 127.0.0.0/8 registries as
# insecure-allowed, so push and pull work over http. Deletes are enabled so
# tests can clean up. Start and stop are idempotent.
set -euo pipefail

NAME=registry
ENV_VAR=DP_REGISTRY
STATE_DIR="${DP_REGISTRY_DIR:-/tmp/dp-registry}"
PORT="${DP_REGISTRY_PORT:-5055}"
# Node's fetch (the tests' readiness checks) refuses the Fetch standard's "bad ports".
case "$PORT" in
  5060 | 5061 | 6000 | 6566 | 6665 | 6666 | 6667 | 6668 | 6669 | 6697 | 10080)
    echo "registry.sh: port $PORT is one Node's fetch refuses to connect to; pick another DP_REGISTRY_PORT" >&2
    exit 2 ;;
esac
SOCK="$STATE_DIR/unused.sock" # service.sh removes it; the registry listens on TCP
PIDFILE="$STATE_DIR/registry.pid"
LOG="$STATE_DIR/registry.log"
STATE_SUBDIRS=(store)
WAIT_SECONDS="${DP_REGISTRY_TIMEOUT:-30}"

# shellcheck source=service.sh
. "$(dirname "${BASH_SOURCE[0]}")/service.sh"

# A registry answers GET /v2/ with 200 and `{}` (no auth configured).
ping_ok() {
  [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/" 2>/dev/null)" = 200 ]
}

print_env() { echo "$ENV_VAR=127.0.0.1:$PORT"; }

install_if_missing() {
  command -v curl >/dev/null 2>&1 || apt_install curl
  if command -v docker-registry >/dev/null 2>&1; then return 0; fi
  apt_install docker-registry
}

write_config() {
  cat >"$STATE_DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/store
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
YAML
}

launch() {
  write_config
  # setsid: outlive the starting shell. The inner shell writes its own pid
  # and execs the registry, so the pidfile names the registry itself.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    docker-registry serve "$STATE_DIR/config.yml" \
    </dev/null >>"$LOG" 2>&1 &
}

startup_exited() { rm -f "$PIDFILE"; }

startup_timed_out() { stop_service quiet; }

service_main "$@"
