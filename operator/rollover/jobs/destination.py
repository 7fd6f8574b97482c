"""Archive destinations: a directory on a volume (file://) or, with the `s3` extra, an fsspec store.

Paths are '/'-separated and relative to the ARCHIVE_URI. `move_tree` is how an archive is published:
on a local volume one atomic directory rename; on object stores, which cannot rename, copies with the
manifest last in and, at the source, first out, so the manifest's presence always means "complete".
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from rollover.jobs.errors import StepFailed, UsageError

MANIFEST = "manifest.json"
#: fsspec protocols accepted besides file://; memory:// exercises the object-store path in tests.
FSSPEC_SCHEMES = ("s3", "memory")


class Destination(Protocol):
    uri: str

    def check(self) -> None:
        """StepFailed unless the destination is there and writable."""

    def exists(self, path: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Names directly under `prefix`; empty if there is none."""

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]: ...

    def open_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A new file, durable once the context exits without error."""

    def move_tree(self, source: str, target: str) -> None:
        """Move every file under `source` to `target` (which must not hold an archive)."""

    def remove_tree(self, prefix: str) -> None: ...


def open_destination(uri: str) -> Destination:
    """The destination of an ARCHIVE_URI; UsageError for a scheme we do not write to."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"ARCHIVE_URI {uri!r}: a file URI names an absolute path, e.g. file:///archive")
        return LocalDestination(uri, Path(unquote(parts.path)))
    if parts.scheme in FSSPEC_SCHEMES:
        return FsspecDestination(uri)
    raise UsageError(f"ARCHIVE_URI {uri!r}: use file:///path/on/a/volume or s3://bucket/prefix")


class LocalDestination:
    """A directory, normally a mounted volume."""

    def __init__(self, uri: str, root: Path) -> None:
        self.uri = uri
        self.root = root

    def check(self) -> None:
        # Never create the root: a missing mount must fail, not fill the container's own disk.
        if not self.root.is_dir():
            raise StepFailed(f"archive destination {self.root} does not exist (is the volume mounted?)")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StepFailed(f"archive destination {self.root} is not writable")

    def exists(self, path: str) -> bool:
        return (self.root / path).exists()

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(p.name for p in (self.root / prefix).iterdir())
        except FileNotFoundError:
            return []

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return (self.root / path).open("rb")

    @contextmanager
    def open_write(self, path: str) -> Iterator[BinaryIO]:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    def move_tree(self, source: str, target: str) -> None:
        src, dst = self.root / source, self.root / target
        _fsync_dir(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, dst)  # atomic; fails if target exists and is not empty
        _fsync_dir(dst.parent)

    def remove_tree(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsspecDestination:
    """An fsspec filesystem (s3:// with the `s3` extra installed). Credentials come from the usual
    places of each filesystem (for S3: AWS_* variables, a mounted profile, or the pod's role)."""

    def __init__(self, uri: str) -> None:
        try:
            fsspec_core = importlib.import_module("fsspec.core")
        except ImportError:
            raise UsageError(
                f"ARCHIVE_URI {uri}: object stores need the s3 extra (pip install 'district-rollover[s3]')"
            ) from None
        self.uri = uri
        try:
            self._fs: Any
            self._fs, root = fsspec_core.url_to_fs(uri)
        except (ImportError, ValueError) as exc:
            raise UsageError(f"ARCHIVE_URI {uri}: {exc}") from None
        self._root = str(root).rstrip("/")

    def _path(self, path: str) -> str:
        return f"{self._root}/{path}" if path else self._root

    def check(self) -> None:
        try:
            self._fs.ls(self._root, detail=False)
        except FileNotFoundError:
            pass  # an empty prefix
        except Exception as exc:  # any backend's failure: auth, network, missing bucket
            raise StepFailed(f"archive destination {self.uri} is unreachable: {exc}") from None

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(PurePosixPath(p).name for p in self._fs.ls(self._path(prefix), detail=False))
        except FileNotFoundError:
            return []

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._fs.open(self._path(path), "rb")  # type: ignore[no-any-return]

    def open_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._fs.open(self._path(path), "wb")  # type: ignore[no-any-return]

    def move_tree(self, source: str, target: str) -> None:
        names = self.list(source)
        ordered = [n for n in names if n != MANIFEST] + [n for n in names if n == MANIFEST]
        for name in ordered:
            self._fs.copy(self._path(f"{source}/{name}"), self._path(f"{target}/{name}"))
        for name in reversed(ordered):
            self._fs.rm(self._path(f"{source}/{name}"))

    def remove_tree(self, prefix: str) -> None:
        if self._fs.exists(self._path(prefix)):
            self._fs.rm(self._path(prefix), recursive=True)
