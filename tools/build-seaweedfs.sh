#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible object store the archive tests and the demo write to)
# from its Go module and caches the binary by version, like tools/build-controlplane.sh: only the
# first run on a machine pays for the build. Prints the directory holding `weed` as its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/district-rollover"
# The cache key is the content of the wrapper module: a version bump rebuilds, nothing else does.
key=$(cat "$here"/seaweedfs/go.mod "$here"/seaweedfs/go.sum | sha256sum | cut -c1-12)
version=$(awk '$1=="require" && $2=="github.com/seaweedfs/seaweedfs" {print $3}' "$here/seaweedfs/go.mod")
out="$cache_root/seaweedfs/${version}-${key}"

if [ -x "$out/weed" ]; then
  echo "seaweedfs: cached in $out" >&2
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "error: 'go' is not installed; SeaweedFS is built from its Go module" >&2; exit 1; }
mkdir -p "$out.partial"
start=$(date +%s)
echo "seaweedfs: building weed (github.com/seaweedfs/seaweedfs/weed) ..." >&2
(cd "$here/seaweedfs" && CGO_ENABLED=0 GOFLAGS=-mod=mod \
  go build -trimpath -ldflags='-s -w' -o "$out.partial/weed" github.com/seaweedfs/seaweedfs/weed)
# Publish atomically: a half-built directory is never mistaken for a cache hit.
rm -rf "$out" && mv "$out.partial" "$out"
echo "seaweedfs: ready in $(( $(date +%s) - start ))s, $(du -sh "$out" | cut -f1) in $out" >&2
echo "$out"
