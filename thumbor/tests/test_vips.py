"""PNGs decoded by libvips (vips_decode.vips_reduce): the same small image as Pillow's decode and
reduce_decoded give, without ever holding the full-size one; refused like Pillow's when corrupt,
cut short or too slow; interlaced and animated PNGs left to Pillow."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
import pyvips
from decode_memory import DecodeMemory
from PIL import Image, ImageDraw, ImageFilter
from reducers import reduce_decoded
from refusals import Refusal
from vips_decode import vips_decodes, vips_reduce


def photo(mode: str, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A photo-like picture (shapes, soft edges, noise) in `mode`, with a transparent half for alpha."""
    rng = random.Random(3)
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(10, 200)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
    img = Image.blend(img.filter(ImageFilter.GaussianBlur(2)), Image.effect_noise(size, 30).convert("RGB"), 0.2)
    if mode in ("RGBA", "LA"):
        alpha = Image.new("L", size, 255)
        alpha.paste(0, (size[0] // 2, 0, size[0], size[1]))
        img = img.convert("RGBA")
        img.putalpha(alpha)
    return img.convert(mode)


def png(img: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **params)
    return out.getvalue()


def pillows(buffer: bytes, width: int, height: int) -> Image.Image:
    """What the Pillow path makes of the same file: decoded in full, then reduce_decoded."""
    img = Image.open(io.BytesIO(buffer))
    img.load()
    return reduce_decoded(img, width, height)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0..255), where both are visible (alpha-weighted)."""
    a, b = a.convert("RGBA"), b.convert("RGBA")
    assert a.size == b.size
    total = weight = 0.0
    for p, q in zip(a.get_flattened_data(), b.get_flattened_data(), strict=True):
        w = min(p[3], q[3]) / 255
        total += w * sum(abs(x - y) for x, y in zip(p[:3], q[:3], strict=True)) / 3 + abs(p[3] - q[3])
        weight += 1
    return total / weight


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_vips_makes_the_image_pillow_does(mode):
    buffer = png(photo(mode))
    memory = DecodeMemory(capacity=10**9, wait_s=1)
    ours = vips_reduce(buffer, Image.open(io.BytesIO(buffer)), 100, 100, memory=memory)
    theirs = pillows(buffer, 100, 100)
    assert ours.size == theirs.size == (300, 225)  # 1200x900 shrunk by 4: twice the output on both axes
    assert ours.mode == {"P": "RGB"}.get(mode, mode)
    assert mean_difference(ours, theirs) < 1
    # The decode memory held only the shrunk image, and has it back once that is freed.
    assert memory.held == 300 * 225 * 4
    del ours
    assert memory.held == 0


def test_vips_turns_16_bit_samples_to_8():
    img = photo("RGB", (800, 600))
    wide = (np.asarray(img).astype(np.uint16) * 257).astype(">u2")
    buffer = png_of_16_bit_rgb(wide)
    ours = vips_reduce(buffer, Image.open(io.BytesIO(buffer)), 100, 100)
    theirs = reduce_decoded(img, 100, 100)
    assert ours.mode == "RGB" and ours.size == theirs.size
    assert mean_difference(ours, theirs) < 1


def png_of_16_bit_rgb(samples) -> bytes:
    """A 16-bit RGB PNG of big-endian `samples` (height x width x 3), written by hand (Pillow writes 8)."""
    height, width, _ = samples.shape
    raw = b"".join(b"\0" + samples[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_vips_keeps_a_transparent_pixel_from_bleeding_its_colour():
    # Opaque red, then fully transparent green: shrunk by 2, the pixel over the edge (one source
    # pixel of each) is half transparent and red, not tinted green.
    img = Image.new("RGBA", (800, 400), (0, 255, 0, 0))
    img.paste((255, 0, 0, 255), (0, 0, 401, 400))
    ours = vips_reduce(png(img), img, 100, 100)
    assert ours.size == (400, 200)
    r, g, b, a = ours.getpixel((200, 100))
    assert (r, g, b) == (255, 0, 0) and 127 <= a <= 128


def test_vips_refuses_a_png_cut_short_or_corrupt_and_gives_the_memory_back():
    whole = png(photo("RGB"))
    memory = DecodeMemory(capacity=10**9, wait_s=1)
    for broken in (whole[: len(whole) // 2], whole[:100] + bytes(len(whole) - 100)):
        with pytest.raises(Refusal) as refused:
            vips_reduce(broken, Image.open(io.BytesIO(whole)), 100, 100, memory=memory)
        assert (refused.value.status_code, refused.value.reason) == (400, "undecodable")
    assert memory.held == 0


def test_vips_stops_at_the_time_budget():
    buffer = png(photo("RGB", (3000, 2000)))
    memory = DecodeMemory(capacity=10**9, wait_s=1)
    with pytest.raises(Refusal) as refused:
        vips_reduce(buffer, Image.open(io.BytesIO(buffer)), 100, 100, budget_s=0.0, memory=memory)
    assert (refused.value.status_code, refused.value.reason) == (422, "too_complex")
    assert memory.held == 0


def test_interlaced_and_animated_pngs_are_left_to_pillow():
    img = photo("RGB", (300, 200))
    assert vips_decodes(Image.open(io.BytesIO(png(img))))
    # libvips would hold the whole of an interlaced PNG (Adam7 cannot be read a row at a time).
    vips = pyvips.Image.new_from_memory(img.tobytes(), img.width, img.height, 3, "uchar")
    assert not vips_decodes(Image.open(io.BytesIO(vips.pngsave_buffer(interlace=True))))
    # Of an animated PNG Thumbor takes the first frame, as Pillow gives it.
    frames = io.BytesIO()
    img.save(frames, "PNG", save_all=True, append_images=[img.rotate(180)])
    assert not vips_decodes(Image.open(frames))
    jpeg = io.BytesIO()
    img.save(jpeg, "JPEG")
    assert not vips_decodes(Image.open(jpeg))
