"""Handing an ingest's freed memory back to the system between chunks.

An ingest allocates a chunk's objects (parsed records, columns, row tuples) and frees them a
few seconds later, over and over. glibc's allocator keeps freed pages for reuse, split over
the arenas of the threads that freed them, so a long ingest holds its largest chunks' memory
to the end. `give_back` asks it to return every whole free page (`malloc_trim`), once per
transaction in the writer and once per piece in the parsing process; elsewhere (another C
library) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    """The C library when it is glibc (it has `malloc_trim`), else None."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    return None


def give_back() -> None:
    """Return the allocator's whole free pages to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
