"""Image-quality features of a page, for predicting how well OCR will do on it.

The text-layer features say nothing about a scan's quality, which is what decides Tesseract's accuracy (blur,
contrast, noise, skew, resolution, JPEG damage). These are computed on a small greyscale render (RENDER_DPI)
and only for pages that images cover substantially (`image_area_frac >= MIN_IMAGE_AREA`: the pages OCR is for);
other pages get the neutral values of `ImageQuality()` with `rendered = 0`, so the cost lands only where it is
informative. Measured cost: a few ms per rendered page, against ~1.3 CPU-s for OCR of that page.

Two cheap numbers come from the page structure instead (features.page_structure, no decoding): the effective
resolution of the largest image (pixels per inch on the page) and, for JPEG images, the mean of the luminance
quantisation table read from the JPEG header (a direct measure of compression strength).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RENDER_DPI = 72
MIN_IMAGE_AREA = 0.3
SKEW_ANGLES = np.deg2rad(np.arange(-4.0, 4.01, 0.5))


@dataclass
class ImageQuality:
    rendered: float = 0.0
    contrast: float = 0.0
    """(95th - 5th percentile of grey levels) / 255: faded or low-contrast scans are low."""
    sharpness: float = 0.0
    """log1p of the mean squared Laplacian over the strongest-edge pixels, divided by contrast^2 (blur lowers it)."""
    noise: float = 0.0
    """Immerkaer's noise sigma estimate (grey levels / 255) on the render."""
    ink_frac: float = 0.0
    """Share of dark pixels (below the midpoint of the 5th/95th percentiles)."""
    skew: float = 0.0
    """|angle| in degrees that maximises the variance of the ink's row profile (projection-profile deskew)."""
    background: float = 0.0
    """Median grey level / 255 (paper colour)."""


def _percentiles(hist: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """np.percentile's linear interpolation, from a 256-bin histogram of uint8 values (no sort)."""
    cum = np.cumsum(hist)
    n = int(cum[-1])
    out = []
    for q in qs:
        pos = (n - 1) * q / 100.0
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        v_lo = int(np.searchsorted(cum, lo, side="right"))
        v_hi = int(np.searchsorted(cum, hi, side="right"))
        out.append(v_lo + (v_hi - v_lo) * (pos - lo))
    return out


def image_quality(grey: np.ndarray) -> ImageQuality:
    """Features of a greyscale page image (2-D uint8 array). ~5 ms for a 72-dpi page on one core."""
    g = np.ascontiguousarray(grey, dtype=np.uint8)
    if g.size < 64 or min(g.shape) < 8:
        return ImageQuality(rendered=1.0)
    p5, p50, p95 = _percentiles(np.bincount(g.ravel(), minlength=256), (5, 50, 95))
    contrast = float(p95 - p5) / 255.0
    a = g.astype(np.int32)
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    l2 = (lap * lap).ravel()
    k = max(1, l2.size // 100)
    top = np.partition(l2, l2.size - k)[-k:]
    sharp = math.log1p(float(top.mean()) / max(1.0, (contrast * 255.0) ** 2) * 100.0)
    d2 = a[:, :-2] - 2 * a[:, 1:-1] + a[:, 2:]  # Immerkaer's mask is separable: [1,-2,1] x [1,-2,1]
    m = d2[:-2] - 2 * d2[1:-1] + d2[2:]
    h, w = a.shape
    noise = float(np.abs(m).sum()) * math.sqrt(math.pi / 2) / (6.0 * (w - 2) * (h - 2)) / 255.0
    dark = g < (p5 + p95) / 2 if contrast > 0.05 else np.zeros(g.shape, dtype=bool)
    return ImageQuality(rendered=1.0, contrast=contrast, sharpness=sharp, noise=noise, ink_frac=float(dark.mean()),
                        skew=_skew(dark), background=float(p50) / 255.0)


def _skew(dark: np.ndarray, max_points: int = 20000) -> float:
    ys, xs = np.nonzero(dark)
    if len(ys) < 50:
        return 0.0
    step = -(-len(ys) // max_points)
    ys, xs = ys[::step], xs[::step].astype(np.float64) - dark.shape[1] / 2
    h = dark.shape[0]
    best, best_angle = -1.0, 0.0
    for ang in SKEW_ANGLES:
        rows = np.rint(ys + xs * math.tan(ang)).astype(np.int64)
        rows = rows[(rows >= 0) & (rows < h)]
        v = float(np.bincount(rows, minlength=h).astype(np.float64).var())
        if v > best:
            best, best_angle = v, float(ang)
    return abs(math.degrees(best_angle))


def page_image_quality(pdf, index: int, image_area_frac: float) -> ImageQuality:
    """ImageQuality of page `index` (0-based) of an open pypdfium2 document, or neutral values when the page
    is not image-dominated (see module docstring)."""
    if image_area_frac < MIN_IMAGE_AREA:
        return ImageQuality()
    page = pdf[index]
    try:
        bitmap = page.render(scale=RENDER_DPI / 72.0, grayscale=True)
        arr = bitmap.to_numpy()
        if arr.ndim == 3:
            arr = arr[..., :3].mean(axis=2)
        return image_quality(np.asarray(arr))
    finally:
        page.close()
