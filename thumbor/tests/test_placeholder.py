"""The placeholder and the facts the origin sends with each thumbnail (placeholder.py)."""

import base64
import io
import json

import pytest
from PIL import Image, ImageCms, ImageDraw
from placeholder import dominant_color, image_facts, oriented, placeholder, thumbhash


def scene(background, subject, share):
    """A 100x100 picture: `background`, with a disc of `subject` covering about `share` of it."""
    img = Image.new("RGB", (100, 100), background)
    radius = (share * 100 * 100 / 3.14159) ** 0.5
    ImageDraw.Draw(img).ellipse((50 - radius, 50 - radius, 50 + radius, 50 + radius), fill=subject)
    return img


def opened(img, fmt, **save):
    """`img` written as `fmt` and opened again, as the engine opens an upload; and its bytes."""
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save)
    data = buffer.getvalue()
    return Image.open(io.BytesIO(data)), data


def test_the_dominant_colour_is_the_one_a_person_names():
    # A red apple on a white table is red, though the table covers more of the picture.
    assert dominant_color(scene((245, 245, 240), (200, 30, 30), 0.3)) == "#c81e1e"
    # A grey picture is grey; a small vivid spot does not outweigh it.
    assert dominant_color(scene((128, 128, 128), (0, 200, 0), 0.05)) == "#808080"
    # Two vivid colours: the bigger one.
    assert dominant_color(scene((30, 80, 200), (40, 160, 40), 0.35)) == "#1e50c8"


def test_transparent_pixels_have_no_say_in_the_colour():
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((30, 30, 70, 70), fill=(250, 200, 0, 255))
    assert dominant_color(img) == "#fac800"
    assert dominant_color(Image.new("RGBA", (10, 10), (255, 0, 0, 0))) == "#000000"


def test_thumbhash_has_the_reference_layout():
    opaque = thumbhash(scene((245, 245, 240), (200, 30, 30), 0.3))
    # 5 header bytes and the AC nibbles of L (7x7 triangle: 27), P and Q (5 each): 19 bytes in all.
    assert len(opaque) == 5 + (27 + 5 + 5 + 1) // 2
    assert opaque[2] >> 7 == 0  # no alpha
    img = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((10, 5, 60, 45), fill=(0, 90, 200, 255))
    with_alpha = thumbhash(img)
    assert with_alpha[2] >> 7 == 1  # alpha, and landscape
    assert with_alpha[4] >> 7 == 1
    with pytest.raises(ValueError):
        thumbhash(Image.new("RGB", (101, 100)))


def test_the_placeholder_is_its_thumbhash_and_dominant_colour():
    # (What it costs is measured by npm run bench:thumbor, from the origin's Server-Timing: no clock here.)
    img = scene((245, 245, 240), (200, 30, 30), 0.3)
    hash64, colour = placeholder(img)
    assert base64.b64decode(hash64) == thumbhash(img) and colour == "#c81e1e"


def test_facts_of_an_upright_jpeg():
    img, data = opened(Image.new("RGB", (64, 48), "navy"), "JPEG")
    assert oriented(image_facts(img, data), None) == {
        "format": "jpeg",
        "width": 64,
        "height": 48,
        "frames": 1,
        "animated": False,
        "alpha": False,
        "bitDepth": 8,
        "colorSpace": "rgb",
        "iccProfile": None,
        "orientation": 1,
        "rotated": False,
        "displayWidth": 64,
        "displayHeight": 48,
    }


def test_facts_of_a_turned_image_give_its_displayed_size():
    img, data = opened(Image.new("RGB", (64, 48), "navy"), "JPEG")
    facts = oriented(image_facts(img, data), 6)
    assert (facts["width"], facts["height"], facts["displayWidth"], facts["displayHeight"]) == (64, 48, 48, 64)
    assert facts["rotated"] is True and facts["orientation"] == 6
    mirrored = oriented(image_facts(img, data), 2)
    assert (mirrored["displayWidth"], mirrored["rotated"]) == (64, True)


def test_facts_of_alpha_depth_frames_and_profiles():
    rgba, data = opened(Image.new("RGBA", (8, 8), (1, 2, 3, 4)), "PNG")
    assert image_facts(rgba, data)["alpha"] is True
    deep, data = opened(Image.new("I;16", (8, 8), 300), "PNG")
    assert (image_facts(deep, data)["bitDepth"], image_facts(deep, data)["colorSpace"]) == (16, "gray")
    frames = [Image.new("RGB", (8, 8), (i * 100, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gif = Image.open(io.BytesIO(buffer.getvalue()))
    assert (image_facts(gif, buffer.getvalue())["frames"], image_facts(gif, buffer.getvalue())["animated"]) == (3, True)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profiled, data = opened(Image.new("RGB", (8, 8), "white"), "JPEG", icc_profile=srgb)
    assert image_facts(profiled, data)["iccProfile"] == "sRGB"
    cmyk, data = opened(Image.new("CMYK", (8, 8)), "JPEG")
    assert image_facts(cmyk, data)["colorSpace"] == "cmyk"


def test_facts_say_nothing_of_where_or_with_what():
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x0110] = "Camera Model"  # Model
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude
    img, data = opened(Image.new("RGB", (8, 8)), "JPEG", exif=exif)
    said = json.dumps(oriented(image_facts(img, data), 1))
    for secret in ("Camera", "Maker", "Model", "48", "GPS"):
        assert secret not in said
