"""Where a picture's subject is, for Thumbor's `smart` crop: an attention map, not OpenCV.

The crop keeps the part of the picture that draws the eye, scored the way libvips'
`smartcrop=attention` does: detail (edges of the luminance), skin tones (faces, hands)
and strong colour. The picture is first shrunk to at most 96 pixels on its long side
(a JPEG is already decoded at reduced size by our engine), so this costs about a
millisecond whatever the original's size, in Pillow alone.

Only the crop's long axis has a choice: a 100x100 crop of a landscape picture spans its
whole height and slides along its width (a portrait one, the other way round). Every
position is scored by the attention inside it; the best one becomes a focal point that
Thumbor centres the crop on. When no position beats the centred one clearly
(MIN_GAIN), the picture has no subject off-centre worth moving for — a landscape, a
texture, noise — and no focal point is given: Thumbor crops the centre, as before.

Why not Thumbor's OpenCV detectors: on the reduced image the face cascade alone took
about 25 ms for a 640x480 photo (the origin's whole budget is 15 ms), they pull in
OpenCV and NumPy (about 100 MB), and a face is only one kind of subject.

Enabled with DETECTORS = ["attention_detector"] in thumbor.conf, this directory on
PYTHONPATH.
"""

from __future__ import annotations

from PIL import Image, ImageChops, ImageDraw, ImageFilter
from renditions import FOCUS_HEADER, focus_of, format_focus
from thumbor.detectors import BaseDetector
from thumbor.point import FocalPoint
from thumbor.utils import logger

# The long side of the picture the attention is computed on.
WORK_SIDE = 96
# The best crop must hold this much more attention than the centred one to be chosen.
MIN_GAIN = 1.25
# How much skin tones and saturated colour add to detail (0-255 each, before clipping).
SKIN_WEIGHT = 0.6
SATURATION_WEIGHT = 0.3


def _mask(channel: Image.Image, low: int, high: int) -> Image.Image:
    return channel.point(lambda v: 255 if low <= v <= high else 0)


def attention(img: Image.Image) -> Image.Image:
    """An 8-bit map of how much each part of `img` (shrunk to WORK_SIDE) draws the eye."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    scale = WORK_SIDE / max(rgb.size)
    if scale < 1:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    detail = rgb.convert("L").filter(ImageFilter.FIND_EDGES)
    # The filter sees the picture's own border as an edge: that is not detail.
    ImageDraw.Draw(detail).rectangle([0, 0, detail.width - 1, detail.height - 1], outline=0)
    _, cb, cr = rgb.convert("YCbCr").split()
    # The usual skin-tone box in YCbCr (Chai and Ngan), whatever the skin's shade.
    skin = ImageChops.multiply(_mask(cb, 77, 127), _mask(cr, 133, 173))
    saturation = rgb.convert("HSV").getchannel("S")
    extra = ImageChops.add(skin.point(lambda v: int(v * SKIN_WEIGHT)), saturation.point(lambda v: int(v * SATURATION_WEIGHT)))
    return ImageChops.add(detail, extra)


def best_offset(profile: list[float], window: int) -> tuple[int, float, float]:
    """The start of the `window`-long run of `profile` with the most in it; that sum, and the centred run's."""
    run = sum(profile[:window])
    best, best_at = run, 0
    for at in range(1, len(profile) - window + 1):
        run += profile[at + window - 1] - profile[at - 1]
        if run > best:
            best, best_at = run, at
    centre_at = (len(profile) - window) // 2
    return best_at, best, sum(profile[centre_at : centre_at + window])


def find_subject(img: Image.Image, target_width: int, target_height: int) -> tuple[float, float] | None:
    """Where a `target_width`:`target_height` crop of `img` should be centred, in `img`'s
    pixels; None when the centre will do (no subject clearly elsewhere, or no choice)."""
    width, height = img.size
    if not (width and height and target_width and target_height):
        return None
    scores = attention(img)
    sw, sh = scores.size
    target_ratio = target_width / target_height
    if width / height > target_ratio * 1.01:
        # Wider than the crop: the crop slides along x. Column means of the map.
        profile = list(scores.resize((sw, 1), Image.Resampling.BOX).get_flattened_data())
        window, along = max(1, round(sh * target_ratio)), "x"
    elif height / width > (1 / target_ratio) * 1.01:
        profile = list(scores.resize((1, sh), Image.Resampling.BOX).get_flattened_data())
        window, along = max(1, round(sw / target_ratio)), "y"
    else:
        return None  # the crop is the whole picture
    if window >= len(profile):
        return None
    at, best, centre = best_offset(profile, window)
    if best < centre * MIN_GAIN or best - centre < window:  # less than one level per cell: noise
        return None
    middle = (at + window / 2) / len(profile)
    return (middle * width, height / 2) if along == "x" else (width / 2, middle * height)


class Detector(BaseDetector):
    """Adds one focal point where the attention is, or none (Thumbor then crops the centre). A request
    that names its crop's centre (`focus`, renditions.py) gets that point instead, and is not looked at.
    Either way the answer says where the crop is centred (`Edge-Focus`), for later renditions."""

    async def detect(self):
        request = self.context.request
        # In Thumbor's thread pool, like its other image work: detection is the first thing to
        # touch the pixels, so the decode happens here, and on the event loop it would hold
        # every other request back for as long (a 12 MP JPEG: ~50 ms).
        point, size = await self.context.thread_pool.queue(
            self._find, self.context.modules.engine, request.width or 0, request.height or 0, focus_of(request)
        )
        width, height = size
        x, y = point if point is not None else (width / 2, height / 2)
        handler = getattr(self.context, "request_handler", None)
        if handler is not None and width and height:
            handler.set_header(FOCUS_HEADER, format_focus(x / width, y / height))
        if point is None:
            return await self.next()
        request.focal_points.append(FocalPoint(x, y, origin="attention"))
        return None

    @staticmethod
    def _find(
        engine, width: int, height: int, focus: tuple[float, float] | None
    ) -> tuple[tuple[float, float] | None, tuple[int, int]]:
        """The crop's centre in the prepared picture's pixels (None: its centre), and that picture's size."""
        # Decoded under our engine's budget (and turned upright, and shrunk): a refusal (an
        # HTTPError) must reach the client as such, so it is not caught here, and thumbor.conf
        # sets IGNORE_SMART_ERRORS = False.
        image = engine.prepare(width, height) if hasattr(engine, "prepare") else engine.image
        image.load()
        if focus is not None:
            return (focus[0] * image.width, focus[1] * image.height), image.size
        try:
            return find_subject(image, width, height), image.size
        except Exception as error:  # pylint: disable=broad-except
            logger.warning("attention detection failed, cropping the centre: %s", error)
            return None, image.size
