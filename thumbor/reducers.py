"""The image made small early: a JPEG decoded at reduced size (DCT scaling), a HEIC from the
thumbnail stored beside it, and any image decoded in full shrunk at once by a whole factor (a
strip of rows at a time where a copy of the whole would double what it holds).
"""

from __future__ import annotations

import pillow_heif
from PIL import Image


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
STRIP_MODES = ("LA", "RGBA", "La", "RGBa", "P", "PA", "1", "YCbCr", "LAB", "HSV")
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
    # CMYK stays CMYK: its colour is converted through its profile later (colour.py), not here.
    if img.mode in ("L", "RGB", "RGBX", "CMYK", "I", "F"):
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
