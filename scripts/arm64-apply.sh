#!/usr/bin/env bash
# arm64-apply.sh — make a patch for a real image pair with the host's (x86-64) Node, apply it with an
# arm64 Node under qemu-user emulation in a memory cgroup, and check the output is byte-identical.
#
#   scripts/arm64-apply.sh [--keep] [--work-dir DIR] [PAIR]      PAIR: nginx-shared (default) or small
#
# Steps: unpack ../shared/images/PAIR.tar.zst (DP_SHARED_DIR overrides ../shared) into the work dir,
# build if dist/ or build/diffcore.wasm is missing or older than src/ or assembly/ (npm run build),
#   node bin/docker-patcher.js create OLD NEW PATCH --quiet                          (host node)
#   ARM64_MEM=${ARM64_MEM:-320M} arm64-node.sh bin/docker-patcher.js apply OLD NEW_ID PATCH -o OUT
#   cmp OUT NEW
# and print: the arm64 node's process.arch and version, the create and apply times, the apply's
# "arm64-node: cgroup limit ..., peak ..." line and, where /usr/bin/time exists, qemu's max RSS.
# Exits non-zero on any failure (an OOM kill shows as exit 137 in the peak line).
#
# Reading the memory figures: on a cgroup v1 host the cgroup's peak counts page cache too (reading
# OLD, writing OUT), so a run that succeeds close to the limit reports "peak 320 MiB": the kernel
# reclaimed cache, not the process's memory. qemu's max RSS is the process's own peak (guest node
# plus qemu's own: translated code, and ~60 MB of page descriptors per WebAssembly memory).
#
# Work dir: a new temp dir, removed at the end unless --keep, also on failure and on SIGINT/SIGTERM;
# named with the script's pid, so a later run removes the dirs of runs that were SIGKILLed. --work-dir
# DIR uses DIR and keeps it (the caller owns it: the test reads OUT and NEW there). Files in it: OLD
# and NEW as unpacked, patch, out.tar.
# Needs: zstd, root (for the memory cgroup), and whatever ../shared/tools/arm64-node.sh sets up on
# its first run (qemu-user-static from apt, an arm64 node from npm, ~7 s and ~165 MB; see its header).
# ARM64_NODE_VERSION and QEMU_CPU pass through to it.
# Time on the 2-core dev machine: small ~10 s, nginx-shared ~30 s (create ~7 s, apply ~15-25 s under
# emulation); both run in test/arm64/arm64-apply.test.ts.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${DP_SHARED_DIR:-$ROOT/../shared}
TOOL=$SHARED/tools/arm64-node.sh
MEM=${ARM64_MEM:-320M}
keep=0 work='' pair=nginx-shared

die() { echo "arm64-apply: FAIL: $*" >&2; exit 1; }
say() { echo "arm64-apply: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1 ;;
    --work-dir) [ $# -ge 2 ] || die "--work-dir needs a directory"; work=$2; keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) pair=$1 ;;
  esac
  shift
done

archive=$SHARED/images/$pair.tar.zst
[ -f "$archive" ] || die "no image pair $archive (PAIR is nginx-shared or small; the shared dir sits beside the repo, or set DP_SHARED_DIR)"
[ -x "$TOOL" ] || [ -f "$TOOL" ] || die "no $TOOL"
command -v zstd >/dev/null || die "zstd is not installed (apt-get install zstd)"
[ "$(id -u)" = 0 ] || die "ARM64_MEM needs root (arm64-node.sh makes a memory cgroup)"

# Work dirs of earlier runs whose process is gone (killed before their trap could run).
for stale in "${TMPDIR:-/tmp}"/dp-arm64-[0-9]*-*; do
  [ -d "$stale" ] || continue
  pid=${stale##*/dp-arm64-}; pid=${pid%%-*}
  kill -0 "$pid" 2>/dev/null || rm -rf "$stale"
done
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/dp-arm64-$$-XXXXXX"); else mkdir -p "$work"; fi
work=$(cd "$work" && pwd)
cleanup() { if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
# A signal ends the script through `exit`, so the EXIT trap removes the work dir.
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$ROOT"
t_all=$(now)

# --- build, only if something is missing or older than its sources ---
stale=0
for f in dist/cli/main.js build/diffcore.wasm; do [ -f "$f" ] || stale=1; done
[ -d node_modules ] || { say "installing dependencies (npm ci)"; npm ci --no-audit --no-fund >&2; stale=1; }
if [ "$stale" = 0 ] && [ -n "$(find src -newer dist/cli/main.js -print -quit)$(find assembly -newer build/diffcore.wasm -print -quit)" ]; then stale=1; fi
if [ "$stale" = 1 ]; then say "building (npm run build)"; npm run --silent build >&2 || die "npm run build failed"; fi

# --- unpack the pair ---
zstd -q -d --long=28 -c "$archive" | tar -xf - -C "$work" || die "could not unpack $archive"
old=$(find "$work" -maxdepth 1 -name '*-old.tar' | head -1)
new=$(find "$work" -maxdepth 1 -name '*-new.tar' | head -1)
[ -n "$old" ] && [ -n "$new" ] || die "$archive holds no *-old.tar / *-new.tar"
patch=$work/patch out=$work/out.tar
say "pair $pair: $(basename "$old") ($(stat -c %s "$old") B) -> $(basename "$new") ($(stat -c %s "$new") B), work dir $work"

# --- the arm64 node (first run sets it up) ---
arch=$("$TOOL" -p 'process.arch + " " + process.version') || die "arm64-node.sh cannot run an arm64 node"
say "arm64 node: process.arch=${arch%% *} ${arch#* } (qemu: $(qemu-aarch64-static --version 2>/dev/null | head -1 | sed 's/ *Copyright.*//'))"
[ "${arch%% *}" = arm64 ] || die "arm64-node.sh runs a node whose process.arch is ${arch%% *}, not arm64"

# --- create with the host node ---
t=$(now)
node bin/docker-patcher.js create "$old" "$new" "$patch" --quiet || die "create failed"
new_id=$(node bin/docker-patcher.js inspect --json "$patch" | node -e \
  'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).newImageId))') ||
  die "inspect --json failed"
say "create (host node $(node -p 'process.arch + " " + process.version')): $(since "$t") s, patch $(stat -c %s "$patch") B, new image $new_id"

# --- apply with the arm64 node in a memory cgroup ---
log=$work/apply.stderr rss=$work/apply.rss
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -o "$rss" -f %M)
t=$(now)
set +e
ARM64_MEM=$MEM "${timer[@]}" "$TOOL" bin/docker-patcher.js apply "$old" "$new_id" "$patch" -o "$out" 2> >(tee "$log" >&2)
rc=$?
set -e
wait   # for tee
elapsed=$(since "$t")
peak=$(grep -h '^arm64-node: cgroup' "$log" | tail -1 || true)
say "apply (arm64 node under qemu, ARM64_MEM=$MEM): $elapsed s, exit $rc"
say "memory: ${peak:-no cgroup peak line from arm64-node.sh}"
if [ -s "$rss" ] && grep -qx '[0-9]*' <(tail -1 "$rss"); then
  say "memory: qemu max RSS $(( $(tail -1 "$rss") / 1024 )) MiB (guest node + qemu itself, incl. file-mapped pages not charged to the cgroup)"
fi
[ "$rc" = 0 ] || die "apply under arm64 exited $rc$([ "$rc" = 137 ] && echo ' (killed: out of memory in the cgroup?)')"
[ -n "$peak" ] || die "arm64-node.sh printed no cgroup peak line (was the memory cgroup made?)"
[ -f "$out" ] || die "apply wrote no $out"
cmp "$out" "$new" || die "$out differs from $(basename "$new")"
say "OK: $pair output is byte-identical to $(basename "$new") ($(stat -c %s "$out") B); total $(since "$t_all") s"
