#!/usr/bin/env bash
# The long benchmarks (minutes each; not part of `make test`). Results: benchmarks/out/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python -m benchmarks.idle_bench --rollovers "${IDLE_ROLLOVERS:-1000}" --minutes "${IDLE_MINUTES:-10}"
if [ -f benchmarks/jobs_bench.py ]; then
  .venv/bin/python benchmarks/jobs_bench.py --students "${JOBS_STUDENTS:-500000}"
fi
