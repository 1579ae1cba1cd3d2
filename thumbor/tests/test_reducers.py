"""Big images made small without copies of the whole (reducers.reduce_decoded)."""

from __future__ import annotations

import reducers
from reducers import reduce_decoded

from images import gradient


def test_reduce_decoded_in_strips_matches_pillows_own_reduce_for_alpha():
    img = gradient("RGBA")
    reducers.STRIP_BYTES, saved = 64 * 1024, reducers.STRIP_BYTES  # many strips
    try:
        ours = reduce_decoded(img, 100, 100)
    finally:
        reducers.STRIP_BYTES = saved
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
