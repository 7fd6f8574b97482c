#!/usr/bin/env bash
# `make demo`: set up, then run the operator against the local control plane with examples/districts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m rollover.devcluster.demo "$@"
