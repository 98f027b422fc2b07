"""Degraded variants of born-digital PDFs, made the way AdaParse made its robustness sets.

Kinds (every variant keeps the original page geometry and page order, so the original's known text stays
the truth of each page):
- `digital`: the original pages (text layer intact);
- `image`: pages rasterised (greyscale JPEG, or lossless Flate like an embedded PNG: `image_format="png"`) with
  no text layer at all — a clean scan;
- `scan`: rasterised and degraded (rotation, Gaussian blur, lower contrast, noise, strong JPEG compression);
- `ocr_layer`: a degraded scan with an invisible Tesseract text layer (how most scanned PDFs look in the wild;
  AdaParse's "text layer replaced by Tesseract output");
- `garbled`: a clean raster with an invisible but corrupted text layer: a broken ToUnicode map (letters
  substituted), `(cid:NN)` garbage, whitespace injected between letters, or most lines missing;
- `mixed` (document level, `mixed_pdf`): born-digital pages interleaved with scanned ones.

The writer below is a minimal PDF 1.4 writer (JPEG image XObject + optional invisible Helvetica text), so no
extra dependency is needed and the corruption is fully controlled.
"""

from __future__ import annotations

import io
import random
import string
import zlib
from dataclasses import dataclass

from curation.stages.ingest.pdf.render import render_page_image

KINDS = ("digital", "image", "scan", "ocr_layer", "garbled")
GARBLE_MODES = ("substitution", "cid", "spacing", "dropped")


@dataclass
class ImagePage:
    """One page of a synthetic PDF: an image drawn over the whole page, optionally invisible text lines.

    `jpeg` holds the image stream: JPEG bytes (`filter` DCTDecode) or zlib-compressed 8-bit grey pixels
    (`filter` FlateDecode: how PDF writers embed a PNG scan, lossless).
    """

    jpeg: bytes
    px_width: int
    px_height: int
    width_pt: float
    height_pt: float
    text_lines: list[str] | None = None
    filter: str = "DCTDecode"


def _pdf_string(s: str) -> bytes:
    raw = s.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def serialize_pdf(objects: list[bytes], root: int, info: int) -> bytes:
    """Objects 1..n (bodies in order) -> a PDF file with a correct xref table (no incremental updates)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, root, info, xref))
    return out.getvalue()


def write_image_pdf(pages: list[ImagePage], producer: str = "curation degrade") -> bytes:
    """A PDF whose pages are images, with invisible text (render mode 3) where `text_lines` is given."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = add(b"<< /Producer " + _pdf_string(producer) + b" >>")
    kids = []
    for p in pages:
        img = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                  b"/BitsPerComponent 8 /Filter /%s /Length %d >>\nstream\n"
                  % (p.px_width, p.px_height, p.filter.encode("ascii"), len(p.jpeg))
                  + p.jpeg + b"\nendstream")
        ops = [b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (p.width_pt, p.height_pt)]
        if p.text_lines:
            size = 9.0
            lead = min(12.0, (p.height_pt - 72) / max(1, len(p.text_lines)))
            y = p.height_pt - 36
            ops.append(b"BT 3 Tr /F1 %.1f Tf" % size)
            for line in p.text_lines:
                ops.append(b"1 0 0 1 36 %.2f Tm %s Tj" % (y, _pdf_string(line)))
                y -= lead
            ops.append(b"ET")
        content = zlib.compress(b"\n".join(ops))
        cs = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream")
        page = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
                   b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
                   % (pages_obj, p.width_pt, p.height_pt, cs, img, font))
        kids.append(page)
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                              + b"] /Count %d >>" % len(kids))
    return serialize_pdf(objects, catalog, info)


def degrade_image(img, rng: random.Random, strength: float = 1.0):
    """Scan-like damage: small rotation, blur, lower contrast, noise (PIL greyscale image in, image out)."""
    import numpy as np
    from PIL import ImageEnhance, ImageFilter

    img = img.convert("L")
    angle = rng.uniform(0.3, 2.5) * strength * rng.choice((-1, 1))
    img = img.rotate(angle, resample=3, expand=False, fillcolor=255)
    img = img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.3, 1.3) * strength))
    img = ImageEnhance.Contrast(img).enhance(max(0.25, 1.0 - rng.uniform(0.2, 0.6) * strength))
    arr = np.asarray(img, dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 12 * strength, arr.shape)
    from PIL import Image

    return Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8), mode="L")


def _jpeg(img, quality: int) -> bytes:
    buf = io.BytesIO()
    img.convert("L").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def garble(text: str, mode: str, rng: random.Random) -> list[str]:
    """Corrupt a page's true text the way broken text layers look, as lines for the invisible layer."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if mode == "substitution":  # a font with a wrong ToUnicode map: a consistent letter permutation
        letters = list(string.ascii_lowercase)
        shuffled = letters[:]
        rng.shuffle(shuffled)
        table = str.maketrans("".join(letters) + "".join(letters).upper(),
                              "".join(shuffled) + "".join(shuffled).upper())
        return [ln.translate(table) for ln in lines]
    if mode == "cid":  # unmapped glyphs, as pdfminer and friends print them
        return ["".join(f"(cid:{ord(ch) % 200 + 3})" if ch.isalpha() and rng.random() < 0.7 else ch for ch in ln)
                for ln in lines]
    if mode == "spacing":  # glyphs positioned one by one: spaces between every letter, words run together
        return [" ".join(ch for ch in ln if not ch.isspace()) for ln in lines]
    if mode == "dropped":  # text layer covers only part of the page
        return [ln for ln in lines if rng.random() < 0.25]
    raise ValueError(f"unknown garble mode {mode!r}")


def _subset(data: bytes, pages: list[int]) -> bytes:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    writer = pypdf.PdfWriter()
    for p in pages:
        writer.add_page(reader.pages[p - 1])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _page_size(data: bytes, page: int) -> tuple[float, float]:
    from curation.stages.ingest.pdf.document import open_pdf

    pdf = open_pdf(data)
    try:
        w, h = pdf[page - 1].get_size()
        return float(w), float(h)
    finally:
        pdf.close()


def _ocr_layer_lines(img) -> list[str]:
    import os

    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"
    return [ln for ln in pytesseract.image_to_string(img).split("\n") if ln.strip()]


def _flate(img) -> bytes:
    """8-bit grey pixels, zlib-compressed: a lossless image stream (what a PNG scan becomes inside a PDF)."""
    return zlib.compress(img.convert("L").tobytes(), 6)


def make_variant(data: bytes, kind: str, pages: list[int], truths: list[str], seed: int = 0,
                 dpi: int = 150, image_format: str = "jpeg", jpeg_quality: int = 80) -> bytes:
    """PDF bytes of `pages` (1-based) of `data` turned into variant `kind`; `truths` are those pages' texts.

    `dpi` is the scan's resolution; `image_format` ("jpeg" | "png", lossless) and `jpeg_quality` apply to the
    clean kinds (`image`, `garbled`); `scan` and `ocr_layer` always use their own strong JPEG compression.
    """
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"image_format must be jpeg or png, got {image_format!r}")
    if kind == "digital":
        return _subset(data, pages)
    rng = random.Random(seed)
    out = []
    for p, truth in zip(pages, truths, strict=True):
        w, h = _page_size(data, p)
        img = render_page_image(data, p, dpi=dpi, grey=True)
        lines = None
        quality = jpeg_quality
        fmt = image_format
        if kind in ("scan", "ocr_layer"):
            img = degrade_image(img, rng, strength=rng.uniform(0.5, 1.3))
            quality = rng.randint(15, 45)
            fmt = "jpeg"
            if kind == "ocr_layer":
                from PIL import Image

                lines = _ocr_layer_lines(Image.open(io.BytesIO(_jpeg(img, quality))))
        elif kind == "garbled":
            lines = garble(truth, rng.choice(GARBLE_MODES), rng)
        elif kind != "image":
            raise ValueError(f"unknown variant kind {kind!r} (known: {', '.join(KINDS)})")
        if fmt == "png":
            out.append(ImagePage(_flate(img), img.width, img.height, w, h, lines, filter="FlateDecode"))
        else:
            out.append(ImagePage(_jpeg(img, quality), img.width, img.height, w, h, lines))
    producer = "Tesseract OCR (curation degrade)" if kind == "ocr_layer" else "curation degrade (image)"
    return write_image_pdf(out, producer=producer)


def mixed_pdf(data: bytes, pages: list[int], truths: list[str], seed: int = 0, scanned_share: float = 0.5) -> bytes:
    """Born-digital pages interleaved with scanned pages of the same document (order kept)."""
    import pypdf

    rng = random.Random(seed)
    scanned = {p for p in pages if rng.random() < scanned_share} or {pages[len(pages) // 2]}
    digital = pypdf.PdfReader(io.BytesIO(_subset(data, pages)))
    image_pages = [p for p in pages if p in scanned]
    image = pypdf.PdfReader(io.BytesIO(make_variant(data, "scan", image_pages,
                                                    [t for p, t in zip(pages, truths, strict=True) if p in scanned],
                                                    seed=seed)))
    writer = pypdf.PdfWriter()
    k = 0
    for i, p in enumerate(pages):
        if p in scanned:
            writer.add_page(image.pages[k])
            k += 1
        else:
            writer.add_page(digital.pages[i])
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
