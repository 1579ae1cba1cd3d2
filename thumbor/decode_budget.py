"""A decode bounded in time and cost: `guard` makes an opened image refuse a JPEG whose pixels x
scans are over THUMBOR_MAX_PIXEL_SCANS before decoding it, feeds Pillow's decoder one scan (or
block) at a time and stops it past THUMBOR_DECODE_BUDGET_MS, takes the image's share of the
process's decode memory, and turns a decoder's failure into a refusal.
"""

from __future__ import annotations

import bisect
import io
import time
import weakref
from collections.abc import Callable

from decode_memory import DECODE_MEMORY, DecodeMemory, memory_bytes
from jpeg_markers import jpeg_scan_offsets
from limits import DECODE_BUDGET_S, MAX_PIXEL_SCANS
from PIL import Image, ImageFile
from refusals import Refusal


class DecodeBudgetExceeded(Exception):
    """Decoding ran past its time budget."""


class BudgetedFile:
    """A file for Pillow's decoder that stops feeding it once the deadline passes.

    Reads end at the next scan boundary, so a file of many small scans is checked
    between scans rather than once per block (Pillow reads up to 32 MiB at a time).
    """

    def __init__(self, fp: io.BytesIO) -> None:
        self._fp = fp
        self.boundaries: list[int] = []
        self.deadline: float | None = None

    def read(self, size: int = -1) -> bytes:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DecodeBudgetExceeded()
        at = self._fp.tell()
        i = bisect.bisect_right(self.boundaries, at)
        if i < len(self.boundaries) and (size < 0 or at + size > self.boundaries[i]):
            size = self.boundaries[i] - at
        return self._fp.read(size)

    def __getattr__(self, name: str):
        return getattr(self._fp, name)


def guard(
    img: Image.Image,
    buffer: bytes,
    budget_s: float = DECODE_BUDGET_S,
    max_pixel_scans: float = MAX_PIXEL_SCANS,
    clock: Callable[[], float] = time.monotonic,
    memory: DecodeMemory = DECODE_MEMORY,
) -> Image.Image:
    """Makes `img` (opened, not yet decoded) refuse costly decodes and stop at `budget_s`.

    Raises Refusals from the decode: 422 over budget, 400 undecodable, 503 when the
    process's decode memory stays full; the full-size image's share of that memory is
    given back when the image is freed.
    """
    if not isinstance(img, ImageFile.ImageFile) or img.fp is None:
        return img
    fp = BudgetedFile(img.fp)
    img.fp = fp
    # Where a JPEG's scans start: found when it is decoded (in the pool's thread, not on the
    # event loop), and its bytes let go then.
    unscanned: bytes | None = buffer if img.format == "JPEG" else None
    boundaries: list[int] = []
    # The image holds this function, so the function holds the image weakly: a cycle would keep
    # every decoded image (36 MB for 12 MP) alive until Python's cycle collector ran, and a busy
    # process at several times the memory it needs.
    load = type(img).load
    image = weakref.ref(img)
    # The size in the header: a reduced-size decode (Image.draft, which Thumbor's resize asks
    # for) scales the output, but every scan's entropy data is still decoded in full.
    width, height = img.size

    def budgeted_load():
        nonlocal unscanned, boundaries
        img = image()
        if img is None:
            return None
        if img._im is not None:  # decoded already (a HEIF has no tiles, but is not decoded yet)
            return load(img)
        if unscanned is not None:
            boundaries, unscanned = jpeg_scan_offsets(unscanned), None
            # Not at the first scan's start: the decoder gets the header and the first scan in one
            # read. A read that ended there made libjpeg stop after the header and Pillow copy the
            # whole file to resume (a baseline 12 MP photo, one scan: 2.3 ms of its 43).
            fp.boundaries = boundaries[1:]
        if boundaries and width * height * len(boundaries) > max_pixel_scans:
            raise Refusal(
                422,
                "too_complex",
                "refused before decoding: %dx%d JPEG with %d scans (over %d pixel-scans)",
                width,
                height,
                len(boundaries),
                max_pixel_scans,
            )
        share = memory_bytes(img)  # at the size it decodes to (a JPEG draft is smaller)
        memory.acquire(share)
        weakref.finalize(img, memory.release, share)
        started = clock()
        fp.deadline = started + budget_s
        try:
            return load(img)
        except DecodeBudgetExceeded:
            raise Refusal(
                422, "too_complex", "decoding stopped after %.1f s (budget %.1f s)", clock() - started, budget_s
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
            raise Refusal(400, "undecodable", "could not decode the image: %s", error) from None
        finally:
            fp.deadline = None

    img.load = budgeted_load
    return img
