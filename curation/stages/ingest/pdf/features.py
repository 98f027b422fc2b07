"""Cheap per-page features for the router: statistics of the cheap parser's text plus the PDF's structure.

Everything here costs far less than OCR (one PDFium pass over page objects and the text already extracted):
text statistics (length, character classes, CID garbage, replacement characters, absurd whitespace, word
shapes) say whether the text layer is usable; structure (image area, invisible text objects, fonts,
producer) says whether the page is a scan, a scan with an OCR layer, or born-digital.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass

from curation.stages.ingest.pdf.image_quality import ImageQuality

_CID = re.compile(r"\(cid:\d+\)")
_WORD = re.compile(r"\S+")
_WORDLIKE = re.compile(r"^[(\"'\[]?[A-Za-z\u00c0-\u024f][a-z\u00df-\u024f]*[-']?[a-z\u00df-\u024f]*[)\"'\].,;:!?]*$")
_OCR_PRODUCERS = ("tesseract", "ocr", "abbyy", "finereader", "scan", "omnipage", "readiris", "capture")
_TEX_PRODUCERS = ("tex", "dvipdf", "xdvipdfmx", "luatex")
_OFFICE_PRODUCERS = ("word", "office", "libreoffice", "openoffice", "quartz", "acrobat pdfmaker")
_IMAGE_PRODUCERS = ("pil", "pillow", "imagemagick", "img2pdf", "ghostscript")


@dataclass
class PageStructure:
    """What PDFium says about a page without reading its text."""

    width: float = 612.0
    height: float = 792.0
    n_text_objects: int = 0
    n_image_objects: int = 0
    image_area_frac: float = 0.0
    invisible_text_frac: float = 0.0
    n_fonts: int = 0
    embedded_font_frac: float = 0.0
    image_dpi: float = 0.0
    """Effective resolution (pixels per inch on the page) of the largest image; 0 without images."""
    jpeg_qmean: float = 0.0
    """Mean of the largest image's JPEG luminance quantisation table (header only; 0 when not a JPEG)."""


def page_structure(pdf, index: int) -> PageStructure:
    """Structure of page `index` (0-based) of an open pypdfium2 document."""
    import ctypes

    import pypdfium2.raw as c

    page = pdf[index]
    try:
        w, h = page.get_size()
        s = PageStructure(width=float(w), height=float(h))
        area = max(1.0, w * h)
        img_area = 0.0
        invisible = 0
        fonts: set[str] = set()
        embedded = 0
        largest = 0.0
        for obj in page.get_objects(max_depth=2):
            if obj.type == c.FPDF_PAGEOBJ_IMAGE:
                s.n_image_objects += 1
                try:
                    left, bottom, right, top = obj.get_bounds()
                    a = max(0.0, min(right, w) - max(left, 0)) * max(0.0, min(top, h) - max(bottom, 0))
                    img_area += a
                    if a > largest:
                        largest = a
                        s.image_dpi, s.jpeg_qmean = _image_resolution_and_jpeg(obj, right - left)
                except Exception:
                    pass
            elif obj.type == c.FPDF_PAGEOBJ_TEXT:
                s.n_text_objects += 1
                if c.FPDFTextObj_GetTextRenderMode(obj.raw) == c.FPDF_TEXTRENDERMODE_INVISIBLE:
                    invisible += 1
                if len(fonts) < 64:
                    font = c.FPDFTextObj_GetFont(obj.raw)
                    if font:
                        buf = ctypes.create_string_buffer(128)
                        c.FPDFFont_GetBaseFontName(font, buf, 128)
                        name = buf.value.decode("latin-1", "replace")
                        if name not in fonts:
                            fonts.add(name)
                            embedded += bool(c.FPDFFont_GetIsEmbedded(font))
        s.image_area_frac = min(1.0, img_area / area)
        s.invisible_text_frac = invisible / s.n_text_objects if s.n_text_objects else 0.0
        s.n_fonts = len(fonts)
        s.embedded_font_frac = embedded / len(fonts) if fonts else 0.0
        return s
    finally:
        page.close()


def _image_resolution_and_jpeg(obj, width_pt: float) -> tuple[float, float]:
    """(pixels per inch across the image's width on the page, mean JPEG luminance quantiser or 0)."""
    px_w, _ = obj.get_px_size()
    dpi = px_w / (width_pt / 72.0) if width_pt > 1 else 0.0
    q = 0.0
    if obj.get_filters() == ["DCTDecode"]:
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(bytes(obj.get_data(decode_simple=False)))) as im:
                table = (getattr(im, "quantization", None) or {}).get(0)
                if table:
                    q = float(sum(table)) / len(table)
        except Exception:
            q = 0.0
    return float(dpi), q


@dataclass
class TextStats:
    """Statistics of one page of cheap-parser text; also the validity gate's input."""

    n_chars: int = 0
    n_words: int = 0
    alpha_frac: float = 0.0
    digit_frac: float = 0.0
    space_frac: float = 0.0
    punct_frac: float = 0.0
    upper_frac: float = 0.0
    nonascii_frac: float = 0.0
    bad_char_frac: float = 0.0
    """U+FFFD, control characters, private-use characters: text the font's ToUnicode map did not explain."""
    cid_frac: float = 0.0
    """Share of characters inside `(cid:NNN)` tokens (pdfminer-style unmapped glyphs)."""
    mean_word_len: float = 0.0
    long_word_frac: float = 0.0
    single_char_word_frac: float = 0.0
    wordlike_frac: float = 0.0
    vowel_frac: float = 0.0
    char_entropy: float = 0.0
    mean_line_len: float = 0.0
    short_line_frac: float = 0.0
    single_letter_frac: float = 0.0
    """Share of words that are one letter (gate only: "T h i s" text layers; not dot leaders, not a feature)."""


GATE_ONLY = ("single_letter_frac",)


def text_stats(text: str) -> TextStats:
    s = TextStats(n_chars=len(text))
    if not text:
        return s
    n = len(text)
    counts = Counter(text)
    alpha = digit = space = punct = upper = nonascii = bad = vowels = 0
    for ch, k in counts.items():
        if ch.isalpha():
            alpha += k
            if ch.isupper():
                upper += k
            if ch.lower() in "aeiouy":
                vowels += k
        elif ch.isdigit():
            digit += k
        elif ch.isspace():
            space += k
        else:
            cat = unicodedata.category(ch)
            if ch == "\ufffd" or cat in ("Cc", "Co", "Cs", "Cn"):
                bad += k
            elif cat.startswith("P") or cat.startswith("S"):
                punct += k
        if ord(ch) > 127:
            nonascii += k
    s.alpha_frac, s.digit_frac, s.space_frac = alpha / n, digit / n, space / n
    s.punct_frac, s.nonascii_frac, s.bad_char_frac = punct / n, nonascii / n, bad / n
    s.upper_frac = upper / alpha if alpha else 0.0
    s.vowel_frac = vowels / alpha if alpha else 0.0
    s.cid_frac = sum(len(m) for m in _CID.findall(text)) / n
    words = _WORD.findall(text)
    s.n_words = len(words)
    if words:
        lens = [len(w) for w in words]
        s.mean_word_len = sum(lens) / len(lens)
        s.long_word_frac = sum(v > 20 for v in lens) / len(lens)
        s.single_char_word_frac = sum(v == 1 for v in lens) / len(lens)
        s.single_letter_frac = sum(len(w) == 1 and w.isalpha() for w in words) / len(words)
        s.wordlike_frac = sum(bool(_WORDLIKE.match(w)) for w in words) / len(words)
    s.char_entropy = -sum((k / n) * math.log2(k / n) for k in counts.values())
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if lines:
        s.mean_line_len = sum(len(ln) for ln in lines) / len(lines)
        s.short_line_frac = sum(len(ln.strip()) <= 3 for ln in lines) / len(lines)
    return s


def producer_flags(producer: str | None) -> dict[str, float]:
    p = (producer or "").lower()
    return {
        "producer_ocr": float(any(k in p for k in _OCR_PRODUCERS)),
        "producer_tex": float(any(k in p for k in _TEX_PRODUCERS)),
        "producer_office": float(any(k in p for k in _OFFICE_PRODUCERS)),
        "producer_image": float(any(k in p for k in _IMAGE_PRODUCERS)),
        "producer_missing": float(not p),
    }


def feature_dict(stats: TextStats, structure: PageStructure, producer: str | None, n_pages: int,
                 image: ImageQuality | None = None) -> dict[str, float]:
    """The predictor's input for one page, as named floats (squashed so no feature dominates by scale)."""
    d: dict[str, float] = {}
    for k, v in asdict(stats).items():
        if k in GATE_ONLY:
            continue
        d[k] = math.log1p(v) if k in ("n_chars", "n_words", "mean_word_len", "mean_line_len") else float(v)
    d["chars_per_text_object"] = math.log1p(stats.n_chars / structure.n_text_objects) if structure.n_text_objects else 0.0
    d["log_text_objects"] = math.log1p(structure.n_text_objects)
    d["log_image_objects"] = math.log1p(structure.n_image_objects)
    d["image_area_frac"] = structure.image_area_frac
    d["invisible_text_frac"] = structure.invisible_text_frac
    d["log_fonts"] = math.log1p(structure.n_fonts)
    d["embedded_font_frac"] = structure.embedded_font_frac
    d["chars_per_area"] = math.log1p(1e4 * stats.n_chars / max(1.0, structure.width * structure.height))
    d["log_pages"] = math.log1p(n_pages)
    d.update(producer_flags(producer))
    d["log_image_dpi"] = math.log1p(structure.image_dpi)
    d["log_jpeg_q"] = math.log1p(structure.jpeg_qmean)
    for k, v in asdict(image or ImageQuality()).items():
        d[f"img_{k}"] = float(v)
    return d


FEATURES: tuple[str, ...] = tuple(feature_dict(TextStats(), PageStructure(), None, 1))
