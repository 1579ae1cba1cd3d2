"""The edge-thumbnails Thumbor engine: Thumbor's PIL engine, made strict and bounded.

Stock Thumbor decodes whatever it is given for as long as it takes, and fills in what is
missing: a truncated upload becomes a half-grey thumbnail, and a small progressive JPEG with
thousands of scans keeps a worker thread busy for minutes. This engine runs an image through
these steps, each in a module of its own (imgproxy's processing pipeline is the model):

1. Open (create_image, on Thumbor's event loop; the header only): what the original is
   (placeholder.image_facts); refused unopened when over the pixel or decoded-bytes limits
   (limits.over_limits: 422 `too_large`).
2. Make small before decoding: a HEIC's stored thumbnail when it is big enough
   (reducers.heif_thumbnail); a JPEG asked for a reduced-size decode (reducers.reduce_on_decode).
3. Bound the decode (decode_budget.guard): a JPEG's pixel-scans checked before it starts
   (jpeg_markers), the decoder fed a scan at a time and stopped past its time budget (422
   `too_complex`), its share of the process's decode memory taken first (decode_memory: 503
   `busy` when none frees in time), a decoder's failure a 400 `undecodable`.
4. Decode, turn upright, shrink (prepare, in Thumbor's thread pool): a PNG by libvips a strip at a
   time, a 16-bit one made sRGB at its own depth at the end (vips_decode), any other by Pillow then shrunk at once
   by a whole factor (reducers.reduce_decoded); the EXIF turn is left for this step, off the event loop.
5. Crop and resize (Thumbor's own, with our detector), then make the output sRGB through the
   original's profile (colour.py) and encode it (read) with no profile, EXIF or XMP: the answer
   carries the placeholder, from the sRGB pixels, and the facts (placeholder.py) beside the thumbnail.
6. Any further outputs the request asks for (renditions.py: `also`), from the same final pixels,
   after the main one in the same body; where the crop was centred goes in `Edge-Focus`. A HEIC
   whose stored thumbnail serves only the smaller outputs is made from it, the larger left out.

Each refusal is a `refusals.Refusal`, whose answer says it is about the image (the
`Edge-Refusal` header). Decoding happens inside the transform step, where Thumbor lets an
HTTPError through as the status; a refusal found while opening is recorded on the handler
instead (Thumbor turns an engine's exceptions into 500s).

Configured by environment (see thumbor.conf and limits.py); enabled with ENGINE = "edge_engine"
and this directory on PYTHONPATH.
"""

from __future__ import annotations

import json
import time

from colour import to_srgb
from decode_budget import guard
from limits import MAX_DECODED_BYTES, MAX_PIXELS, over_limits
from PIL import Image, ImageFile
from placeholder import image_facts, oriented, placeholder
from reducers import heif_thumbnail, reduce_decoded, reduce_on_decode
from refusals import refuse_later
from renditions import OUTPUTS_HEADER, asked_side, encode, encodes, leave_out_above, outputs_of, smaller_sides
from thumbor.engines.pil import Engine as PILEngine
from thumbor.utils import logger
from vips_decode import converts_colour, vips_decodes, vips_reduce

# Thumbor's PIL engine turns this on at import; a truncated file must fail instead.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class Engine(PILEngine):
    """Thumbor's PIL engine with `guard` applied to every image it opens, decoding JPEGs at
    reduced size and HEICs from their stored thumbnail when the output is much smaller,
    and decoding in Thumbor's thread pool rather than on its event loop."""

    _pending_orientation: int | None = None
    # What the original is (placeholder.image_facts), read when it is opened; its EXIF orientation.
    _facts: dict | None = None
    _orientation: int | None = None
    # The file of an image libvips decodes (vips_decodes), until prepare() has.
    _vips_buffer: bytes | None = None
    # The original's embedded ICC profile: its pixels are converted through it (colour.py), then it goes.
    _source_profile: bytes | None = None
    # Whether the pixels are sRGB yet (libvips makes a PNG's so as it decodes; read() does the rest).
    _srgb = False

    @property
    def image(self):
        """The image, turned upright first if `reorientate` left that for later."""
        img = self.__dict__.get("_image")
        if self._pending_orientation is not None and img is not None:
            orientation, self._pending_orientation = self._pending_orientation, None
            self._turn(orientation)  # sets self.image again
            img = self.__dict__.get("_image")
        return img

    @image.setter
    def image(self, value):
        self.__dict__["_image"] = value

    def reorientate(self, override_exif=True):
        """Thumbor calls this on its event loop, and turning an image decodes it (a 12 MP
        photo: ~50 ms during which no other request is served). The turn is left for the
        first use of the pixels, in the thread pool; the metadata says upright at once."""
        exif = self._get_exif_object()
        orientation = exif.get_orientation() if exif else None
        self._orientation = orientation
        if orientation in (None, 1):
            return
        self._pending_orientation = orientation
        if override_exif:
            try:
                exif.set_orientation(1)
                self.exif = exif.tobytes()
            except Exception as error:  # pylint: disable=broad-except
                logger.error("[exif] %s", error)

    def _turn(self, orientation: int) -> None:
        """Thumbor's own turns for each EXIF orientation (engines/__init__.py, reorientate)."""
        if orientation == 2:
            self.flip_horizontally()
        elif orientation == 3:
            self.rotate(180)
        elif orientation == 4:
            self.flip_vertically()
        elif orientation == 5:
            self.flip_vertically()
            self.rotate(270)
        elif orientation == 6:
            self.rotate(270)
        elif orientation == 7:
            self.flip_horizontally()
            self.rotate(270)
        elif orientation == 8:
            self.rotate(90)

    def prepare(self, width: int, height: int) -> Image.Image:
        """Decodes (in the caller's thread: the pool's), turns upright and shrinks the image for a
        `width`x`height` output; returns it. A PNG is decoded, shrunk and made sRGB by libvips before
        it is turned (a turn decodes: it must see the small image)."""
        if self._vips_buffer is not None:
            opened = self.__dict__["_image"]
            self.__dict__["_image"] = vips_reduce(self._vips_buffer, opened, width, height)
            # A 16-bit PNG is made sRGB by libvips, at its own depth; an 8-bit one here, on the output.
            self._srgb = converts_colour(self._vips_buffer)
            self._vips_buffer = None
        else:
            self.image.load()
            self.image = reduce_decoded(self.image, width, height)
        return self.image

    def create_image(self, buffer):
        try:
            img = super().create_image(buffer)
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            # Not even the header could be read: Thumbor answers 400 for an engine without an image.
            logger.warning("could not open the image: %s", error)
            return None
        if img is None or isinstance(img, list):
            return img
        self._facts = image_facts(img, buffer)
        self._source_profile = img.info.get("icc_profile")
        refusal = over_limits(img, buffer, MAX_PIXELS, MAX_DECODED_BYTES)
        if refusal is not None:
            logger.warning("refused unopened: %s", refusal.log_message % refusal.args)
            refuse_later(self.context, refusal)
            return None
        request = self.context.request
        width, height = (getattr(request, name, 0) if request else 0 for name in ("width", "height"))
        if not (isinstance(width, int) and isinstance(height, int)):
            width = height = 0
        try:
            small = heif_thumbnail(img, buffer, width, height)
            # One that serves the smaller outputs only: the larger are left to a request of their own.
            for side in smaller_sides(request) if small is None and request else []:
                small = heif_thumbnail(img, buffer, side, side)
                if small is not None:
                    leave_out_above(request, side)
                    break
        except (OSError, ValueError, RuntimeError) as error:
            logger.warning("could not read the HEIF thumbnails, decoding the whole image: %s", error)
            small = None
        if small is not None:
            return small
        # Pillow's decode stays guarded even for a PNG libvips is to decode (prepare() does that),
        # should anything reach its pixels first.
        img = guard(img, buffer)
        if vips_decodes(img):
            self._vips_buffer = buffer
        reduce_on_decode(img, width, height)
        return img

    def read(self, extension=None, quality=None):
        """The output's bytes; the answer also says what the image is (its facts) and how to paint
        it before it loads (its placeholder), from the pixels about to be encoded."""
        handler = getattr(self.context, "request_handler", None)
        # The output's pixels made sRGB through the original's profile: the fewest pixels to convert
        # (a tenth of the shrunk image's; converting before the final resize cost 2.6 ms more a P3 photo).
        # Nothing of the original's metadata is written: the pixels are sRGB, EXIF and XMP the original's.
        if not self._srgb:
            self.image = to_srgb(self.image, self._source_profile)
            self._srgb = True
        self.icc_profile = self.exif = None
        # Every output's pixels from the same final ones: one decode, one crop, one colour conversion.
        # One larger than those (left out: renditions.leave_out_above) is not made: its length is 0.
        final = self.image
        request = getattr(self.context, "request", None)
        outputs = outputs_of(request)
        sized = [
            None if o.size > final.width else final if o.size == final.width else final.resize((o.size, o.size), Image.LANCZOS)
            for o in outputs
        ]
        if handler is not None and self._facts is not None:
            started = time.perf_counter()
            # From the 100 px output where there is one (the canonical's own pixels), else from these.
            small = next((img for img in sized if img is not None and max(img.size) <= 100), final)
            thumbhash, color = placeholder(small)
            handler.set_header(THUMBHASH_HEADER, thumbhash)
            handler.set_header(COLOR_HEADER, color)
            handler.set_header(FACTS_HEADER, json.dumps(oriented(self._facts, self._orientation), separators=(",", ":")))
            handler.set_header("Server-Timing", "placeholder;dur=%.2f" % ((time.perf_counter() - started) * 1000))
        left_out = request is not None and asked_side(request, final.width) > final.width
        parts = [b"" if left_out else self._encode(extension, quality)]
        if not outputs:
            return parts[0]
        try:
            for output, pixels in zip(outputs, sized, strict=True):
                self.image = pixels
                parts.append(b"" if pixels is None else self._encode(output.extension, output.quality))
        finally:
            self.image = final
        if handler is not None:
            handler.set_header(OUTPUTS_HEADER, ",".join(str(len(part)) for part in parts))
        return b"".join(parts)

    def _encode(self, extension, quality):
        """AVIF and JPEG by renditions.encode (4:4:4), the rest by Thumbor's engine."""
        ext = extension or self.extension
        if encodes(ext):
            return encode(self.image, ext, quality or self.context.config.QUALITY)
        return super().read(extension, quality)


# What the answer says of the image besides its bytes (src/render/origin-client.ts reads them).
THUMBHASH_HEADER = "Edge-Thumbhash"
COLOR_HEADER = "Edge-Color"
FACTS_HEADER = "Edge-Facts"
