"""Where the `smart` crop goes (attention_detector.py): to a subject clearly off-centre, and
nowhere (the centre) when there is none."""

from __future__ import annotations

import random

import pytest
from attention_detector import best_offset, find_subject
from PIL import Image, ImageDraw


def scene(size: tuple[int, int], subject_at: tuple[float, float] | None) -> Image.Image:
    """A plain wall, with a busy, colourful object (a subject) centred at `subject_at` (fractions)."""
    img = Image.new("RGB", size, (128, 128, 128))
    if subject_at is not None:
        rng = random.Random(7)
        draw = ImageDraw.Draw(img)
        cx, cy = subject_at[0] * size[0], subject_at[1] * size[1]
        r = min(size) // 6
        for _ in range(300):
            x, y = cx + rng.uniform(-r, r), cy + rng.uniform(-r, r)
            draw.rectangle([x, y, x + 6, y + 6], fill=(rng.randrange(256), rng.randrange(64), rng.randrange(256)))
    return img


@pytest.mark.parametrize(("at", "side"), [((0.12, 0.5), "left"), ((0.88, 0.5), "right")])
def test_a_subject_off_centre_in_a_wide_picture_moves_the_crop_to_it(at, side):
    img = scene((800, 400), at)
    point = find_subject(img, 100, 100)
    assert point is not None
    x, y = point
    assert y == 200  # the crop spans the whole height: only x has a choice
    assert (x < 400) if side == "left" else (x > 400)
    # The square crop (400 wide here) centred on x, kept inside the picture, holds the subject.
    assert x - 200 <= at[0] * 800 <= x + 200


def test_a_subject_off_centre_in_a_tall_picture_moves_the_crop_along_y():
    x, y = find_subject(scene((400, 800), (0.5, 0.85)), 100, 100)
    assert x == 200 and y > 400
    assert y - 200 <= 0.85 * 800 <= y + 200


@pytest.mark.parametrize("at", [(0.5, 0.5), None])
def test_no_focal_point_for_a_centred_subject_or_a_flat_picture(at):
    assert find_subject(scene((800, 400), at), 100, 100) is None


def test_no_choice_when_the_picture_already_has_the_crop_s_shape():
    assert find_subject(scene((400, 400), (0.1, 0.1)), 100, 100) is None


def test_best_offset_finds_the_richest_window_and_the_centred_one():
    profile = [0, 0, 9, 9, 0, 0, 0, 0]
    # The richest run starts at 2 (9 + 9); the centred run (from 3) holds 9.
    assert best_offset(profile, 2) == (2, 18, 9)
