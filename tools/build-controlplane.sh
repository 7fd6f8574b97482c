#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager; helm for
# chart tests) from Go modules and caches the binaries by version, so only the first run
# on a machine pays for the build. Prints the directory holding the binaries as its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/district-rollover"
# The cache key is the content of the wrapper modules and of this script (its build flags).
key=$(cat "$here"/controlplane/go.mod "$here"/controlplane/go.sum "$here"/etcd/go.mod "$here"/etcd/go.sum \
      "$here"/helm/go.mod "$here"/helm/go.sum "$here/build-controlplane.sh" 2>/dev/null | sha256sum | cut -c1-12)
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/controlplane/go.mod")
out="$cache_root/controlplane/${k8s_version}-${key}"
binaries=(etcd kube-apiserver kube-controller-manager helm)

complete() { for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if complete; then
  echo "control plane: cached in $out" >&2
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "error: 'go' is not installed; the control plane is built from Go modules" >&2; exit 1; }
mkdir -p "$out.partial"
start=$(date +%s)
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# The apiserver reports its release, not go build's "v0.0.0-master": `helm install` checks a chart's
# kubeVersion against it (the chart's ">=1.30.0-0" refused v0.0.0-master).
minor=$(echo "$k8s_version" | cut -d. -f2)
version_flags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1"
version_flags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
build() {  # build MODULE_DIR PACKAGE NAME
  local t0=$(date +%s)
  echo "control plane: building $3 ($2) ..." >&2
  (cd "$here/$1" && go build -trimpath -ldflags="-s -w $version_flags" -o "$out.partial/$3" "$2")
  echo "control plane: built $3 in $(( $(date +%s) - t0 ))s" >&2
}
[ -x "$out.partial/etcd" ] || build etcd go.etcd.io/etcd/server/v3 etcd
[ -x "$out.partial/kube-apiserver" ] || build controlplane k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
[ -x "$out.partial/kube-controller-manager" ] || build controlplane k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
[ -x "$out.partial/helm" ] || build helm helm.sh/helm/v3/cmd/helm helm
# Publish atomically: a half-built directory is never mistaken for a cache hit.
rm -rf "$out" && mv "$out.partial" "$out"
echo "control plane: ready in $(( $(date +%s) - start ))s, $(du -sh "$out" | cut -f1) in $out" >&2
echo "$out"
