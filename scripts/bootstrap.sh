#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: a venv with the pinned Python dependencies,
# PostgreSQL's server binaries (for rollover-job and its tests), the cached control plane, and the
# cached S3 object store (SeaweedFS) that archive tests and the dev cluster write to.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
  echo "bootstrap: installing pinned Python dependencies" >&2
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi

# Debian packages, installed only when missing (one `apt-get update` at most).
apt_updated=""
apt_install() {
  local sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  echo "bootstrap: installing $* (Debian packages)" >&2
  [ -n "$apt_updated" ] || { $sudo_ apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL server binaries, unless some PostgreSQL is there already.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  apt_install postgresql
fi

# The local node (docs/local-node.md): containerd, runc, the CNI plugins, the image tools and the
# sandbox's init. Its tests run in `make test` and fail, never skip, when the node cannot start.
node_packages=()
for package in containerd runc mmdebstrap podman buildah iptables conntrack catatonit; do
  command -v "$package" >/dev/null || node_packages+=("$package")  # each package's command shares its name
done
[ -x /usr/lib/cni/bridge ] || node_packages+=(containernetworking-plugins)
[ ${#node_packages[@]} -eq 0 ] || apt_install "${node_packages[@]}"

# kubectl: the tests, the demo and users drive the control plane with it (preinstalled on this kind).
command -v kubectl >/dev/null || { echo "bootstrap: error: kubectl is not installed (any version within one minor of 1.33)" >&2; exit 1; }

# The control plane: built from Go modules on first use, then reused from the cache.
bash tools/build-controlplane.sh >/dev/null

# The S3 object store: SeaweedFS's `weed`, built from its Go module (Go >= 1.26.6) on first use.
bash tools/build-seaweedfs.sh >/dev/null

# The node's kubelet and kube-scheduler, from the control plane's own Kubernetes module.
bash tools/build-node.sh >/dev/null
