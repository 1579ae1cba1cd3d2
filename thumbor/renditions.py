"""Several outputs from one decode, and one framing for all of them.

A job's thumbnail comes in a fixed family of renditions (src/base/renditions.ts): 100, 200 and
300 px squares, in WebP, AVIF and JPEG. Two URL filters, both signed with the rest of the path,
let one request make several of them and let a later request frame its output exactly as the
first did:

- `also(format,size,quality)`, once per extra output: after the main output (the URL's own size,
  format and quality), the engine encodes the same final pixels resized to `size` (never larger
  than the main output: one decode, one crop, one colour conversion serve all). The answer's body
  is the outputs one after the other, main output first; `Edge-Outputs` gives their lengths.
- `focus(x,y)`: where the crop is centred, as fractions of the upright picture's width and
  height. The attention detector then uses it instead of looking (attention_detector.py).

An answer always holds its smallest output; a larger one is left out (its length 0 in `Edge-Outputs`) when
only a decode many times dearer could make it: a HEIC whose stored thumbnail is big enough for the smaller
outputs but not for the larger (an iPhone's 320x240 serves a 100 px output; a 200 px one would take the whole
HEVC decode, some thirty times the time). The Worker makes those on their first request.

Every smart-cropped answer says where its crop was centred in `Edge-Focus` (the detector's
finding, or the centre), so the Worker keeps it with the job and sends it back with `focus` for a
rendition made later: the same crop whatever size the later decode was reduced to.

AVIF and JPEG are encoded here (`encode`) rather than by Thumbor's engine, with 4:4:4 chroma: at
100 to 300 px, 4:2:0 costs a saturated edge more than the bytes it saves (`npm run bench:formats`:
at the canonical WebP's score, a 100 px JPEG is 4,240 bytes at q80 in 4:4:4 against 5,904 at q95 in
4:2:0; AVIF 2,086 against 2,330). Thumbor's engine would only take 4:2:0, or a JPEG setting that
also replaces the quality with a table. WebP, the canonical's format, stays Thumbor's (4:2:0 is all
lossy WebP has).

Enabled by listing `focus` and `renditions` in thumbor.conf's FILTERS (with this directory on
PYTHONPATH); the engine (edge_engine.py, read) makes the outputs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image
from thumbor.filters import PHASE_PRE_LOAD, BaseFilter, filter_method

# What a request may ask for: the family's formats, and a bound on the work one request makes.
FORMATS = {"webp": ".webp", "avif": ".avif", "jpeg": ".jpg", "jpg": ".jpg"}
MAX_OUTPUTS = 9

# libavif's speed (0 slowest, 10 fastest), Pillow's default: at speed 8 an AVIF is made three to five
# times faster, but needs more bytes to score as well (`npm run bench:formats`: 15 to 40 % more, which
# makes it heavier than the WebP it is meant to beat). A rendition is encoded once and sent many times.
AVIF_SPEED = 6

# The answer's headers (src/render/origin-client.ts reads them).
OUTPUTS_HEADER = "Edge-Outputs"
FOCUS_HEADER = "Edge-Focus"


@dataclass(frozen=True)
class Output:
    """One more output of a request: the final pixels resized to `size` and encoded."""

    extension: str
    size: int
    quality: int


def encodes(extension: str) -> bool:
    """Whether `encode` makes this format (the rest are Thumbor's engine's)."""
    return extension in (".avif", ".jpg", ".jpeg")


def encode(image: Image.Image, extension: str, quality: int) -> bytes:
    """An sRGB picture as AVIF or JPEG, 4:4:4, with no profile or metadata (transparency on white for JPEG)."""
    jpeg = extension in (".jpg", ".jpeg")
    if image.mode not in ("RGB", "RGBA") or (jpeg and image.mode == "RGBA"):
        rgba = image.convert("RGBA")
        if jpeg:
            background = Image.new("RGB", rgba.size, "white")
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        else:
            image = rgba if "A" in image.getbands() or image.mode == "P" else image.convert("RGB")
    out = io.BytesIO()
    if jpeg:
        image.save(out, "JPEG", quality=quality, subsampling="4:4:4", optimize=True, progressive=True)
    else:
        image.save(out, "AVIF", quality=quality, subsampling="4:4:4", speed=AVIF_SPEED)
    return out.getvalue()


def outputs_of(request) -> list[Output]:
    """The extra outputs a request asked for (`also` filters), in the URL's order."""
    return getattr(request, "edge_outputs", None) or []


def smaller_sides(request) -> list[int]:
    """The sizes of the request's outputs below its main output's, largest first."""
    main = min(request.width or 0, request.height or 0)
    return sorted({o.size for o in outputs_of(request) if o.size < main}, reverse=True)


def leave_out_above(request, side: int) -> None:
    """Makes the request's outputs up to `side` only: the main output's size becomes `side` (what the
    crop and resize make), and every output larger is left out of the answer (read)."""
    request.edge_asked_side = min(request.width, request.height)
    request.width = request.height = side


def asked_side(request, made: int) -> int:
    """The main output's side as the URL asked it (`made`, unless leave_out_above lowered it)."""
    return getattr(request, "edge_asked_side", None) or made


def focus_of(request) -> tuple[float, float] | None:
    """Where the request asked its crop to be centred (`focus`), as fractions; None: look for it."""
    return getattr(request, "edge_focus", None)


def format_focus(x: float, y: float) -> str:
    return f"{x:.4f},{y:.4f}"


class Filter(BaseFilter):
    """`also(format,size,quality)`: one more output, as above. Refused (ignored) when the format is
    not one of the family's, the size not between 1 and the main output's, or past MAX_OUTPUTS."""

    phase = PHASE_PRE_LOAD

    @filter_method(BaseFilter.String, BaseFilter.PositiveNonZeroNumber, BaseFilter.PositiveNonZeroNumber)
    async def also(self, fmt, size, quality):
        request = self.context.request
        extension = FORMATS.get(fmt.lower())
        main = min(request.width or 0, request.height or 0)
        outputs = outputs_of(request)
        if extension is None or size > main or quality > 100 or len(outputs) >= MAX_OUTPUTS:
            return
        request.edge_outputs = [*outputs, Output(extension, size, quality)]
