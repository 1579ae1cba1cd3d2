"""Images the origin's tests make: PNG headers of any size, opened without Pillow's own pixel
limit, pictures with detail, and small JPEGs with their scan markers found by hand; and how far
apart two sRGB colours look (CIE76, also used by test/fixtures/colour_check.py)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png_header(width: int, height: int, bit_depth: int, color_type: int) -> bytes:
    """A PNG of `width`x`height` whose pixels are all zero (tiny to store, whatever its size)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = b"\0" + bytes(max(1, width * channels * bit_depth // 8))
    data = zlib.compress(row * height, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    extra = chunk(b"PLTE", bytes(3 * 256)) if color_type == 3 else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def opened(buffer: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = None
    return Image.open(io.BytesIO(buffer))


def gradient(mode: str, size=(1200, 800)) -> Image.Image:
    """A picture with detail and, for RGBA, a transparent half whose colour must not bleed."""
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    if mode != "RGBA":
        return base.convert(mode)
    alpha = Image.new("L", size, 255)
    alpha.paste(0, (size[0] // 2, 0, size[0], size[1]))
    rgba = base.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def jpeg(mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    gradient(mode, (64, 48)).save(out, "JPEG", **options)
    return out.getvalue()


def scan_markers(buffer: bytes) -> list[int]:
    return [at for at in range(len(buffer) - 1) if buffer[at : at + 2] == b"\xff\xda"]


def lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, 0..255 a channel."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """CIE76: the distance between two sRGB colours in L*a*b*."""
    return sum((p - q) ** 2 for p, q in zip(lab(a[:3]), lab(b[:3]), strict=True)) ** 0.5
