"""Handing freed memory back to the system, so that a long-running process stays small.

glibc keeps what Python and re2 free in its heaps; compiling rule packs, or a burst of output,
leaves megabytes free but resident in each of Steward's many processes.  `malloc_trim(0)` gives
whole free pages back.  Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

__all__ = ["trim"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return fn


def trim() -> None:
    """Return the free pages of the C heap to the system (a no-op without glibc)."""
    fn = _malloc_trim()
    if fn is not None:
        fn(0)
