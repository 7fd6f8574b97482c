"""Archive destinations: a directory on a volume (file://) or, with the `s3` extra, an fsspec store.

Paths are '/'-separated and relative to the ARCHIVE_URI. `move_tree` is how an archive is published:
on a local volume one atomic directory rename; on object stores, which cannot rename, copies with the
manifest last in and, at the source, first out, so the manifest's presence always means "complete".
On a volume, what the Jobs create is private to their user: files 0600, directories 0700 (an archive
holds student data; the umask of the image is no policy).
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from rollover.jobs import redaction
from rollover.jobs.errors import StepFailed, UsageError

MANIFEST = "manifest.json"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
#: fsspec protocols accepted besides file://; memory:// exercises the object-store path in tests.
FSSPEC_SCHEMES = ("s3", "memory")


class Destination(Protocol):
    uri: str

    def check(self) -> None:
        """StepFailed unless the destination is there and writable."""

    def exists(self, path: str) -> bool: ...

    def files(self, prefix: str) -> list[str]:
        """Every file (object) under `prefix`, at any depth, as paths relative to it, read afresh: what
        proves a deletion (an object store may list an emptied "directory" for a while; it holds nothing).
        """

    def list(self, prefix: str) -> list[str]:
        """Names directly under `prefix`; empty if there is none."""

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]: ...

    def open_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        """A new file, durable once the context exits without error."""

    def put(self, path: str, data: bytes) -> None:
        """Write a small file whole, replacing any file of that name atomically."""

    def move_tree(self, source: str, target: str) -> None:
        """Move every file under `source` to `target` (which must not hold an archive)."""

    def remove_tree(self, prefix: str) -> None: ...


def open_destination(uri: str, env: Mapping[str, str] | None = None) -> Destination:
    """The destination of an ARCHIVE_URI; UsageError for a scheme we do not write to. An s3:// store
    takes its endpoint and credentials from the Job's AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY when set (else from botocore's usual places: a profile, the pod's role)."""
    if redaction.uri_may_carry_credentials(uri):  # quoted in results and certificates: keep it clean
        raise UsageError(
            f"ARCHIVE_URI {redaction.describe_uri(uri)}: no user, key, query or fragment in the URI; an "
            "s3:// store takes its keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a Secret) or the "
            "pod's cloud role"
        )
    parts = urlsplit(uri)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"ARCHIVE_URI {uri!r}: a file URI names an absolute path, e.g. file:///archive")
        return LocalDestination(uri, Path(unquote(parts.path)))
    if parts.scheme in FSSPEC_SCHEMES:
        return FsspecDestination(uri, s3_options(env or {}) if parts.scheme == "s3" else {})
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

    def files(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if base.is_file():
            return [""]
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if not p.is_dir())

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(p.name for p in (self.root / prefix).iterdir())
        except FileNotFoundError:
            return []

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return (self.root / path).open("rb")

    def _make_dirs(self, directory: Path) -> None:
        """Create `directory` and its missing parents below the root, each 0700."""
        missing = []
        while directory != self.root and not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for path in reversed(missing):
            path.mkdir(mode=DIRECTORY_MODE, exist_ok=True)

    @contextmanager
    def open_write(self, path: str) -> Iterator[BinaryIO]:
        target = self.root / path
        self._make_dirs(target.parent)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    def put(self, path: str, data: bytes) -> None:
        target = self.root / path
        partial = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex}")
        with self.open_write(str(partial.relative_to(self.root))) as fh:
            fh.write(data)
        os.replace(partial, target)
        _fsync_dir(target.parent)

    def move_tree(self, source: str, target: str) -> None:
        src, dst = self.root / source, self.root / target
        _fsync_dir(src)
        self._make_dirs(dst.parent)
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


#: s3fs option -> the Job's environment variable that sets it.
S3_OPTION_ENV = {
    "endpoint_url": "AWS_ENDPOINT_URL",
    "key": "AWS_ACCESS_KEY_ID",
    "secret": "AWS_SECRET_ACCESS_KEY",
}


def s3_options(env: Mapping[str, str]) -> dict[str, str]:
    """s3fs options from the Job's environment (explicit, so a step run in-process uses its own)."""
    return {option: env[name] for option, name in S3_OPTION_ENV.items() if env.get(name)}


class FsspecDestination:
    """An fsspec filesystem (s3:// with the `s3` extra installed). Credentials come from the usual
    places of each filesystem (for S3: AWS_* variables, a mounted profile, or the pod's role)."""

    def __init__(self, uri: str, options: Mapping[str, str]) -> None:
        try:
            fsspec_core = importlib.import_module("fsspec.core")
        except ImportError:
            raise UsageError(
                f"ARCHIVE_URI {uri}: object stores need the s3 extra (pip install 'district-rollover[s3]')"
            ) from None
        self.uri = uri
        try:
            self._fs: Any
            self._fs, root = fsspec_core.url_to_fs(uri, **options)
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

    def files(self, prefix: str) -> list[str]:
        self._fs.invalidate_cache()
        base = self._path(prefix)
        return sorted(str(p)[len(base) :].lstrip("/") for p in self._fs.find(base))

    def list(self, prefix: str) -> list[str]:
        try:
            return sorted(PurePosixPath(p).name for p in self._fs.ls(self._path(prefix), detail=False))
        except FileNotFoundError:
            return []

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._fs.open(self._path(path), "rb")  # type: ignore[no-any-return]

    def open_write(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._fs.open(self._path(path), "wb")  # type: ignore[no-any-return]

    def put(self, path: str, data: bytes) -> None:
        self._fs.pipe_file(self._path(path), data)  # one PUT: readers see the old object or the new

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
