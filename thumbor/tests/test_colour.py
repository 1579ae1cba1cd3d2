"""Colour management (colour.py, and vips_decode for PNGs): sRGB through the embedded profile, no
profile or metadata left, broken profiles ignored."""

from __future__ import annotations

import io
import logging

import pyvips
from colour import standard_cmyk, to_srgb
from PIL import Image
from reducers import reduce_decoded
from vips_decode import vips_reduce

from images import delta_e


def profile(name: str) -> bytes:
    """One of libvips' own ICC profiles (`srgb`, `p3`, `cmyk`)."""
    lab = pyvips.Image.black(1, 1, bands=3).copy(interpretation="lab")
    return lab.icc_export(output_profile=name).get("icc-profile-data")


def mean(img: Image.Image) -> tuple[float, ...]:
    pixels = img.convert("RGB").get_flattened_data()
    n = len(pixels)
    return tuple(sum(p[i] for p in pixels) / n for i in range(3))


def as_shown(pixels: Image.Image, icc: bytes) -> tuple[float, ...]:
    """How a colour-managed viewer shows `pixels` with `icc`: libvips' own conversion to sRGB."""
    bands = len(pixels.getbands())
    image = pyvips.Image.new_from_memory(pixels.tobytes(), pixels.width, pixels.height, bands, "uchar")
    image = image.copy(interpretation="cmyk" if pixels.mode == "CMYK" else "srgb" if bands >= 3 else "b-w")
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    shown = image.icc_transform("srgb", embedded=True, intent="relative", black_point_compensation=True)
    return tuple(shown.stats()(4, i + 1)[0] for i in range(3))  # each band's mean


def test_a_p3_photo_is_shown_the_same_in_srgb_and_carries_no_profile():
    p3 = profile("p3")
    for colour in [(235, 50, 45), (60, 190, 80), (40, 90, 210), (200, 180, 150)]:
        pixels = Image.new("RGB", (64, 64), colour)
        pixels.info.update(icc_profile=p3, exif=b"Exif\0\0GPS", xmp=b"<x:xmpmeta/>")
        out = to_srgb(pixels, p3)
        assert out.mode == "RGB" and not {"icc_profile", "exif", "xmp"} & out.info.keys()
        shown = as_shown(pixels, p3)
        assert delta_e(mean(out), shown) < 1, colour
    # What the issue saw: P3 numbers read as sRGB are visibly off, so the check above can fail.
    saturated = Image.new("RGB", (8, 8), (235, 50, 45))
    assert delta_e(mean(saturated), as_shown(saturated, p3)) > 3


def test_cmyk_goes_through_its_profile_or_a_standard_one_never_a_plain_convert():
    cmyk = profile("cmyk")
    pixels = Image.new("CMYK", (32, 32), (200, 20, 90, 30))  # a teal in ink
    with_profile = to_srgb(pixels, cmyk)
    assert with_profile.mode == "RGB"
    assert delta_e(mean(with_profile), as_shown(pixels, cmyk)) < 1
    # Without a profile: the standard one (libvips' own), the same teal.
    assert delta_e(mean(to_srgb(pixels, None)), mean(with_profile)) < 1
    assert standard_cmyk().profile.xcolor_space.strip() == "CMYK"
    # Pillow's plain conversion ignores ink: far off.
    assert delta_e(mean(pixels.convert("RGB")), mean(with_profile)) > 10


def test_a_big_cmyk_image_is_shrunk_as_cmyk_then_converted_through_its_profile():
    cmyk = profile("cmyk")
    pixels = Image.new("CMYK", (1600, 1200), (200, 20, 90, 30))  # a TIFF, say: no reduced-size decode
    small = reduce_decoded(pixels, 100, 100)
    assert small.mode == "CMYK" and small.size == (267, 200)  # by 6: still twice the output
    assert delta_e(mean(to_srgb(small, cmyk)), as_shown(pixels.resize((8, 8)), cmyk)) < 1


def test_alpha_and_grey_are_kept():
    rgba = Image.new("RGBA", (16, 16), (235, 50, 45, 0))
    rgba.paste((235, 50, 45, 255), (0, 0, 8, 16))
    out = to_srgb(rgba, profile("p3"))
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (0, 255)
    grey = Image.new("L", (8, 8), 128)
    assert to_srgb(grey, None).mode == "L"  # no profile: sRGB's grey as it is
    palette = Image.new("RGB", (8, 8), (10, 200, 30)).convert("P")
    assert to_srgb(palette, None).mode == "RGB"


def test_a_broken_or_mismatched_profile_is_ignored_and_said(caplog):
    pixels = Image.new("RGB", (8, 8), (120, 60, 30))
    with caplog.at_level(logging.WARNING, logger="edge.colour"):
        for icc in (b"not a profile", profile("p3")[:100], profile("cmyk")):
            out = to_srgb(pixels, icc)
            assert mean(out) == (120, 60, 30) and "icc_profile" not in out.info
    assert len([r for r in caplog.records if "colour profile ignored" in r.getMessage()]) == 3


def test_a_16_bit_p3_png_is_shrunk_at_16_bits_then_made_srgb_by_libvips():
    p3 = profile("p3")
    rgb16 = pyvips.Image.black(800, 600, bands=3).linear([1, 1, 1], [60000, 12000, 9000]).cast("ushort")
    rgb16 = rgb16.copy(interpretation="rgb16")
    rgb16.set_type(pyvips.GValue.blob_type, "icc-profile-data", p3)
    buffer = rgb16.write_to_buffer(".png")
    opened = Image.open(io.BytesIO(buffer))
    out = vips_reduce(buffer, opened, 100, 100)
    assert out.mode == "RGB" and "icc_profile" not in out.info
    expected = as_shown(Image.new("RGB", (4, 4), (233, 47, 35)), p3)  # 60000/65535*255 …
    assert delta_e(mean(out), expected) < 1.5
