"""What one Thumbor process can be made to hold: the decoded-bytes rule, the limits checked
before decoding, the per-process decode memory, and reducing big images without copies."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib

import edge_engine
import pytest
from edge_engine import DecodeMemory, decoded_bytes, guard, memory_bytes, over_limits, reduce_decoded
from PIL import Image
from refusals import Refusal


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


@pytest.mark.parametrize(
    ("bit_depth", "color_type", "per_pixel"),
    [(8, 2, 3), (8, 6, 4), (16, 6, 8), (16, 2, 6), (16, 0, 2), (8, 0, 1), (8, 4, 2), (8, 3, 4)],
)
def test_decoded_bytes_counts_bit_depth_and_alpha_as_the_worker_does(bit_depth, color_type, per_pixel):
    buffer = png_header(64, 32, bit_depth, color_type)
    assert decoded_bytes(opened(buffer), buffer) == 64 * 32 * per_pixel


def test_decoded_bytes_of_other_formats():
    for mode, fmt, per_pixel in [
        ("RGB", "JPEG", 3),
        ("L", "JPEG", 1),
        ("CMYK", "JPEG", 4),
        ("RGBA", "WEBP", 4),
        ("RGB", "TIFF", 3),
    ]:
        out = io.BytesIO()
        Image.new(mode, (20, 10)).save(out, fmt)
        assert decoded_bytes(opened(out.getvalue()), out.getvalue()) == 200 * per_pixel, (mode, fmt)
    out = io.BytesIO()
    Image.new("P", (20, 10)).save(out, "GIF")
    assert decoded_bytes(opened(out.getvalue()), out.getvalue()) == 200 * 4  # a palette decodes to RGBA


def test_over_limits_refuses_pixels_and_decoded_bytes_before_any_decode():
    deep = png_header(7070, 7070, 16, 6)  # 50 MP, 8 bytes a pixel: 400 MB decoded
    refusal = over_limits(opened(deep), deep, 50_000_000, 200_000_000)
    assert isinstance(refusal, Refusal) and (refusal.status_code, refusal.reason) == (422, "too_large")
    assert "decodes to 399879200 bytes" in refusal.log_message % refusal.args
    rgba = png_header(7000, 7000, 8, 6)  # 49 MP of 8-bit RGBA: accepted
    assert over_limits(opened(rgba), rgba, 50_000_000, 200_000_000) is None
    wide = png_header(8000, 8000, 8, 0)  # 64 MP of grey: over the pixel limit, whatever the bytes
    refusal = over_limits(opened(wide), wide, 50_000_000, 200_000_000)
    assert refusal is not None and "over 50000000 pixels" in refusal.log_message % refusal.args


def test_decode_memory_makes_big_decodes_wait_for_each_other():
    memory = DecodeMemory(capacity=100, wait_s=5)
    memory.acquire(60)
    order: list[str] = []

    def second():
        memory.acquire(60)  # 60 + 60 > 100: waits for the first
        order.append("second admitted")
        memory.release(60)

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.2)
    assert order == [] and memory.held == 60
    order.append("first released")
    memory.release(60)
    waiter.join(2)
    assert order == ["first released", "second admitted"] and memory.held == 0


def test_decode_memory_admits_an_image_larger_than_the_budget_alone_and_refuses_after_the_wait():
    memory = DecodeMemory(capacity=100, wait_s=0.2)
    memory.acquire(500)  # alone: admitted
    with pytest.raises(Refusal) as refused:
        memory.acquire(10)
    assert (refused.value.status_code, refused.value.reason) == (503, "busy")
    memory.release(500)
    memory.acquire(10)
    assert memory.held == 10


def test_guard_gives_the_decode_memory_back_when_the_full_size_image_is_freed():
    memory = DecodeMemory(capacity=10**9, wait_s=1)
    buffer = png_header(1200, 800, 8, 2)
    img = guard(opened(buffer), buffer, memory=memory)
    img.load()
    share, held = memory_bytes(img), memory.held  # (no assert on `img` itself: pytest would keep it alive)
    assert share == held == 1200 * 800 * 4
    small = reduce_decoded(img, 100, 100)
    del img
    assert memory.held == 0
    assert small.size == (300, 200)


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


def test_reduce_decoded_in_strips_matches_pillows_own_reduce_for_alpha():
    img = gradient("RGBA")
    edge_engine.STRIP_BYTES, saved = 64 * 1024, edge_engine.STRIP_BYTES  # many strips
    try:
        ours = reduce_decoded(img, 100, 100)
    finally:
        edge_engine.STRIP_BYTES = saved
    theirs = img.reduce(4)
    assert ours.size == theirs.size == (300, 200) and ours.mode == "RGBA"
    worst = max(
        abs(a - b)
        for p, q in zip(ours.get_flattened_data(), theirs.get_flattened_data(), strict=True)
        for a, b in zip(p, q, strict=True)
    )
    assert worst <= 1


def test_reduce_decoded_shrinks_a_palette_image_to_rgb_or_rgba():
    pal = gradient("RGB").convert("P")
    assert reduce_decoded(pal, 100, 100).mode == "RGB"
    pal.info["transparency"] = 0
    out = reduce_decoded(pal, 100, 100)
    assert out.mode == "RGBA" and out.size == (300, 200) and "transparency" not in out.info


def test_reduce_decoded_leaves_small_images_alone():
    img = gradient("RGBA", (300, 300))
    assert reduce_decoded(img, 100, 100) is img


def test_a_heif_decode_is_admitted_too():
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    gradient("RGB", (640, 480)).save(out, "HEIF", quality=50)
    buffer = out.getvalue()
    memory = DecodeMemory(capacity=10**9, wait_s=1)
    img = guard(opened(buffer), buffer, memory=memory)
    img.load()
    held = memory.held
    assert held == 640 * 480 * 4
    del img
    assert memory.held == 0


def test_guard_finds_a_jpegs_scans_when_it_is_decoded_once_and_refuses_every_time(monkeypatch):
    """Opening (on Thumbor's event loop) reads no scan; the decode (in the pool) finds them, once."""
    scans = []
    find = edge_engine.jpeg_scan_offsets
    monkeypatch.setattr(edge_engine, "jpeg_scan_offsets", lambda buffer: scans.append(len(buffer)) or find(buffer))
    out = io.BytesIO()
    gradient("RGB", (64, 64)).save(out, "JPEG", progressive=True)
    buffer = out.getvalue()
    img = guard(opened(buffer), buffer, max_pixel_scans=64 * 64 * 2)
    assert scans == []
    for _ in range(2):
        with pytest.raises(Refusal) as refused:
            img.load()
        assert (refused.value.status_code, refused.value.reason) == (422, "too_complex")
    assert scans == [len(buffer)]
    ok = guard(opened(buffer), buffer)
    ok.load()
    assert ok.size == (64, 64) and len(scans) == 2


def jpeg(mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    gradient(mode, (64, 48)).save(out, "JPEG", **options)
    return out.getvalue()


def scan_markers(buffer: bytes) -> list[int]:
    return [at for at in range(len(buffer) - 1) if buffer[at : at + 2] == b"\xff\xda"]


def test_a_sequential_jpeg_whose_first_scan_has_every_component_has_its_one_scan_found_without_a_search():
    for buffer in (jpeg(), jpeg("L"), jpeg(subsampling=0)):
        assert edge_engine.jpeg_scan_offsets(buffer) == scan_markers(buffer)[:1] != []
    # Another JPEG inside a marker segment (an EXIF thumbnail, say): the outer scan only.
    inner = jpeg("L")
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(inner)) + b"Exif\0\0" + inner
    outer = jpeg()
    carrying = outer[:2] + app1 + outer[2:]
    assert len(scan_markers(carrying)) == 2
    assert edge_engine.jpeg_scan_offsets(carrying) == [scan_markers(carrying)[1]]


def test_every_scan_is_counted_where_more_than_one_can_be_decoded():
    progressive = jpeg(progressive=True)
    assert edge_engine.only_scan(progressive) is None
    assert edge_engine.jpeg_scan_offsets(progressive) == scan_markers(progressive)
    assert len(scan_markers(progressive)) > 5
    # A sequential first scan of one component of three: more scans follow, and are decoded.
    one_of_three = bytearray(jpeg())
    one_of_three[scan_markers(bytes(one_of_three))[0] + 4] = 1
    assert edge_engine.only_scan(bytes(one_of_three)) is None
    for broken in (b"\xff\xd8", b"\xff\xd8\xff\xda\x00\x08\x03", b"\xff\xd8\x00\x00\x00\x00\x00\x00", jpeg()[:200]):
        assert edge_engine.only_scan(broken) is None


def test_scans_after_a_sequential_jpegs_only_one_are_refused_after_one_scans_decode():
    """libjpeg expects the end of the image after such a scan: 300 more cost nothing, and fail."""
    buffer = jpeg()
    first, end = scan_markers(buffer)[0], buffer.rindex(b"\xff\xd9")
    bomb = buffer[:end] + buffer[first:end] * 300 + b"\xff\xd9"
    assert edge_engine.jpeg_scan_offsets(bomb) == [first]
    img = guard(opened(bomb), bomb, max_pixel_scans=64 * 48 * 2)
    with pytest.raises(Refusal) as refused:
        img.load()
    assert (refused.value.status_code, refused.value.reason) == (400, "undecodable")
