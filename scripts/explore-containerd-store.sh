#!/usr/bin/env bash
# Reproduce the engine facts in docs/engines.md: how dockerd 26 with the
# containerd image store names, saves and loads images, next to the classic
# dockerd 20.10 and a local registry. Prints each command and its output.
#
#   bash .ci/dockerd.sh start; bash .ci/dockerd26.sh start; bash .ci/registry.sh start
#   bash scripts/explore-containerd-store.sh [shared/images/small.tar.zst]
#
# Uses DOCKER_HOST (classic), DP_DOCKERD26_HOST and DP_REGISTRY (defaults: the
# .ci scripts' addresses). It removes every dp-fixture/small:* and
# $DP_REGISTRY/dp-explore/small:* image from dockerd 26 (and pushes/pulls
# only those): run it on a dockerd 26 holding nothing else built on the small
# pair's layers, since a pull skips blobs whose layers are already unpacked.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PAIR="${1:-${DP_SHARED_DIR:-$ROOT/../shared}/images/small.tar.zst}"
D20="${DOCKER_HOST:-unix:///tmp/dp-dockerd/docker.sock}"
D26="${DP_DOCKERD26_HOST:-unix:///tmp/dp-dockerd26/docker.sock}"
REG="${DP_REGISTRY:-127.0.0.1:5055}"
REPO="$REG/dp-explore/small"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

d20() { DOCKER_HOST="$D20" docker "$@"; }
d26() { DOCKER_HOST="$D26" docker "$@"; }
api26() { curl -s --unix-socket "${D26#unix://}" "http://d/v1.45$1" "${@:2}"; }
step() { printf '\n### %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 || echo "(exit $?)"; }
# Copy tar $1 to $2 without the entries named in the rest (tar-stream, as the tool writes tars).
tar_minus() {
  DP_ROOT="$ROOT" node --input-type=module -e '
    import fs from "node:fs"; import { createRequire } from "node:module";
    import { pipeline } from "node:stream/promises";
    const tar = createRequire(process.env.DP_ROOT + "/package.json")("tar-stream");
    const [input, output, ...drop] = process.argv.slice(1);
    const extract = tar.extract(), pack = tar.pack();
    extract.on("entry", (h, s, next) => {
      if (drop.includes(h.name)) { s.resume(); s.on("end", next); } else s.pipe(pack.entry(h, next));
    });
    extract.on("finish", () => pack.finalize());
    await Promise.all([pipeline(fs.createReadStream(input), extract), pipeline(pack, fs.createWriteStream(output))]);
  ' "$@"
}
load26() { api26 /images/load -X POST -H 'Content-Type: application/x-tar' --data-binary "@$1"; echo; }
summary26() { api26 /images/json | jq -c '.[] | {Id, RepoTags, RepoDigests}'; }
blobs_of() { tar -tf "$1" | grep 'blobs/sha256/.' | while read -r b; do
  printf '%s %8s B  first bytes %s\n' "${b#blobs/sha256/}" "$(tar -xOf "$1" "$b" | wc -c)" "$(tar -xOf "$1" "$b" | head -c2 | od -An -tx1)"; done; }
# By name, not from `docker images`: images whose blobs are missing are not listed.
clean26() {
  local ref
  for ref in dp-fixture/small:v1 dp-fixture/small:v2 "$REPO:v1" "$REPO:v2" dp-explore/other:v2; do
    d26 rmi -f "$ref" >/dev/null 2>&1 || true
  done
}

zstd -d --long=28 -c "$PAIR" | tar -x
OLD_CFG=815ca3f24a1c48c1bf33e80d512e73899ad6038957e13068f9f1c4b52bd9169a
clean26

step "1. legacy docker-save archive (from dockerd 20.10) loaded into dockerd 26"
show d26 load -i small-old.tar
show summary26
show api26 /images/dp-fixture/small:v1/json -o inspect.json
jq -c '{Id, RepoDigests, Config: .Config | keys, Descriptor}' inspect.json
ID="$(jq -r .Id inspect.json)"
echo "the manifest dockerd 26 made up (compact JSON, uncompressed layer media types):"
d26 save dp-fixture/small:v1 -o v1-26.tar
tar -xOf v1-26.tar "blobs/sha256/${ID#sha256:}"; echo
show api26 /version -o version.json; jq -c '{Version, ApiVersion}' version.json

step "2. short and full IDs in dockerd 26: manifest digest vs config digest"
for ref in "${ID:7:12}" "$ID" "${OLD_CFG:0:12}" "sha256:$OLD_CFG"; do
  printf '%s -> %s\n' "$ref" "$(api26 "/images/$ref/json" | jq -c '.Id // .message')"
done
show api26 /images/dp-fixture/small:v1/history -o history.json; jq -c '.[0] | {Id}' history.json

step "3. docker save from dockerd 26 (loaded image)"
tar -tf v1-26.tar
tar -xOf v1-26.tar index.json; echo
blobs_of v1-26.tar

step "4. push from dockerd 20.10 to the registry, pull into dockerd 26"
d20 load -i small-old.tar >/dev/null; d20 load -i small-new.tar >/dev/null
for t in v1 v2; do d20 tag "dp-fixture/small:$t" "$REPO:$t"; show d20 push "$REPO:$t" | grep digest; done
d20 rmi "$REPO:v1" "$REPO:v2" >/dev/null
echo "with the loaded v1 still in dockerd 26 (its layers unpacked):"
show d26 pull -q "$REPO:v2"
show summary26
show d26 image inspect --format '{{.Id}} {{.RepoDigests}}' "$REPO:v2"
d26 save "$REPO:v2" -o skipped.tar; echo "its save:"; tar -tf skipped.tar
clean26
echo "after removing every image on those layers:"
show d26 pull -q "$REPO:v1"; show d26 pull -q "$REPO:v2"
show summary26
REG_V2="$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/dp-explore/small/manifests/v2" | sha256sum | cut -d' ' -f1)"
echo "registry's manifest for v2: sha256:$REG_V2"
show api26 "/distribution/$REPO:v2/json" -o dist.json; jq -c . dist.json

step "5. docker save from dockerd 26 (pulled image): gzip blobs, manifest as pulled"
d26 save "$REPO:v2" -o pulled-v2.tar
tar -xOf pulled-v2.tar index.json; echo
blobs_of pulled-v2.tar
printf 'saved manifest blob digest: sha256:%s\n' "$(tar -xOf pulled-v2.tar "blobs/sha256/$REG_V2" | sha256sum | cut -d' ' -f1)"

step "6. partial archives into dockerd 26"
SHARED=()
for i in 0 1 2; do SHARED+=("$(tar -xOf pulled-v2.tar manifest.json | jq -r ".[0].Layers[$i]")"); done
tar_minus pulled-v2.tar part-oci.tar "${SHARED[@]}"
d26 rmi "$REPO:v2" >/dev/null
echo "OCI layout without the 3 gzip blobs v1 (pulled, listed) holds:"
show load26 part-oci.tar
show summary26
echo "its save has $(d26 save "$REPO:v2" | tar -t | grep -c 'blobs/sha256/.') blobs"
NEW_DIRS=()
for i in 0 1 2; do d="$(tar -xOf small-new.tar manifest.json | jq -r ".[0].Layers[$i]")"; d="${d%/layer.tar}"; NEW_DIRS+=("$d/" "$d/VERSION" "$d/json" "$d/layer.tar"); done
tar_minus small-new.tar part-legacy.tar "${NEW_DIRS[@]}"
echo "legacy layout without the 3 shared layers (v1 present):"
show load26 part-legacy.tar
clean26
d26 load -i small-old.tar >/dev/null
echo "the same partial OCI layout when only the LOADED v1 is there (same layers, plain blobs):"
show load26 part-oci.tar
show summary26
show d26 run --rm --network none --entrypoint /bin/cat "$REPO:v2" /app/BUILD
echo "its save:"; d26 save "$REPO:v2" | tar -t
clean26
echo "the same partial OCI layout into a store without those blobs or layers:"
show load26 part-oci.tar

clean26
echo "a legacy archive loaded while the pulled (gzip) v1 is there:"
show d26 pull -q "$REPO:v1"
show d26 load -i small-old.tar
show summary26
d26 save dp-fixture/small:v1 -o v1-again.tar; blobs_of v1-again.tar

step "7. full OCI layout, blobs as the registry has them, into dockerd 26"
clean26
show load26 pulled-v2.tar
show d26 images --digests
show d26 run --rm --network none --entrypoint /bin/cat "$REPO@sha256:$REG_V2" /app/BUILD
d26 tag "$REPO:v2" dp-explore/other:v2; d26 rmi "$REPO:v2" >/dev/null
echo "under another name only:"
show summary26
show api26 "/images/$REPO@sha256:$REG_V2/json" -o other.json; jq -c '.Id // .message' other.json
clean26
echo "an index.json without names: loaded untagged, then tagged by ID"
mkdir oci && tar -xf pulled-v2.tar -C oci && rm oci/manifest.json
jq -c '.manifests[0].annotations = null | .manifests[0] |= with_entries(select(.value != null))' oci/index.json >oci/i && mv oci/i oci/index.json
tar -cf noname.tar -C oci oci-layout index.json blobs
show load26 noname.tar
show d26 tag "${REG_V2:0:12}" "$REPO:v2"
show summary26
clean26
