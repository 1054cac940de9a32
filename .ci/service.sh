# Shared start/stop/wait/status logic for the private daemons of the tests;
# sourced (not run) by .ci/dockerd.sh and .ci/podman.sh.
#
# The sourcing script sets, before calling service_main "$@":
#   NAME          dockerd | podman: messages say "$NAME.sh: ..." and "$NAME ..."
#   ENV_VAR       the variable `env` prints, as ENV_VAR=unix://$SOCK
#   STATE_DIR     where everything lives; SOCK, PIDFILE and LOG inside it
#   STATE_SUBDIRS directories (under STATE_DIR) to create before a start
#   WAIT_SECONDS  how long a start waits for /_ping
# and defines:
#   install_if_missing   install the daemon's package when it is not there
#   launch               start the daemon in the background (so $! is the
#                        launcher), detached with setsid, output to $LOG
#   startup_exited       clean up after the launcher died before answering
#   startup_timed_out P  clean up after no /_ping answer in time (P = launcher)

say() { echo "$NAME.sh: $*" >&2; }

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

# Install Debian package $1 for the missing $NAME.
apt_install() {
  say "$NAME not found: installing Debian's $1"
  export DEBIAN_FRONTEND=noninteractive
  # stdout carries only the $ENV_VAR line: apt's chatter goes to stderr.
  apt-get update -qq >&2
  apt-get install -y -qq "$1" >&2
}

# The daemon may bind-mount under the state dir and leave the mounts behind
# if it dies early: unmount whatever is left there, deepest first.
unmount_leftovers() {
  local mnt
  # /proc/self/mounts escapes spaces as \040; our paths have none.
  awk -v dir="$STATE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
}

print_env() { echo "$ENV_VAR=unix://$SOCK"; }

start() {
  if [ -n "$(running_pid)" ] && ping_ok; then
    say "already running (pid $(running_pid))"
    print_env
    return 0
  fi
  # A daemon that is alive but does not answer, or stale files: start afresh.
  stop_service quiet
  install_if_missing
  mkdir -p "${STATE_SUBDIRS[@]/#/$STATE_DIR/}"
  rm -f "$SOCK"
  : >"$LOG"
  launch
  local launcher=$!
  local waited=0
  while ! ping_ok; do
    # (setsid may fork, so the launcher can exit while the daemon lives on.)
    if ! kill -0 "$launcher" 2>/dev/null && [ -z "$(running_pid)" ]; then
      say "$NAME exited during startup; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      startup_exited
      return 1
    fi
    if [ "$waited" -ge $((WAIT_SECONDS * 2)) ]; then
      say "$NAME did not answer /_ping within ${WAIT_SECONDS}s; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      startup_timed_out "$launcher"
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "started (pid $(running_pid)), log in $LOG"
  print_env
}

# Stop our daemon (TERM, then KILL after 30 s) and wait until it is gone.
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
    say "$NAME (pid $pid) ignored TERM for 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PIDFILE" "$SOCK"
  unmount_leftovers
  [ "${1:-}" = quiet ] || say "stopped (pid $pid)"
}

service_main() {
  case "${1:-}" in
    start) start ;;
    stop) stop_service ;;
    env) print_env ;;
    status) ping_ok ;;
    *)
      echo "usage: bash .ci/$NAME.sh start|stop|env|status" >&2
      exit 2
      ;;
  esac
}
