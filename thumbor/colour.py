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

import collections
import functools
import hashlib
import io
import logging
import threading

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


# Profiles read and transforms built, by the profile's digest: a batch of one camera's photos shares
# them, and a 1 MB CMYK profile is parsed once, not for every image (nor hashed by a cache's key).
_CACHE: collections.OrderedDict[tuple, object] = collections.OrderedDict()
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


def _cached(key: tuple, make):
    """`make()`, remembered under `key` (the least recently used of _CACHE_SIZE goes)."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = make()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _read(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return None


def profile_space(icc: bytes) -> str | None:
    """The colour space an ICC profile is for ("RGB", "GRAY", "CMYK"…), or None when it cannot be read."""
    profile = _cached(("profile", hashlib.sha1(icc).hexdigest()), lambda: _read(icc))
    return profile.profile.xcolor_space.strip() if profile else None


def _transform(icc: bytes | None, mode: str) -> ImageCms.ImageCmsTransform:
    """A transform to sRGB from `icc` (None: the standard CMYK profile) for pixels of `mode`."""
    digest = hashlib.sha1(icc).hexdigest() if icc is not None else "standard cmyk"

    def build() -> ImageCms.ImageCmsTransform:
        profile = standard_cmyk() if icc is None else _cached(("profile", digest), lambda: _read(icc))
        return ImageCms.buildTransform(profile, SRGB, mode, "RGB", renderingIntent=INTENT, flags=FLAGS)

    return _cached(("transform", digest, mode), build)


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
    found = profile_space(icc) if icc else None
    if icc and found != space:
        logger.warning("colour profile ignored: %s, for %s pixels", found or "unreadable", space)
    source = icc if icc and found == space else None
    if source is None and base.mode != "CMYK":
        out = base
    else:
        try:
            out = ImageCms.applyTransform(base, _transform(source, base.mode))  # CMYK without one: the standard profile
        except (OSError, ValueError, ImageCms.PyCMSError) as error:
            logger.warning("colour profile ignored: the transform failed: %s", error)
            out = base if base.mode != "CMYK" else ImageCms.applyTransform(base, _transform(None, "CMYK"))
    if alpha is not None:
        out = out.convert("RGBA" if out.mode == "RGB" else "LA")
        out.putalpha(alpha)
    out.info = {k: v for k, v in img.info.items() if k not in METADATA and k != "transparency"}
    return out
