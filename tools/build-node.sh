#!/usr/bin/env bash
# Builds the local node's Go binaries (kubelet, and kube-scheduler to bind pods to it) from
# the same k8s.io/kubernetes release as the control plane, cached by the wrapper module's
# content. Separate from build-controlplane.sh: only `dev-cluster up --node` pays for it.
# Prints the directory holding the binaries as its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/district-rollover"
# The cache key is the wrapper module and this script (its flags): a change rebuilds, nothing else does.
key=$(cat "$here"/node/go.mod "$here"/node/go.sum "$here"/build-node.sh | sha256sum | cut -c1-12)
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/node/go.mod")
controlplane_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/controlplane/go.mod")
if [ "$k8s_version" != "$controlplane_version" ]; then
  echo "error: tools/node pins k8s.io/kubernetes $k8s_version, the control plane $controlplane_version" >&2
  exit 1
fi
out="$cache_root/node/${k8s_version}-${key}"
binaries=(kubelet kube-scheduler)

complete() { for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if complete; then
  echo "node: cached in $out" >&2
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "error: 'go' is not installed; the node is built from Go modules" >&2; exit 1; }
mkdir -p "$out.partial"
start=$(date +%s)
# One package at a time: the kubelet build is CPU-heavy and the machine is shared.
export CGO_ENABLED=0 GOFLAGS="-mod=mod -p=1"
# The node reports its release (kubectl get nodes), not go build's "v0.0.0-master".
minor=$(echo "$k8s_version" | cut -d. -f2)
version_flags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1"
version_flags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
build() {  # build PACKAGE NAME
  local t0=$(date +%s)
  echo "node: building $2 ($1) ..." >&2
  (cd "$here/node" && go build -trimpath -ldflags="-s -w $version_flags" -o "$out.partial/$2" "$1")
  echo "node: built $2 in $(( $(date +%s) - t0 ))s" >&2
}
[ -x "$out.partial/kubelet" ] || build k8s.io/kubernetes/cmd/kubelet kubelet
[ -x "$out.partial/kube-scheduler" ] || build k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
# Publish atomically: a half-built directory is never mistaken for a cache hit.
rm -rf "$out" && mv "$out.partial" "$out"
echo "node: ready in $(( $(date +%s) - start ))s, $(du -sh "$out" | cut -f1) in $out" >&2
echo "$out"
