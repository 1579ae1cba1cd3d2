"""What limits.py checks before a decode: the decoded-bytes rule (the Worker's, at upload) and the
pixel and decoded-bytes limits."""

from __future__ import annotations

import io

import pytest
from limits import decoded_bytes, over_limits
from PIL import Image
from refusals import Refusal

from images import opened, png_header


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
