"""A decode bounded in cost, time and memory (decode_budget.guard): its share of the decode memory
taken and given back, a JPEG's scans found once and refused every time, and the scans libjpeg
will not decode costing nothing."""

from __future__ import annotations

import io

import decode_budget
import pytest
from decode_budget import guard
from decode_memory import DecodeMemory, memory_bytes
from jpeg_markers import jpeg_scan_offsets
from reducers import reduce_decoded
from refusals import Refusal

from images import gradient, jpeg, opened, png_header, scan_markers


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
    monkeypatch.setattr(decode_budget, "jpeg_scan_offsets", lambda buffer: scans.append(len(buffer)) or jpeg_scan_offsets(buffer))
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


def test_scans_after_a_sequential_jpegs_only_one_are_refused_after_one_scans_decode():
    """libjpeg expects the end of the image after such a scan: 300 more cost nothing, and fail."""
    buffer = jpeg()
    first, end = scan_markers(buffer)[0], buffer.rindex(b"\xff\xd9")
    bomb = buffer[:end] + buffer[first:end] * 300 + b"\xff\xd9"
    assert jpeg_scan_offsets(bomb) == [first]
    img = guard(opened(bomb), bomb, max_pixel_scans=64 * 48 * 2)
    with pytest.raises(Refusal) as refused:
        img.load()
    assert (refused.value.status_code, refused.value.reason) == (400, "undecodable")
