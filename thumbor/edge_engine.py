"""The edge-thumbnails Thumbor engine: Thumbor's PIL engine, made strict and bounded.

Stock Thumbor decodes whatever it is given for as long as it takes, and fills in
what is missing: a truncated upload becomes a half-grey thumbnail, and a small
progressive JPEG with thousands of scans keeps a worker thread busy for minutes
(decoding cannot be interrupted once it runs). This engine decides before and
while decoding:

- Before: a JPEG's decode cost grows with pixels x scans (each scan is a pass
  over the whole image). Above THUMBOR_MAX_PIXEL_SCANS the image is refused
  without decoding it.
- While: the decoder is fed one scan (or 64 KiB) at a time, and the budget
  THUMBOR_DECODE_BUDGET_MS is checked between feeds; past it, decoding stops.
- Truncated or corrupt data is an error, not a grey fill.

Thumbor turns the HTTP errors raised here into its answer: 422 for an image that
is too costly to decode (the Worker fails the job with `image_too_complex`), 400
for one that cannot be decoded (`unprocessable_image`). Decoding happens inside
the transform step, where Thumbor lets an HTTPError through as the status.

Configured by environment (see thumbor.conf); enabled with ENGINE = "edge_engine"
and this directory on PYTHONPATH.
"""

from __future__ import annotations

import bisect
import io
import os
import time
from typing import Callable

from PIL import Image, ImageFile
from thumbor.engines.pil import Engine as PILEngine
from thumbor.utils import logger
from tornado.web import HTTPError

# Thumbor's PIL engine turns this on at import; a truncated file must fail instead.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DECODE_BUDGET_S = int(os.environ.get("THUMBOR_DECODE_BUDGET_MS", "5000")) / 1000
# About a 50-megapixel JPEG with 32 scans; ordinary progressive JPEGs have about 10.
MAX_PIXEL_SCANS = float(os.environ.get("THUMBOR_MAX_PIXEL_SCANS", str(50_000_000 * 32)))

SOS = b"\xff\xda"


class DecodeBudgetExceeded(Exception):
    """Decoding ran past its time budget."""


def jpeg_scan_offsets(buffer: bytes) -> list[int]:
    """Where each start-of-scan marker sits (see src/images/jpeg.ts for why FF DA is enough)."""
    offsets = []
    at = buffer.find(SOS)
    while at != -1:
        offsets.append(at)
        at = buffer.find(SOS, at + 2)
    return offsets


class BudgetedFile:
    """A file for Pillow's decoder that stops feeding it once the deadline passes.

    Reads end at the next scan boundary, so a file of many small scans is checked
    between scans rather than between 64 KiB blocks.
    """

    def __init__(self, fp: io.BytesIO, boundaries: list[int]) -> None:
        self._fp = fp
        self._boundaries = boundaries
        self.deadline: float | None = None

    def read(self, size: int = -1) -> bytes:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DecodeBudgetExceeded()
        at = self._fp.tell()
        i = bisect.bisect_right(self._boundaries, at)
        if i < len(self._boundaries) and (size < 0 or at + size > self._boundaries[i]):
            size = self._boundaries[i] - at
        return self._fp.read(size)

    def __getattr__(self, name: str):
        return getattr(self._fp, name)


def guard(
    img: Image.Image,
    buffer: bytes,
    budget_s: float = DECODE_BUDGET_S,
    max_pixel_scans: float = MAX_PIXEL_SCANS,
    clock: Callable[[], float] = time.monotonic,
) -> Image.Image:
    """Makes `img` (opened, not yet decoded) refuse costly decodes and stop at `budget_s`.

    Raises tornado HTTPErrors from the decode: 422 over budget, 400 undecodable.
    """
    if not isinstance(img, ImageFile.ImageFile) or img.fp is None:
        return img
    boundaries = jpeg_scan_offsets(buffer) if img.format == "JPEG" else []
    fp = BudgetedFile(img.fp, boundaries)
    img.fp = fp
    load = img.load
    # The size in the header: a reduced-size decode (Image.draft, which Thumbor's resize asks
    # for) scales the output, but every scan's entropy data is still decoded in full.
    width, height = img.size

    def budgeted_load():
        if not img.tile:
            return load()
        if boundaries and width * height * len(boundaries) > max_pixel_scans:
            raise HTTPError(
                422,
                "refused before decoding: %dx%d JPEG with %d scans (over %d pixel-scans)",
                width,
                height,
                len(boundaries),
                max_pixel_scans,
            )
        started = clock()
        fp.deadline = started + budget_s
        try:
            return load()
        except DecodeBudgetExceeded:
            raise HTTPError(422, "decoding stopped after %.1f s (budget %.1f s)", clock() - started, budget_s) from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
            raise HTTPError(400, "could not decode the image: %s", error) from None
        finally:
            fp.deadline = None

    img.load = budgeted_load
    return img


def reduce_on_decode(img: Image.Image, width: int, height: int) -> None:
    """Asks the JPEG decoder for the smallest DCT scale (1/2, 1/4, 1/8) that still leaves
    the image at least twice the output on both axes, before anything crops it.

    Stock Thumbor asks for this only inside resize, after a crop has already decoded the
    full image (a 12 MP photo: ~230 ms instead of ~40). Both axes get twice the larger
    output side, so EXIF rotation, applied later, cannot leave one short.
    """
    side = 2 * max(width, height)
    if img.format == "JPEG" and side > 0:
        img.draft(None, (side, side))


class Engine(PILEngine):
    """Thumbor's PIL engine with `guard` applied to every image it opens, decoding JPEGs at
    reduced size when the output is much smaller."""

    def create_image(self, buffer):
        try:
            img = super().create_image(buffer)
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            # Not even the header could be read: Thumbor answers 400 for an engine without an image.
            logger.warning("could not open the image: %s", error)
            return None
        if img is None or isinstance(img, list):
            return img
        img = guard(img, buffer)
        request = self.context.request
        width, height = (getattr(request, name, 0) if request else 0 for name in ("width", "height"))
        if isinstance(width, int) and isinstance(height, int):
            reduce_on_decode(img, width, height)
        return img
