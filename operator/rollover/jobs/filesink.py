"""Writing a stream of chunks to a file, optionally gzip-compressed and age-encrypted, on a thread of
its own.

zlib and hashlib release the GIL on large buffers, so compressing chunk n overlaps reading chunk n+1
from psql. The queue is bounded: memory stays at a few megabytes whatever the table's size. Encryption
comes after compression (ciphertext does not compress) and streams too: what is hashed and sized is
the file as stored.
"""

from __future__ import annotations

import hashlib
import importlib
import queue
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import BinaryIO

from pyrage import x25519

from rollover.jobs.encryption import encrypt_stream

#: Level 1: ~5x smaller CSV at twice level 6's speed; archive throughput is what the Job waits for.
GZIP_LEVEL = 1
QUEUE_CHUNKS = 8
GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer (mtime 0: same rows, same bytes)


def _deflate() -> ModuleType:
    """python-isal's zlib when installed: the same gzip at level 1 four times as fast as zlib's
    (measured 595 vs 148 MB/s on seeded CSV, and 11% smaller), which is most of the archive's CPU."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        return zlib


DEFLATE = _deflate()


@dataclass(frozen=True)
class WrittenFile:
    """What landed in the file: its size and SHA-256."""

    size: int
    sha256: str


class FileSink:
    """Accepts chunks with `write`, and `close` returns what was written; errors surface in either.

    With `recipients`, the file is the age encryption (to all of them) of the possibly gzipped stream.
    """

    def __init__(self, stream: BinaryIO, *, gzip: bool, recipients: Sequence[x25519.Recipient] = ()) -> None:
        self._stream = stream
        self._compressor = DEFLATE.compressobj(GZIP_LEVEL, DEFLATE.DEFLATED, GZIP_WBITS) if gzip else None
        self._recipients = tuple(recipients)
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_CHUNKS)
        self._ended = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="file-sink", daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def close(self) -> WrittenFile:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return WrittenFile(self._size, self._sha256.hexdigest())

    def _run(self) -> None:
        try:
            if self._recipients:
                encrypt_stream(self._next_plain, self._emit, self._recipients)
            else:
                while data := self._next_plain():
                    self._emit(data)
        except BaseException as exc:  # handed to the producer
            self._error = exc
        while not self._ended:  # keep draining so the producer never blocks
            self._ended = self._queue.get() is None

    def _next_plain(self) -> bytes:
        """The next bytes of the (compressed) file content; b"" once the producer has closed."""
        while not self._ended:
            chunk = self._queue.get()
            if chunk is None:
                self._ended = True
                return self._compressor.flush() if self._compressor is not None else b""
            data = self._compressor.compress(chunk) if self._compressor is not None else chunk
            if data:
                return data
        return b""

    def _emit(self, data: bytes) -> None:
        if data:
            self._sha256.update(data)
            self._size += len(data)
            self._stream.write(data)
