"""Colour management: every thumbnail is sRGB, converted through the original's embedded ICC
profile, and carries no profile of its own.

A browser shows an image's pixels through its profile (Display P3 from a phone, Adobe RGB or
ProPhoto from a camera, a CMYK print profile), and an image without one as sRGB. A thumbnail is
small and is shown everywhere, e-mail included, where a profile may not be applied: so its pixels
are converted to sRGB here and the profile dropped, as imgproxy, sharp and Cloudflare's
transformations do. A CMYK original without a profile goes through a standard CMYK profile
(libvips' own, the one it uses for the same), never a plain `convert("RGB")`, which ignores ink.

The intent is relative colorimetric with black-point compensation, Photoshop's default for a
conversion to sRGB: colours sRGB can show are kept exactly (most of a P3 photo), those it cannot
are clipped to its edge, and the original's black maps to sRGB's (a print profile's black is not
ink-free zero). Matrix-shaper profiles, which phones and cameras embed, have no perceptual tables
to choose instead.

A profile that cannot be read, or that is for another colour space than the pixels, is ignored
(said in a log line): the pixels are taken as sRGB, and the profile still goes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging

import pyvips
from PIL import Image, ImageCms

logger = logging.getLogger("edge.colour")

INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
FLAGS = ImageCms.Flags.BLACKPOINTCOMPENSATION
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

# What each of Pillow's modes needs of a profile (its colour space, as ICC names it).
_SPACES = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}

# The metadata a thumbnail must not carry: what the original's was is the original's.
METADATA = ("icc_profile", "exif", "xmp", "XML:com.adobe.xmp", "photoshop", "iptc", "comment")


@functools.lru_cache(maxsize=1)
def standard_cmyk() -> ImageCms.ImageCmsProfile:
    """libvips' own CMYK profile, for CMYK pixels that came without one (read once: it is 1 MB)."""
    lab = pyvips.Image.black(1, 1, bands=3).copy(interpretation="lab")
    return ImageCms.ImageCmsProfile(io.BytesIO(lab.icc_export(output_profile="cmyk").get("icc-profile-data")))


@functools.lru_cache(maxsize=16)
def _transform(digest: str, icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    """A transform from `icc` (cached by its digest: a batch of one camera's photos shares it)."""
    del digest  # the cache key: a digest, so that a 1 MB profile is not hashed by the cache itself
    profile = standard_cmyk() if icc == b"" else ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.buildTransform(profile, SRGB, in_mode, out_mode, renderingIntent=INTENT, flags=FLAGS)


def profile_space(icc: bytes) -> str | None:
    """The colour space an ICC profile is for ("RGB", "GRAY", "CMYK"…), or None when it cannot be read."""
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return None


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """`img` in sRGB (mode RGB or RGBA; grey without a profile stays grey), converted through `icc`,
    the original's embedded profile, with none of the original's metadata left in its info."""
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") else None
    if img.mode == "P":
        alpha = img.convert("RGBA").getchannel("A") if "transparency" in img.info else None
    base = img
    if base.mode not in _SPACES:
        base = base.convert("RGB" if base.mode not in ("LA", "La") else "L")
    space = _SPACES[base.mode]
    source = icc if icc and profile_space(icc) == space else None
    if icc and source is None:
        logger.warning("colour profile ignored: %s, for %s pixels", profile_space(icc) or "unreadable", space)
    if source is None and base.mode == "CMYK":
        source = b""  # the standard CMYK profile
    if source is None:
        out = base
    else:
        try:
            transform = _transform(hashlib.sha1(source).hexdigest(), source, base.mode, "RGB")
            out = ImageCms.applyTransform(base, transform)
        except (OSError, ValueError, ImageCms.PyCMSError) as error:
            logger.warning("colour profile ignored: the transform failed: %s", error)
            out = base if base.mode != "CMYK" else ImageCms.applyTransform(base, _transform("cmyk", b"", "CMYK", "RGB"))
    if alpha is not None:
        out = out.convert("RGBA" if out.mode == "RGB" else "LA")
        out.putalpha(alpha)
    out.info = {k: v for k, v in img.info.items() if k not in METADATA and k != "transparency"}
    return out
