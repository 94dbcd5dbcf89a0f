"""Reading a file the user named: a regular file only, of bounded size, never blocking on a FIFO."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_BYTES", "NotRegularFileError", "read_regular"]

MAX_BYTES = 16 << 20


class NotRegularFileError(OSError):
    """The path is a FIFO, a device, a socket or a directory, or is too large to be a config."""


def read_regular(path: Path, *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of `path`; NotRegularFileError unless it is a regular file of at most `limit`.

    The file is opened non-blocking (a FIFO with no writer would hang a plain open) and checked
    with fstat on the open descriptor, so that a swap between the check and the read is caught.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise NotRegularFileError("is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError("not a regular file (a FIFO, device or socket is refused)")
        if info.st_size > limit:
            raise NotRegularFileError(f"too large ({info.st_size} bytes; at most {limit})")
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > limit:
                raise NotRegularFileError(f"too large (more than {limit} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
