"""Archive files: destinations, the streaming gzip sink, and verification against the manifest."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
from pathlib import Path

import pytest

from rollover.catalog import load_catalog
from rollover.jobs.config import Target
from rollover.jobs.destination import FSSPEC_SCHEMES, LocalDestination, open_destination
from rollover.jobs.errors import StepFailed, UsageError
from rollover.jobs.filesink import FileSink
from rollover.jobs.manifest import ArchivedFile, ArchivedTable, Manifest, archive_dir, check_files

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file://relative/path", "a file URI names an absolute path"),
        ("https://bucket/prefix", "use file:///path/on/a/volume or s3://bucket/prefix"),
        ("/plain/path", "use file:///path/on/a/volume or s3://bucket/prefix"),
    ],
)
def test_unsupported_archive_uris_are_usage_errors(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        open_destination(uri)


def test_a_missing_volume_is_not_created(tmp_path: Path) -> None:
    dest = open_destination((tmp_path / "not-mounted").as_uri())

    with pytest.raises(StepFailed, match=r"does not exist \(is the volume mounted\?\)"):
        dest.check()
    assert not (tmp_path / "not-mounted").exists()


def test_publishing_is_one_rename_that_never_overwrites_an_archive(tmp_path: Path) -> None:
    dest = LocalDestination(tmp_path.as_uri(), tmp_path)
    for staging in ("d/y/.p.partial-1", "d/y/.p.partial-2"):
        with dest.open_write(f"{staging}/manifest.json") as fh:
            fh.write(staging.encode())

    dest.move_tree("d/y/.p.partial-1", "d/y/p")

    assert dest.list("d/y") == [".p.partial-2", "p"]
    with pytest.raises(OSError, match=r"not empty|exists"):
        dest.move_tree("d/y/.p.partial-2", "d/y/p")
    assert (tmp_path / "d/y/p/manifest.json").read_text() == "d/y/.p.partial-1"


def test_object_stores_need_the_s3_extra_or_work_through_fsspec(tmp_path: Path) -> None:
    assert "s3" in FSSPEC_SCHEMES
    try:
        import fsspec  # noqa: F401
    except ImportError:
        with pytest.raises(UsageError, match=r"pip install 'district-rollover\[s3\]'"):
            open_destination("s3://bucket/archive")
        return
    dest = open_destination("memory://rollover-test")
    with dest.open_write("d/y/.p.partial-1/a.csv.gz") as fh:
        fh.write(b"data")
    with dest.open_write("d/y/.p.partial-1/manifest.json") as fh:
        fh.write(b"{}")
    dest.move_tree("d/y/.p.partial-1", "d/y/p")
    assert dest.list("d/y/p") == ["a.csv.gz", "manifest.json"]
    assert dest.list("d/y/.p.partial-1") == []


@pytest.mark.parametrize("compress", [True, False])
def test_the_sink_writes_what_it_is_given_and_hashes_what_it_wrote(compress: bool) -> None:
    out = io.BytesIO()
    sink = FileSink(out, gzip=compress)
    chunks = [f"row {i}\n".encode() * 1000 for i in range(50)]
    for chunk in chunks:
        sink.write(chunk)

    written = sink.close()

    stored = out.getvalue()
    assert (written.size, written.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert (gzip.decompress(stored) if compress else stored) == b"".join(chunks)


def test_a_write_error_reaches_the_producer() -> None:
    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    def fill() -> None:
        sink = FileSink(Full(), gzip=False)
        for _ in range(100):  # the error surfaces on a later write or at close
            sink.write(b"x")
        sink.close()

    with pytest.raises(OSError, match="No space left"):
        fill()


def manifest_for(files: dict[str, bytes]) -> Manifest:
    return Manifest(
        district_id="d1", school_year="2025-2026", product="twig-science", reset_date=dt.date(2026, 7, 19),
        schema_version=4, snapshot_time=dt.datetime(2026, 7, 19, tzinfo=dt.UTC),
        created_at=dt.datetime(2026, 7, 19, tzinfo=dt.UTC), created_by="test",
        tables=(ArchivedTable(table="twig.classes", kind="classes", file="twig.classes.csv.gz", rows=1,
                              digest="0" * 64, deleted_by_reset=True),),
        student_data_export=None,
        files=tuple(
            ArchivedFile(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            for name, data in files.items()
        ),
    )  # fmt: skip


def test_verification_names_missing_and_changed_files(tmp_path: Path) -> None:
    target = Target(
        "d1", "2025-2026", "twig-science", dt.date(2026, 7, 19), load_catalog().policy("twig-science")
    )
    directory = tmp_path / archive_dir(target)
    directory.mkdir(parents=True)
    files = {"a.csv.gz": b"alpha", "b.csv.gz": b"beta", "c.csv.gz": b"gamma"}
    for name, data in files.items():
        (directory / name).write_bytes(data)
    manifest = manifest_for(files)
    dest = LocalDestination(tmp_path.as_uri(), tmp_path)
    check_files(dest, target, manifest)

    (directory / "a.csv.gz").unlink()
    (directory / "b.csv.gz").write_bytes(b"BETA")

    with pytest.raises(StepFailed) as caught:
        check_files(dest, target, manifest, "nothing was deleted")
    assert str(caught.value).startswith(
        f"the archive at {tmp_path.as_uri()}/d1/2025-2026/twig-science does not match its manifest: "
        "a.csv.gz is missing; b.csv.gz has changed (sha256 "
    )
    assert str(caught.value).endswith("; nothing was deleted")


def test_the_manifest_round_trips_in_camel_case_and_its_digest_ignores_table_order() -> None:
    manifest = manifest_for({"x": b"x"})
    again = Manifest.model_validate_json(manifest.to_json())
    reordered = manifest.model_copy(update={"tables": tuple(reversed(manifest.tables))})

    assert again == manifest
    assert b'"schemaVersion": 4' in manifest.to_json()
    assert reordered.digest() == manifest.digest()
