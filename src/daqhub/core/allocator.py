"""C allocator settings for a server that receives large bodies.

Each socket read hands Python a new buffer of about 256 KiB, and the HTTP parser copies the body
out of it into another. With glibc's defaults, blocks that large are mapped from the kernel when
allocated and unmapped when freed, or taken from the top of the heap and trimmed back soon after,
so every read pays for faulting in and zeroing some 64 fresh pages. On a two-core machine that
cost more than half of the rate at which a body could be received. Keeping blocks below 1 MiB
on the heap and letting up to 64 MiB of free heap stay mapped makes the reads reuse warm memory.

An operator who sets ``GLIBC_TUNABLES`` for malloc keeps their settings.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
"""Blocks smaller than this come from the heap (glibc's default: 128 KiB, adapting upwards)."""
TRIM_THRESHOLD = 64 << 20
"""Free memory at the top of a heap kept mapped for reuse (glibc's default: 128 KiB, adapting)."""


def tune_allocator() -> bool:
    """Apply the settings above where the C library is glibc; True when applied."""
    if not sys.platform.startswith("linux") or "glibc.malloc" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt answers 1 on success; musl's stub answers 0 and changes nothing.
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
