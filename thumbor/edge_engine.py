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
import weakref
from typing import Callable

import pillow_heif
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
    # The image holds this function, so the function holds the image weakly: a cycle would keep
    # every decoded image (36 MB for 12 MP) alive until Python's cycle collector ran, and a busy
    # process at several times the memory it needs.
    load = type(img).load
    image = weakref.ref(img)
    # The size in the header: a reduced-size decode (Image.draft, which Thumbor's resize asks
    # for) scales the output, but every scan's entropy data is still decoded in full.
    width, height = img.size

    def budgeted_load():
        img = image()
        if img is None:
            return None
        if not img.tile:
            return load(img)
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
            return load(img)
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


def heif_thumbnail(img: Image.Image, buffer: bytes, width: int, height: int) -> Image.Image | None:
    """The smallest thumbnail stored in a HEIC/HEIF file that is still at least twice the
    output on both axes, decoded (upright: libheif applies the file's rotation), or None.

    HEVC has no reduced-size decoding, and a phone's 12 MP HEIC takes about a second to
    decode in full; iPhones store a 320x240 thumbnail beside it, plenty for 100x100.
    """
    side = 2 * max(width, height)
    sizes = img.info.get("thumbnails") or []
    if img.format != "HEIF" or side <= 0 or not sizes:
        return None
    heif = pillow_heif.open_heif(buffer, convert_hdr_to_8bit=True)
    primary = heif[heif.primary_index]
    candidates = []
    for index in range(len(sizes)):
        thumbnail = primary.get_thumbnail(index)
        if min(thumbnail.size) >= side:
            candidates.append((thumbnail.size[0] * thumbnail.size[1], index, thumbnail))
    if not candidates:
        return None
    thumbnail = min(candidates)[2].to_pillow()
    thumbnail.info.pop("exif", None)  # already upright: its EXIF must not turn it again
    return thumbnail


# Formats Image.reduce handles (a palette image is left as it is).
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "I", "F")


def reduce_decoded(img: Image.Image, width: int, height: int) -> Image.Image:
    """For an image decoded in full (PNG, HEIC without a thumbnail, WebP, AVIF, TIFF): shrink
    it at once by the largest whole factor that still leaves twice the output on both axes
    (a box filter, as Pillow's own `reducing_gap` does before a resize), so its full-size
    pixels are freed right away and every later step works on a small image."""
    side = 2 * max(width, height)
    factor = min(img.size) // side if side > 0 else 0
    if factor < 2 or img.mode not in REDUCIBLE_MODES:
        return img
    return img.reduce(factor)


class Engine(PILEngine):
    """Thumbor's PIL engine with `guard` applied to every image it opens, decoding JPEGs at
    reduced size and HEICs from their stored thumbnail when the output is much smaller,
    and decoding in Thumbor's thread pool rather than on its event loop."""

    _pending_orientation: int | None = None

    @property
    def image(self):
        """The image, turned upright first if `reorientate` left that for later."""
        img = self.__dict__.get("_image")
        if self._pending_orientation is not None and img is not None:
            orientation, self._pending_orientation = self._pending_orientation, None
            self._turn(orientation)  # sets self.image again
            img = self.__dict__.get("_image")
        return img

    @image.setter
    def image(self, value):
        self.__dict__["_image"] = value

    def reorientate(self, override_exif=True):
        """Thumbor calls this on its event loop, and turning an image decodes it (a 12 MP
        photo: ~50 ms during which no other request is served). The turn is left for the
        first use of the pixels, in the thread pool; the metadata says upright at once."""
        exif = self._get_exif_object()
        orientation = exif.get_orientation() if exif else None
        if orientation in (None, 1):
            return
        self._pending_orientation = orientation
        if override_exif:
            try:
                exif.set_orientation(1)
                self.exif = exif.tobytes()
            except Exception as error:  # pylint: disable=broad-except
                logger.error("[exif] %s", error)

    def _turn(self, orientation: int) -> None:
        """Thumbor's own turns for each EXIF orientation (engines/__init__.py, reorientate)."""
        if orientation == 2:
            self.flip_horizontally()
        elif orientation == 3:
            self.rotate(180)
        elif orientation == 4:
            self.flip_vertically()
        elif orientation == 5:
            self.flip_vertically()
            self.rotate(270)
        elif orientation == 6:
            self.rotate(270)
        elif orientation == 7:
            self.flip_horizontally()
            self.rotate(270)
        elif orientation == 8:
            self.rotate(90)

    def prepare(self, width: int, height: int) -> Image.Image:
        """Decodes (in the caller's thread: the pool's), turns upright and shrinks the image
        for a `width`x`height` output; returns it."""
        self.image.load()
        self.image = reduce_decoded(self.image, width, height)
        return self.image

    def create_image(self, buffer):
        try:
            img = super().create_image(buffer)
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            # Not even the header could be read: Thumbor answers 400 for an engine without an image.
            logger.warning("could not open the image: %s", error)
            return None
        if img is None or isinstance(img, list):
            return img
        request = self.context.request
        width, height = (getattr(request, name, 0) if request else 0 for name in ("width", "height"))
        if not (isinstance(width, int) and isinstance(height, int)):
            width = height = 0
        try:
            small = heif_thumbnail(img, buffer, width, height)
        except (OSError, ValueError, RuntimeError) as error:
            logger.warning("could not read the HEIF thumbnails, decoding the whole image: %s", error)
            small = None
        if small is not None:
            return small
        img = guard(img, buffer)
        reduce_on_decode(img, width, height)
        return img
