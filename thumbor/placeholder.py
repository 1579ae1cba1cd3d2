"""What a page can show before a thumbnail loads, and what the origin can say of an image:
from pixels and headers the engine already holds (the thumbnail as it is about to be served;
the original as it was opened), never a second decode.

- `thumbhash`: evanw's ThumbHash (github.com/evanw/thumbhash), ported from its reference
  JavaScript `rgbaToThumbHash` step for step (JavaScript's rounding included), so that the
  reference decoders read it; the test compares it with the reference's own output.
- `dominant_color`: the colour a person would name for the picture. The pixels are split
  into a few clusters of like colours (median cut), and the biggest wins, with vivid
  clusters counted for more than greys: a red apple on a white table is red, not pink-grey.
- `image_facts`: the original's format, size as stored and as displayed (EXIF orientation),
  frames, alpha, bit depth, colour space and ICC profile (only a standard profile's name:
  a camera's own profile may name the camera). No EXIF beyond the orientation, ever.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image, ImageCms


def _round(x: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round goes to the even neighbour)."""
    return math.floor(x + 0.5)


def _encode_channel(channel: np.ndarray, nx: int, ny: int) -> tuple[float, list[float], float]:
    """The DCT of `channel` (h x w) into its DC term, its AC terms scaled to 0..1, and their scale."""
    h, w = channel.shape
    xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        fy = np.cos(math.pi / h * cy * ys)
        rows = fy @ channel  # the y sum first: one pass over the pixels per cy
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = float(rows @ np.cos(math.pi / w * cx * xs)) / (w * h)
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def thumbhash(img: Image.Image) -> bytes:
    """The ThumbHash of `img` (at most 100x100, as ThumbHash requires)."""
    w, h = img.size
    if w > 100 or h > 100:
        raise ValueError(f"{w}x{h} does not fit in 100x100")
    opaque = "A" not in img.getbands()
    rgba = np.asarray(img.convert("RGB" if opaque else "RGBA"), dtype=np.float64)
    if opaque:
        # Every alpha is 1: the reference's compositing leaves each pixel as it is.
        alpha, total_alpha, rgb = None, float(w * h), (1 / 255) * rgba
    else:
        alpha = rgba[..., 3] / 255
        total_alpha = float(alpha.sum())
        avg = (rgba[..., :3] * (alpha / 255)[..., None]).sum(axis=(0, 1))
        if total_alpha:
            avg = avg / total_alpha
        # Composited atop the average colour.
        rgb = avg * (1 - alpha)[..., None] + (alpha / 255)[..., None] * rgba[..., :3]
    has_alpha = total_alpha < w * h
    l_limit = 5 if has_alpha else 7
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))
    # Luminance, yellow-blue, red-green.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    l_dc, l_ac, l_scale = _encode_channel((r + g + b) / 3, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel((r + g) / 2 - b, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(r - g, 3, 3)
    landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (ly if landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9) | (int(landscape) << 15)
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    channels = [l_ac, p_ac, q_ac]
    if has_alpha and alpha is not None:
        a_dc, a_ac, a_scale = _encode_channel(alpha, 5, 5)
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        channels.append(a_ac)
    start = len(out)
    factors = [f for ac in channels for f in ac]
    out.extend([0] * ((len(factors) + 1) // 2))
    for i, f in enumerate(factors):
        out[start + (i >> 1)] |= _round(15 * f) << ((i & 1) << 2)
    return bytes(out)


def dominant_color(img: Image.Image) -> str:
    """`#rrggbb`: the biggest cluster of like colours among the visible pixels, vivid ones weighted up."""
    # At 32x32 (box-averaged) the clusters come out as at 100x100, eight times faster.
    rgba = np.asarray(img.convert("RGBA").resize((32, 32), Image.Resampling.BOX))
    visible = rgba[rgba[..., 3] >= 128][:, :3]
    if visible.size == 0:
        return "#000000"
    clusters = Image.fromarray(visible.reshape(1, -1, 3)).quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = clusters.getpalette() or []
    best, best_score = (0, 0, 0), -1.0
    for count, index in clusters.getcolors() or []:
        colour = tuple(palette[3 * index : 3 * index + 3])
        chroma = (max(colour) - min(colour)) / 255
        score = count * (0.35 + chroma)
        if score > best_score:
            best, best_score = colour, score
    return "#" + "".join(f"{c:02x}" for c in best)


def placeholder(img: Image.Image) -> tuple[str, str]:
    """The ThumbHash (base64) and the dominant colour of the thumbnail `img`: one for every size of it,
    so a rendition larger than 100 px (ThumbHash's limit) is brought to the 100 px one's size first."""
    if max(img.size) > 100:
        scale = 100 / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    return base64.b64encode(thumbhash(img)).decode("ascii"), dominant_color(img)


# Bits per sample, by Pillow mode, where the file's header does not say more.
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
_MODE_SPACE = {"1": "gray", "L": "gray", "LA": "gray", "La": "gray", "I": "gray", "I;16": "gray", "CMYK": "cmyk"}
# Standard profiles, by what their descriptions say: anything else is "other".
_STANDARD_PROFILES = [
    ("srgb", "sRGB"),
    ("display p3", "Display P3"),
    ("displayp3", "Display P3"),
    ("sp3c", "Display P3"),  # the compact profile libvips ships (Compact-ICC-Profiles' DisplayP3Compat)
    ("adobe rgb", "Adobe RGB (1998)"),
    ("prophoto", "ProPhoto RGB"),
    ("2020", "Rec. 2020"),
    ("gray gamma 2.2", "Gray Gamma 2.2"),
    ("generic gray", "Generic Gray"),
]
# EXIF orientations that swap width and height.
_TRANSPOSED = {5, 6, 7, 8}


def _bit_depth(img: Image.Image, buffer: bytes) -> int:
    if img.format == "PNG" and len(buffer) >= 25:
        return buffer[24]
    if img.format == "JPEG":
        return int(getattr(img, "bits", 8))
    if img.format == "TIFF":
        bits = getattr(img, "tag_v2", {}).get(258, (8,))
        return int(max(bits) if isinstance(bits, tuple) else bits)
    if img.format in ("HEIF", "AVIF"):
        return int(img.info.get("bit_depth", 8))
    return _MODE_BITS.get(img.mode, 8)


def _profile_name(icc: bytes) -> str:
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).lower()
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return "other"
    return next((name for needle, name in _STANDARD_PROFILES if needle in description), "other")


def image_facts(img: Image.Image, buffer: bytes) -> dict:
    """What the original is, from the image as opened (before any reduced decode) and its header."""
    width, height = img.size
    frames = int(getattr(img, "n_frames", 1) or 1)
    alpha = "A" in img.getbands() or "transparency" in img.info
    icc = img.info.get("icc_profile")
    return {
        "format": (img.format or "unknown").lower(),
        "width": width,
        "height": height,
        "frames": frames,
        "animated": frames > 1,
        "alpha": bool(alpha),
        "bitDepth": _bit_depth(img, buffer),
        "colorSpace": _MODE_SPACE.get(img.mode, "rgb"),
        "iccProfile": _profile_name(icc) if icc else None,
    }


def oriented(facts: dict, orientation: int | None) -> dict:
    """`facts` with the EXIF orientation applied: the size as displayed, and whether it was turned."""
    turned = orientation is not None and orientation != 1
    transposed = orientation in _TRANSPOSED
    return {
        **facts,
        "orientation": orientation or 1,
        "rotated": turned,
        "displayWidth": facts["height"] if transposed else facts["width"],
        "displayHeight": facts["width"] if transposed else facts["height"],
    }
