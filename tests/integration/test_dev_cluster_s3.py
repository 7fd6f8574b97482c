"""`rollover dev-cluster`'s S3 store: started once and left running, found again, stopped exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollover.cli.dev_cluster_cmd import s3_up
from rollover.devcluster.s3 import S3Server
from rollover.jobs.destination import open_destination

pytestmark = pytest.mark.integration


def test_up_starts_the_store_once_and_a_later_process_finds_and_stops_it(tmp_path: Path) -> None:
    endpoint = s3_up(tmp_path / "s3")
    try:
        assert s3_up(tmp_path / "s3") == endpoint  # idempotent: the running server is reused
        dest = open_destination(f"{endpoint.uri}/probe", endpoint.env())
        dest.put("a.txt", b"hello")
        assert dest.files("") == ["a.txt"]
        assert endpoint.endpoint.startswith("http://127.0.0.1:")
        assert (tmp_path / "s3" / "server.json").stat().st_mode & 0o077 == 0  # it holds the secret key
    finally:
        running = S3Server.running_in(tmp_path / "s3")
        assert running is not None
        running.stop()
    assert S3Server.running_in(tmp_path / "s3") is None
