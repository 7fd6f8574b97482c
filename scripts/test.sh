#!/usr/bin/env bash
# The project's test command (what `make test` and CI run): static checks, then every test —
# unit and integration against the real control plane and PostgreSQL the harness starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n== %s\n' "$*" >&2; }
step "ruff";   ruff check operator tests benchmarks && ruff format --check operator tests benchmarks
step "mypy";   mypy
step "lint the example districts"; rollover lint examples/districts
step "pytest"; pytest -q -m "unit or integration" "$@"
