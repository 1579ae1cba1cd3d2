"""The origin's limits, from the environment (thumbor.conf says which), and the checks made
before an image is decoded: its pixels and the bytes it decodes to, read from its header.

The time a decode may take and the pixel-scans a JPEG may have are spent by decode_budget.py;
the decoded images one process holds at once, by decode_memory.py.
"""

from __future__ import annotations

import os

from PIL import Image
from refusals import Refusal

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
