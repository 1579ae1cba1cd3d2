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
- Memory: an image is refused unopened when it has more pixels than THUMBOR_MAX_PIXELS (Pillow
  itself only warns between one and two times its limit) or more decoded bytes than
  THUMBOR_MAX_DECODED_BYTES (width x height x channels x bytes per sample: bit depth and
  alpha count). Every decode is admitted against the process's THUMBOR_DECODE_MEMORY_MB
  (DecodeMemory): big images wait for each other rather than stack, and their memory goes
  back to the system once they are reduced.

Each refusal is a `refusals.Refusal`, whose answer says it is about the image (the
`Edge-Refusal` header): 422 `too_complex` for an image too costly to decode, 422
`too_large` for one over the limits, 400 `undecodable` for one that cannot be decoded,
503 `busy` when the decode memory stays full. Decoding happens inside the transform step,
where Thumbor lets an HTTPError through as the status; a refusal found while opening is
recorded on the handler instead (Thumbor turns an engine's exceptions into 500s).

Configured by environment (see thumbor.conf); enabled with ENGINE = "edge_engine"
and this directory on PYTHONPATH.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import io
import json
import os
import re
import threading
import time
import weakref
from collections.abc import Callable

import pillow_heif
import pyvips
from PIL import Image, ImageFile
from placeholder import image_facts, oriented, placeholder
from refusals import Refusal, refuse_later
from thumbor.engines.pil import Engine as PILEngine
from thumbor.utils import logger

# Thumbor's PIL engine turns this on at import; a truncated file must fail instead.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DECODE_BUDGET_S = int(os.environ.get("THUMBOR_DECODE_BUDGET_MS", "5000")) / 1000
# About a 50-megapixel JPEG with 32 scans; ordinary progressive JPEGs have about 10.
MAX_PIXEL_SCANS = float(os.environ.get("THUMBOR_MAX_PIXEL_SCANS", str(50_000_000 * 32)))

# Pixels an image may have; Thumbor's own MAX_PIXELS is None (thumbor.conf): this is checked here.
MAX_PIXELS = int(float(os.environ.get("THUMBOR_MAX_PIXELS", "50000000")))
# 50 megapixels of 8-bit RGBA: any ordinary image within the pixel limit fits.
MAX_DECODED_BYTES = int(os.environ.get("THUMBOR_MAX_DECODED_BYTES", "200000000"))
# The decoded images one process holds at once (Pillow's own size for them: 4 bytes a pixel
# for RGB); a decode that would go past it waits, THUMBOR_DECODE_WAIT_MS at most.
DECODE_MEMORY_BYTES = int(os.environ.get("THUMBOR_DECODE_MEMORY_MB", "300")) * 1024 * 1024
DECODE_WAIT_S = int(os.environ.get("THUMBOR_DECODE_WAIT_MS", "20000")) / 1000

SOS = b"\xff\xda"
_SOS_PATTERN = re.compile(re.escape(SOS))

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


# PNG colour types: channels once decoded (a palette becomes RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}


def decoded_bytes(img: Image.Image, buffer: bytes) -> int:
    """Width x height x channels x bytes per sample, from the file's header: the same rule
    as the Worker's at upload (src/images/size.ts), bit depth and alpha included."""
    width, height = img.size
    channels, sample_bytes = len(img.getbands()), 1
    if img.format == "PNG" and len(buffer) >= 26:
        channels, sample_bytes = _PNG_CHANNELS.get(buffer[25], 4), 2 if buffer[24] == 16 else 1
    elif img.format == "JPEG":
        channels, sample_bytes = getattr(img, "layers", channels), 2 if getattr(img, "bits", 8) > 8 else 1
    elif img.format == "TIFF":
        tags = getattr(img, "tag_v2", {})
        bits = tags.get(258, (8,))
        channels = int(tags.get(277, len(bits) if isinstance(bits, tuple) else 1))
        sample_bytes = (max(bits if isinstance(bits, tuple) else (bits,)) + 7) // 8
    elif img.format == "GIF":
        channels = 4
    elif img.format in ("HEIF", "AVIF"):
        sample_bytes = 2 if int(img.info.get("bit_depth", 8)) > 8 else 1
    return width * height * channels * sample_bytes


class DecodeBudgetExceeded(Exception):
    """Decoding ran past its time budget."""


# Frames whose scans are sequential: baseline, extended (Huffman), and arithmetic-coded.
_SEQUENTIAL_FRAMES = frozenset((0xC0, 0xC1, 0xC9))
# Markers that start a frame (SOF0-15), but for DHT, JPG and DAC, which share their range.
_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def only_scan(buffer: bytes) -> int | None:
    """Where a JPEG's one scan starts, when libjpeg will decode no other: a sequential frame
    whose first scan carries every component. libjpeg then expects the end of the image after
    that scan and fails at another (jdinput.c, has_multiple_scans), so later scan markers cost
    nothing to decode. Most photos are such: their scans need not be looked for through the
    rest of the file, and the start found is the true one, not one in an EXIF thumbnail.
    None when the file is anything else (progressive, a first scan of one component of three,
    markers out of order): every scan is counted then. (src/images/jpeg.ts, hasOneScanOnly,
    decides the same for the Worker's count at upload.)"""
    at, frame, components = 2, None, 0
    while at + 4 < len(buffer):
        if buffer[at] != 0xFF:
            return None
        marker = buffer[at + 1]
        if marker == 0xFF:  # a fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker == 0xD9:  # the end, before any scan
            return None
        length = (buffer[at + 2] << 8) | buffer[at + 3]
        if marker in _FRAMES:
            if frame is not None or at + 9 >= len(buffer):
                return None
            frame, components = marker, buffer[at + 9]
        elif marker == 0xDA:
            in_scan = buffer[at + 4]
            return at if frame in _SEQUENTIAL_FRAMES and 0 < in_scan == components else None
        at += 2 + length
    return None


def jpeg_scan_offsets(buffer: bytes) -> list[int]:
    """Where each start-of-scan marker sits (see src/images/jpeg.ts for why FF DA is enough),
    or only the first when no other can be decoded (only_scan).

    A compiled pattern finds them twice as fast as bytes.find, which CPython runs byte by byte
    for a two-byte needle (a 6 MB photo: 2.7 ms instead of 7; a 10,000-scan bomb: 1.8 instead
    of 2.8). This runs in the decode's thread (the pool's), just before the decode, not on
    Thumbor's event loop, where about 1 ms per 2 MB would hold up every other request."""
    only = only_scan(buffer)
    if only is not None:
        return [only]
    return [match.start() for match in _SOS_PATTERN.finditer(buffer)]


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


# Modes reduced a strip at a time: with alpha (premultiplied first), or converted first.
STRIP_MODES = ("LA", "RGBA", "La", "RGBa", "P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV")
# Rows reduced at a time, at most: what a strip copy may hold beside the image.
STRIP_BYTES = 16 * 1024 * 1024


def whole_factor(size: tuple[int, int], width: int, height: int) -> int:
    """The largest whole factor an image of `size` shrinks by and still leaves twice a
    `width`x`height` output on both axes (0 without an output size)."""
    side = 2 * max(width, height)
    return min(size) // side if side > 0 else 0


def reduce_decoded(img: Image.Image, width: int, height: int) -> Image.Image:
    """For an image decoded in full (PNG, HEIC without a thumbnail, WebP, AVIF, TIFF): shrink
    it at once by the largest whole factor that still leaves twice the output on both axes
    (a box filter, as Pillow's own `reducing_gap` does before a resize), so its full-size
    pixels are freed right away and every later step works on a small image.

    Pillow reduces an image with alpha through a premultiplied copy of the whole of it, and
    other modes (a palette) must be converted first: both would double what a big image
    holds, so those go a strip of rows at a time."""
    factor = whole_factor(img.size, width, height)
    if factor < 2:
        return img
    if img.mode in ("L", "RGB", "RGBX", "I", "F"):
        return img.reduce(factor)
    if img.mode not in STRIP_MODES:
        return img
    alpha = img.mode in ("LA", "RGBA", "PA", "La", "RGBa") or "transparency" in img.info
    mode = img.mode if img.mode in ("LA", "RGBA") else "RGBA" if alpha else "RGB"
    w, h = img.size[0] // factor, img.size[1] // factor
    out = Image.new(mode, (w, h))
    rows = max(1, STRIP_BYTES // (img.size[0] * 4 * factor)) * factor
    for top in range(0, h * factor, rows):
        strip = img.crop((0, top, w * factor, min(top + rows, h * factor)))
        if strip.mode != mode:
            strip = strip.convert(mode)
        # With alpha, premultiplied: transparent pixels must not bleed their colour.
        strip = strip.convert(mode[:-1] + "a").reduce(factor).convert(mode) if alpha else strip.reduce(factor)
        out.paste(strip, (0, top // factor))
    out.info = {k: v for k, v in img.info.items() if k != "transparency"}
    return out


# libvips keeps no decoded image between requests (its operation cache would hold them), and uses
# one thread per decode, as Pillow does: Thumbor's pool decides how many images decode at once.
pyvips.cache_set_max(0)
pyvips.concurrency_set(1)

# Bands of an 8-bit image from libvips, as a Pillow mode.
_VIPS_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def vips_decodes(img: Image.Image) -> bool:
    """Whether `img` (opened by Pillow, not decoded) is decoded by libvips instead (vips_reduce):
    a PNG, which libvips reads a third faster than Pillow, and a strip of rows at a time.
    Not an interlaced PNG (libvips would hold the whole of it) nor an animated one (Thumbor
    takes its first frame; Pillow does that)."""
    return img.format == "PNG" and not img.info.get("interlace") and getattr(img, "n_frames", 1) == 1


def vips_reduce(
    buffer: bytes,
    img: Image.Image,
    width: int,
    height: int,
    budget_s: float = DECODE_BUDGET_S,
    memory: DecodeMemory = DECODE_MEMORY,
) -> Image.Image:
    """Decodes the PNG in `buffer` (opened as `img`) with libvips, a strip of rows at a time, and
    shrinks it as it goes by the same whole factor as reduce_decoded (whole_factor; a box filter,
    premultiplied with alpha): the full-size image is never held, only the shrunk one, whose size is what the
    decode memory admits. 16-bit samples become 8, a palette or tRNS becomes RGB(A), grey stays
    grey. Decoding stops at the time budget; a PNG that libvips cannot decode to its end
    (corrupt, truncated) is refused as undecodable."""
    factor = whole_factor(img.size, width, height)
    step = max(factor, 1)
    share = -(-img.size[0] // step) * -(-img.size[1] // step) * 4
    memory.acquire(share)
    try:
        image, pixels = _vips_shrunk(buffer, factor, budget_s)
    except BaseException:
        memory.release(share)
        raise
    finally:
        # libvips' row buffers for a big image go back to the system now, as Pillow's full image would.
        if img.size[0] * img.size[1] * 4 >= 16 * 1024 * 1024:
            give_back_memory()
    mode = _VIPS_MODES[image.bands]
    out = Image.frombuffer(mode, (image.width, image.height), pixels, "raw", mode, 0, 1)
    out.info = {k: v for k, v in img.info.items() if k != "transparency"}
    weakref.finalize(out, memory.release, share)
    return out


def _vips_shrunk(buffer: bytes, factor: int, budget_s: float) -> tuple[pyvips.Image, bytes]:
    """The 8-bit image in `buffer` shrunk by `factor` (when 2 or more), and its pixels."""
    started = time.monotonic()
    try:
        image = pyvips.Image.new_from_buffer(buffer, "", access="sequential", fail_on="truncated")
        if image.format != "uchar":
            image = image.colourspace("b-w" if image.bands <= 2 else "srgb")
        if factor >= 2:
            alpha = image.bands in (2, 4)
            image = image.premultiply() if alpha else image
            image = image.shrink(factor, factor)
            image = (image.unpremultiply() if alpha else image).cast("uchar")
        image.set_progress(True)
        image.signal_connect("eval", lambda im, _: im.set_kill(time.monotonic() - started > budget_s))
        return image, image.write_to_memory()
    except pyvips.Error as error:
        spent = time.monotonic() - started
        if spent > budget_s:
            raise Refusal(422, "too_complex", "decoding stopped after %.1f s (budget %.1f s)", spent, budget_s) from None
        reason = str(error).strip().splitlines()[-1]
        raise Refusal(400, "undecodable", "could not decode the image: %s", reason) from None


def over_limits(img: Image.Image, buffer: bytes, max_pixels: int, max_decoded_bytes: int) -> Refusal | None:
    """A refusal when `img` (opened, not decoded) has more pixels or decoded bytes than allowed."""
    width, height = img.size
    if max_pixels and width * height > max_pixels:
        return Refusal(422, "too_large", "%dx%d is over %d pixels", width, height, max_pixels)
    need = decoded_bytes(img, buffer)
    if need > max_decoded_bytes:
        return Refusal(
            422, "too_large", "%dx%d %s decodes to %d bytes, over %d", width, height, img.mode, need, max_decoded_bytes
        )
    return None


class Engine(PILEngine):
    """Thumbor's PIL engine with `guard` applied to every image it opens, decoding JPEGs at
    reduced size and HEICs from their stored thumbnail when the output is much smaller,
    and decoding in Thumbor's thread pool rather than on its event loop."""

    _pending_orientation: int | None = None
    # What the original is (placeholder.image_facts), read when it is opened; its EXIF orientation.
    _facts: dict | None = None
    _orientation: int | None = None
    # The file of an image libvips decodes (vips_decodes), until prepare() has.
    _vips_buffer: bytes | None = None

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
        self._orientation = orientation
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
        for a `width`x`height` output; returns it. A PNG is decoded and shrunk by libvips before
        it is turned (a turn decodes: it must see the small image)."""
        if self._vips_buffer is not None:
            opened = self.__dict__["_image"]
            self.__dict__["_image"] = vips_reduce(self._vips_buffer, opened, width, height)
            self._vips_buffer = None
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
        self._facts = image_facts(img, buffer)
        refusal = over_limits(img, buffer, MAX_PIXELS, MAX_DECODED_BYTES)
        if refusal is not None:
            logger.warning("refused unopened: %s", refusal.log_message % refusal.args)
            refuse_later(self.context, refusal)
            return None
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
        # Pillow's decode stays guarded even for a PNG libvips is to decode (prepare() does that),
        # should anything reach its pixels first.
        img = guard(img, buffer)
        if vips_decodes(img):
            self._vips_buffer = buffer
        reduce_on_decode(img, width, height)
        return img

    def read(self, extension=None, quality=None):
        """The output's bytes; the answer also says what the image is (its facts) and how to paint
        it before it loads (its placeholder), from the pixels about to be encoded."""
        handler = getattr(self.context, "request_handler", None)
        if handler is not None and self._facts is not None:
            started = time.perf_counter()
            thumbhash, color = placeholder(self.image)
            handler.set_header(THUMBHASH_HEADER, thumbhash)
            handler.set_header(COLOR_HEADER, color)
            handler.set_header(FACTS_HEADER, json.dumps(oriented(self._facts, self._orientation), separators=(",", ":")))
            handler.set_header("Server-Timing", "placeholder;dur=%.2f" % ((time.perf_counter() - started) * 1000))
        return super().read(extension, quality)


# What the answer says of the image besides its bytes (src/render/origin-client.ts reads them).
THUMBHASH_HEADER = "Edge-Thumbhash"
COLOR_HEADER = "Edge-Color"
FACTS_HEADER = "Edge-Facts"
