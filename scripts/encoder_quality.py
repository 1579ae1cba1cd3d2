"""Which quality setting each output format needs: for the photographs of the test corpus (argv[1],
as test/fixtures/make_images.py writes it) at 100, 200 and 300 px square, the bytes and the score of
WebP, AVIF and JPEG at several qualities, each against the same pixels resized (Lanczos, sRGB through
the original's profile, as the origin makes them) as the reference. Then, per format and size, the
lowest quality whose score is at least WebP q80's (what the canonical thumbnail is made at), and its
median bytes. The score is SSIM on each plane of YCbCr, weighted 6:1:1 (luma, then the two chroma
planes): luma alone cannot see what 4:2:0 chroma costs a saturated edge. Encoders as Pillow runs them in
the origin (AVIF at the origin's speed, renditions.AVIF_SPEED), with 4:2:0 chroma and, for AVIF and JPEG, 4:4:4 beside it.

Run by `npm run bench:formats` with the Thumbor venv's Python (the origin's own modules on the path).
"""

from __future__ import annotations

import io
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "thumbor"))
from colour import to_srgb
from renditions import AVIF_SPEED

CORPUS = [
    "photo-640x480.jpg",
    "large-4000x3000.jpg",
    "subject-right-1200x600.png",
    "photo-1200x900.heic",
    "photo-256.webp",
    "p3-leaf.jpg",
    "rotated-exif6.jpg",
]
SIZES = (100, 200, 300)
QUALITIES = {
    "webp": (60, 70, 80, 90),
    "avif": (40, 50, 55, 60, 65, 70, 75, 80),
    "jpeg": (60, 70, 75, 80, 85, 90, 95),
    "avif444": (40, 50, 55, 60, 65, 70, 75, 80),
    "jpeg444": (60, 70, 75, 80, 85, 90, 95),
}


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two planes (0..255), over 8x8 windows stepped by 4 (Wang et al.'s constants)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for y in range(0, a.shape[0] - 7, 4):
        for x in range(0, a.shape[1] - 7, 4):
            p, q = a[y : y + 8, x : x + 8], b[y : y + 8, x : x + 8]
            mp, mq = p.mean(), q.mean()
            vp, vq = p.var(), q.var()
            cov = ((p - mp) * (q - mq)).mean()
            scores.append(((2 * mp * mq + c1) * (2 * cov + c2)) / ((mp**2 + mq**2 + c1) * (vp + vq + c2)))
    return float(np.mean(scores))


def score(reference: Image.Image, decoded: Image.Image) -> float:
    """SSIM of Y, Cb and Cr, weighted 6:1:1."""
    planes = [
        (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        for a, b in zip(reference.convert("YCbCr").split(), decoded.convert("YCbCr").split(), strict=True)
    ]
    y, cb, cr = (ssim(a, b) for a, b in planes)
    return (6 * y + cb + cr) / 8


def encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    chroma = "4:4:4" if fmt.endswith("444") else "4:2:0"
    if fmt.startswith("jpeg"):
        img.save(out, "JPEG", quality=quality, subsampling=chroma, optimize=True, progressive=True)
    elif fmt.startswith("avif"):
        img.save(out, "AVIF", quality=quality, subsampling=chroma, speed=AVIF_SPEED)
    else:
        img.save(out, "WEBP", quality=quality)
    return out.getvalue()


def square(path: Path) -> Image.Image:
    """The picture as the origin sees it: upright, sRGB, on white where transparent, its centre square."""
    img = Image.open(path)
    icc = img.info.get("icc_profile")
    img = ImageOps.exif_transpose(img)
    img = to_srgb(img, icc)
    if img.mode != "RGB":
        background = Image.new("RGB", img.size, "white")
        background.paste(img, mask=img.convert("RGBA").getchannel("A"))
        img = background
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def main(corpus: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    # results[(fmt, quality, size)] = [(bytes, ssim), …] over the corpus
    results: dict[tuple[str, int, int], list[tuple[int, float]]] = {}
    for name in CORPUS:
        picture = square(corpus / name)
        for size in SIZES:
            reference = picture.resize((size, size), Image.LANCZOS)
            for fmt, qualities in QUALITIES.items():
                for quality in qualities:
                    data = encode(reference, fmt, quality)
                    decoded = Image.open(io.BytesIO(data)).convert("RGB")
                    results.setdefault((fmt, quality, size), []).append((len(data), score(reference, decoded)))

    print("format   quality  size  median bytes  mean score")
    for (fmt, quality, size), rows in sorted(results.items()):
        median = statistics.median(b for b, _ in rows)
        print(f"{fmt:7}  {quality:7}  {size:4}  {median:12.0f}  {statistics.mean(s for _, s in rows):9.4f}")
    print("\nThe lowest quality that matches WebP q80's score, by format and size (median bytes; WebP q80's):")
    for size in SIZES:
        target = statistics.mean(s for _, s in results[("webp", 80, size)])
        webp_bytes = statistics.median(b for b, _ in results[("webp", 80, size)])
        for fmt in ("avif", "avif444", "jpeg", "jpeg444"):
            matching = [q for q in QUALITIES[fmt] if statistics.mean(s for _, s in results[(fmt, q, size)]) >= target - 0.0005]
            if matching:
                q = min(matching)
                chosen = statistics.median(b for b, _ in results[(fmt, q, size)])
                print(f"  {size}px {fmt}: q{q}, {chosen:.0f} bytes (WebP q80: {webp_bytes:.0f}, score {target:.4f})")
            else:
                print(f"  {size}px {fmt}: none of {QUALITIES[fmt]} reaches score {target:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
