"""PNGs decoded by libvips (pyvips) instead of Pillow: a strip of rows at a time, shrunk as
they come by the same whole factor as reducers.reduce_decoded, so the full-size image is never
held; made 8-bit sRGB through their embedded profile only then (16-bit samples keep their
precision until that step, an 8-bit one left to the engine's conversion of the output); stopped at
the time budget through libvips' progress signal.
"""

from __future__ import annotations

import logging
import time
import weakref

import pyvips
from colour import METADATA
from decode_memory import DECODE_MEMORY, DecodeMemory, give_back_memory
from limits import DECODE_BUDGET_S
from PIL import Image
from reducers import whole_factor
from refusals import Refusal

logger = logging.getLogger("edge.colour")

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
    # The original's profile and other metadata stay behind (the engine converts by the original's profile).
    out.info = {k: v for k, v in img.info.items() if k not in METADATA and k != "transparency"}
    weakref.finalize(out, memory.release, share)
    return out


def _vips_shrunk(buffer: bytes, factor: int, budget_s: float) -> tuple[pyvips.Image, bytes]:
    """The image in `buffer` shrunk by `factor` (when 2 or more) at its own depth, then made 8-bit
    sRGB (through its embedded profile: colour.py says why), and its pixels."""
    started = time.monotonic()
    try:
        image = pyvips.Image.new_from_buffer(buffer, "", access="sequential", fail_on="truncated")
        if factor >= 2:
            alpha = image.bands in (2, 4)
            depth = image.format
            image = image.premultiply() if alpha else image
            image = image.shrink(factor, factor)
            image = (image.unpremultiply() if alpha else image).cast(depth)
        image = _srgb8(image)
        image.set_progress(True)
        image.signal_connect("eval", lambda im, _: im.set_kill(time.monotonic() - started > budget_s))
        return image, image.write_to_memory()
    except pyvips.Error as error:
        spent = time.monotonic() - started
        if spent > budget_s:
            raise Refusal(422, "too_complex", "decoding stopped after %.1f s (budget %.1f s)", spent, budget_s) from None
        reason = str(error).strip().splitlines()[-1]
        raise Refusal(400, "undecodable", "could not decode the image: %s", reason) from None


def converts_colour(buffer: bytes) -> bool:
    """Whether vips_reduce makes the PNG in `buffer` sRGB itself: a 16-bit one, whose precision is kept
    until then. An 8-bit one comes out as its file has it, and the engine converts the output's pixels
    (colour.py), where a transform is cached: libvips builds one for every call (9.5 ms)."""
    return len(buffer) > 24 and buffer[24] == 16


def _srgb8(image: pyvips.Image) -> pyvips.Image:
    """`image` as 8-bit: a 16-bit one made sRGB through its embedded profile when it has one that works
    (relative colorimetric with black-point compensation, as colour.py), else by its interpretation;
    an 8-bit one as it is (converts_colour)."""
    if image.format != "uchar" and image.get_typeof("icc-profile-data") != 0:
        try:
            return image.icc_transform("srgb", embedded=True, intent="relative", black_point_compensation=True, depth=8)
        except pyvips.Error as error:
            logger.warning("colour profile ignored: %s", str(error).strip().splitlines()[-1])
    if image.format != "uchar":
        image = image.colourspace("b-w" if image.bands <= 2 else "srgb")
    return image
