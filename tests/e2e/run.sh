#!/usr/bin/env bash
# End-to-end on your machine: build the image, load it into kind, install the chart, and run one real
# rollover (PostgreSQL roster store, real archive and reset Jobs) on the accelerated demo clock.
# Needs docker, kind, kubectl and helm. KEEP=1 leaves the cluster up; CLUSTER=name picks another.
# Not part of `make test`: CI has no Docker engine (tests/integration/test_chart.py covers the chart).
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster=${CLUSTER:-district-rollover-e2e}
image=district-rollover:e2e        # must match tests/e2e/values.yaml
operator_ns=district-rollover
district_ns=district-e2e           # must match values.yaml, district.yaml and roster-store.yaml
work=$(mktemp -d)

step() { printf '\n== %s\n' "$*" >&2; }
fail() { echo "e2e: error: $*" >&2; exit 1; }
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "e2e: FAILED; the operator's last log lines:" >&2
    kubectl -n "$operator_ns" logs deploy/district-rollover --tail=40 >&2 || true
    kubectl -n "$district_ns" get dro,jobs,pods >&2 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "e2e: cluster kept: export KUBECONFIG=$work/kubeconfig" >&2
  else
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT

step "build $image"
docker build -t "$image" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .

step "kind cluster $cluster"
kind get clusters 2>/dev/null | grep -qx "$cluster" \
  || kind create cluster --name "$cluster" --config tests/e2e/kind-config.yaml --wait 180s
kind get kubeconfig --name "$cluster" > "$work/kubeconfig"
export KUBECONFIG=$work/kubeconfig
kind load docker-image "$image" --name "$cluster"

step "roster store: PostgreSQL, schema, a seeded district, the archive volume"
kubectl create namespace "$district_ns" --dry-run=client -o yaml | kubectl apply -f -
kubectl annotate --overwrite namespace "$district_ns" rostering.k12.dev/districts=IL-E2E  # this namespace may roll over IL-E2E
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
kubectl -n "$district_ns" create secret generic roster-db --from-literal=password="$password"
kubectl -n "$district_ns" create secret generic rollover-roster-store \
  --from-literal=DATABASE_URL="postgresql://rollover:$password@roster-db:5432/roster" \
  --from-literal=ARCHIVE_URI=file:///archive
kubectl apply -f tests/e2e/roster-store.yaml
kubectl -n "$district_ns" rollout status deploy/roster-db --timeout=180s
store_job() {  # store_job NAME ARG...: run `rollover-job ARG...` against the roster store; wait for it
  local name=$1; shift
  local args; args=$(printf '"%s",' "$@")
  kubectl -n "$district_ns" apply -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: $name}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: $name
          image: $image
          imagePullPolicy: Never
          command: [rollover-job]
          args: [${args%,}]
          env:
            - name: DATABASE_URL
              valueFrom: {secretKeyRef: {name: rollover-roster-store, key: DATABASE_URL}}
YAML
  kubectl -n "$district_ns" wait "job/$name" --for=condition=Complete --timeout=180s \
    || { kubectl -n "$district_ns" logs "job/$name" >&2; fail "rollover-job $* failed"; }
}
store_job store-migrate migrate
store_job store-seed seed --district IL-E2E --school-year 2026-2027 --students 300

step "the DistrictRollover first, then the operator (its demo clock starts with it)"
kubectl apply --server-side -f charts/district-rollover/crds/
kubectl wait --for=condition=Established crd/districtrollovers.rostering.k12.dev
kubectl apply -f tests/e2e/district.yaml
helm upgrade --install district-rollover charts/district-rollover --namespace "$operator_ns" \
  --create-namespace --values tests/e2e/values.yaml --wait --timeout 180s

step "one rollover: Scheduled -> Paused -> Archiving -> Resetting -> Resuming -> Completed"
kubectl -n "$district_ns" wait dro/e2e-district --for=jsonpath='{.status.phase}'=Paused --timeout=120s
[ "$(kubectl -n "$district_ns" get cronjob clever-sync -o jsonpath='{.spec.suspend}')" = true ] \
  || fail "clever-sync was not suspended while paused"
kubectl -n "$district_ns" wait dro/e2e-district --for=jsonpath='{.status.phase}'=Completed --timeout=600s
kubectl -n "$district_ns" get dro -o wide

step "checks"
[ "$(kubectl -n "$district_ns" get cronjob clever-sync -o jsonpath='{.spec.suspend}')" = false ] \
  || fail "clever-sync was not resumed"
results=$(kubectl -n "$district_ns" get dro e2e-district -o jsonpath='{range .status.jobs[*]}{.step}={.result.status}{"\n"}{end}')
echo "$results"
grep -qx 'archive=archived' <<<"$results" || fail "no archive result"
grep -qx 'reset=reset' <<<"$results" || fail "no reset result"
kubectl -n "$operator_ns" logs deploy/district-rollover | grep -q '"step": "archive"' \
  || fail "the operator's JSON log has no line with the archive step"
echo "e2e: OK" >&2
