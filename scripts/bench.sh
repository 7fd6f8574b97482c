#!/usr/bin/env bash
# The long benchmarks (minutes each; not part of `make test`). Results: benchmarks/out/*.json, then
# benchmarks/results.json (scale) and benchmarks/README.md (by hand, with machine and date).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
py=.venv/bin/python
# Cold start and idle: 15,000 rollovers, 45,000 CronJobs, 50 namespaces (~30 min).
$py -m benchmarks.idle_bench --rollovers "${IDLE_ROLLOVERS:-15000}" --minutes "${IDLE_MINUTES:-10}"
# The herd: 5,000 rollovers on one reset date, against the floor (~20 min); then the same with two
# replicas, the leader killed mid-herd.
$py -m benchmarks.herd_bench --rollovers "${HERD_ROLLOVERS:-5000}"
$py -m benchmarks.herd_bench --rollovers "${FAILOVER_ROLLOVERS:-5000}" --failover
$py -m benchmarks.results
# Archive and reset of a 500,000-student district against psql's floor (~10 min).
$py benchmarks/jobs_bench.py --students "${JOBS_STUDENTS:-500000}" --repeat 2
