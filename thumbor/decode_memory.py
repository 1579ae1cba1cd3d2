"""The decoded images one process may hold at once (DecodeMemory), what an image holds once
decoded (memory_bytes), and memory given back to the system after a big one.

glibc is tuned at import so that a big image's pixels live in a mapping of their own, returned
to the system when freed, rather than staying with the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

from limits import DECODE_MEMORY_BYTES, DECODE_WAIT_S
from PIL import Image
from refusals import Refusal

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6") if os.name == "posix" else None
if _libc is not None and hasattr(_libc, "mallopt"):
    # glibc raises its mmap threshold each time a big block is freed, after which the next big
    # blocks come from the heap and stay with the process when freed. A fixed threshold (this
    # also turns the raising off) keeps every image block in its own mapping, given back at once.
    M_MMAP_THRESHOLD = -3
    _libc.mallopt(M_MMAP_THRESHOLD, 1024 * 1024)


def give_back_memory() -> None:
    """Returns freed heap memory to the system (glibc's malloc_trim), after a big image."""
    if _libc is not None and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)


class DecodeMemory:
    """The decoded images this process may hold at once, in bytes.

    A decode takes its share before it starts and gives it back when the full-size image
    is freed; one that does not fit waits (an image bigger than the whole budget waits
    until it is alone). Waiting longer than `wait_s` refuses the image for now (503 busy):
    the Worker tries again later.
    """

    def __init__(self, capacity: int, wait_s: float) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self.held = 0
        self._cond = threading.Condition()  # re-entrant: a release may run inside an acquire (GC)

    def acquire(self, amount: int) -> None:
        def fits() -> bool:
            return self.held == 0 or self.held + amount <= self.capacity

        with self._cond:
            if not self._cond.wait_for(fits, timeout=self.wait_s):
                raise Refusal(
                    503, "busy", "no room to decode %d MB within %.0f s (%d MB held)", amount >> 20, self.wait_s, self.held >> 20
                )
            self.held += amount

    def release(self, amount: int) -> None:
        with self._cond:
            self.held -= amount
            self._cond.notify_all()
        if amount >= 16 * 1024 * 1024:
            give_back_memory()


DECODE_MEMORY = DecodeMemory(DECODE_MEMORY_BYTES, DECODE_WAIT_S)


# Bytes a pixel takes in Pillow's memory, by mode (RGB is stored in 4 bytes, like RGBA).
_PILLOW_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def memory_bytes(img: Image.Image) -> int:
    """What decoding `img` at its current size (after any draft) makes Pillow hold."""
    return img.size[0] * img.size[1] * _PILLOW_PIXEL_BYTES.get(img.mode, 4)
