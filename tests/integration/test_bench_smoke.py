"""Small versions of the benchmarks, so they don't rot; the real runs are `make bench`."""

from __future__ import annotations

import pytest

from benchmarks.idle_bench import run as run_idle

pytestmark = pytest.mark.integration


def test_idle_rollovers_cost_no_api_writes() -> None:
    result = run_idle(rollovers=40, namespaces=4, idle_seconds=10)
    assert result["idle_writes"] == 0, result["idle_requests"]
    assert result["idle_requests"] == {}, "waiting should cost no reads either"
