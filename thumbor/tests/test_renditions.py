"""Renditions (renditions.py): AVIF and JPEG encoded 4:4:4 with nothing but pixels; `also` bounded to the family."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace

from PIL import Image, JpegImagePlugin
from renditions import MAX_OUTPUTS, Filter, asked_side, encode, leave_out_above, outputs_of, smaller_sides


def test_jpeg_is_4_4_4_with_no_metadata_and_transparency_on_white():
    rgba = Image.new("RGBA", (100, 100), (200, 30, 40, 0))
    rgba.paste((10, 200, 60, 255), (50, 0, 100, 100))
    out = Image.open(io.BytesIO(encode(rgba, ".jpg", 80)))
    assert out.format == "JPEG" and out.size == (100, 100) and out.mode == "RGB"
    assert JpegImagePlugin.get_sampling(out) == 0  # 4:4:4
    assert not {"icc_profile", "exif", "xmp"} & out.info.keys()
    assert out.getpixel((10, 50)) == (255, 255, 255)
    assert max(abs(a - b) for a, b in zip(out.getpixel((80, 50)), (10, 200, 60), strict=True)) < 8


def test_avif_keeps_alpha_and_size_and_carries_no_profile():
    rgba = Image.new("RGBA", (200, 200), (200, 30, 40, 128))
    out = Image.open(io.BytesIO(encode(rgba, ".avif", 55)))
    assert out.format == "AVIF" and out.size == (200, 200) and "A" in out.getbands()
    assert not {"icc_profile", "exif", "xmp"} & out.info.keys()


def _also(request, params: str) -> None:
    """The filter as Thumbor runs it for `also(<params>)` in a URL (FiltersFactory compiles it first)."""
    Filter.pre_compile()
    instance = Filter.init_if_valid(f"also({params})", SimpleNamespace(request=request, modules=None, metrics=None))
    if instance is not None:
        asyncio.run(instance.run())


def test_also_takes_the_family_s_formats_up_to_the_main_output_s_size_and_no_more_than_max_outputs():
    request = SimpleNamespace(width=200, height=200)
    _also(request, "webp,100,80")
    _also(request, "avif,200,55")
    _also(request, "gif,100,80")  # not a format of the family
    _also(request, "jpeg,300,80")  # larger than the decode made for the main output
    _also(request, "jpeg,100,101")  # not a quality
    assert [(o.extension, o.size, o.quality) for o in outputs_of(request)] == [(".webp", 100, 80), (".avif", 200, 55)]
    for _ in range(MAX_OUTPUTS + 3):
        _also(request, "webp,100,80")
    assert len(outputs_of(request)) == MAX_OUTPUTS


def test_a_request_can_be_lowered_to_its_smaller_outputs_and_says_what_it_asked():
    request = SimpleNamespace(width=300, height=300)
    _also(request, "webp,100,80")
    _also(request, "avif,200,55")
    _also(request, "jpeg,300,85")
    assert smaller_sides(request) == [200, 100]
    assert asked_side(request, 300) == 300
    leave_out_above(request, 100)
    assert (request.width, request.height) == (100, 100)
    # The main output (300) is left out of the answer, as every output above 100 (edge_engine.read).
    assert asked_side(request, 100) == 300
