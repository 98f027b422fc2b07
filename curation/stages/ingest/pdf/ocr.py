"""OCR helpers shared by the OCR parsers (parsers.py): reading order of detected text boxes, the RapidOCR
engine with space-aware decoding, the render resolution of a page, and Tesseract language packs by script.

Why here and not in parsers.py: these are pure functions (tested without an OCR engine) plus one cached engine
per sandbox process (loading the ONNX models takes ~0.5 s, so the long-lived sandbox child keeps it).
Measured choices and their figures: docs/DESIGN.md#pdf-ocr-engines.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


# -- reading order --------------------------------------------------------------------------------------
@dataclass
class TextBox:
    """One detected text line (or line fragment) in page pixels, y growing downwards."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


WIDE_FRAC = 0.6
"""A box wider than this share of its region cannot be a column's line: it does not vote on gutters."""
MIN_SIDE_LINES = 3
"""A column needs at least this many narrow lines on each side of a gutter."""
MIN_SIDE_EXTENT = 0.2
"""...and each side must span this share of the region's width (equation numbers at a margin are no column)."""
MAX_CROSSING_FRAC = 0.05
"""Narrow boxes allowed across a gutter (centred headings, page numbers), as a share of the narrow boxes."""
EDGE_FRAC = 0.1
"""Gutters are searched in the middle of the region, not within this share of either edge."""
MAX_DEPTH = 3
"""Nested splits (a 3- or 4-column page); deeper regions are read line by line."""


def find_gutter(boxes: list[TextBox]) -> float | None:
    """x of the widest vertical white gap that separates columns of `boxes`, or None (one column).

    Votes come only from narrow boxes (a full-width title or caption crosses every gutter); a gap counts when
    at most MAX_CROSSING_FRAC of them cross it, both sides hold MIN_SIDE_LINES lines spanning MIN_SIDE_EXTENT of
    the width, and it is at least half a median line height wide (wider than a word space inside a box).
    """
    import numpy as np

    if len(boxes) < 2 * MIN_SIDE_LINES:
        return None
    rx0, rx1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    width = rx1 - rx0
    if width <= 0:
        return None
    narrow = [b for b in boxes if b.x1 - b.x0 < WIDE_FRAC * width]
    if len(narrow) < 2 * MIN_SIDE_LINES:
        return None
    x0 = np.array([b.x0 for b in narrow])
    x1 = np.array([b.x1 for b in narrow])
    step = max(1.0, width / 500)
    xs = np.arange(rx0 + EDGE_FRAC * width, rx1 - EDGE_FRAC * width, step)
    if len(xs) == 0:
        return None
    crossing = ((x0[None, :] < xs[:, None]) & (x1[None, :] > xs[:, None])).sum(1)
    left_m = x1[None, :] <= xs[:, None]
    right_m = x0[None, :] >= xs[:, None]
    n_left, n_right = left_m.sum(1), right_m.sum(1)
    allowed = max(1, int(MAX_CROSSING_FRAC * len(narrow)))
    ok = (crossing <= allowed) & (n_left >= MIN_SIDE_LINES) & (n_right >= MIN_SIDE_LINES)
    min_gap = 0.5 * statistics.median(b.height for b in boxes)
    best: tuple[float, float] | None = None  # (run width, centre)
    i = 0
    while i < len(xs):
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(xs) and ok[j + 1]:
            j += 1
        mid = (i + j) // 2
        lx = x0[left_m[mid]].min(), x1[left_m[mid]].max()
        rx = x0[right_m[mid]].min(), x1[right_m[mid]].max()
        run = xs[j] - xs[i] + step
        if (run >= min_gap and lx[1] - lx[0] >= MIN_SIDE_EXTENT * width and rx[1] - rx[0] >= MIN_SIDE_EXTENT * width
                and (best is None or run > best[0])):
            best = (float(run), float((xs[i] + xs[j]) / 2))
        i = j + 1
    return None if best is None else best[1]


def group_lines(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Boxes into lines, top to bottom (a box joins the line it overlaps by half its height), each left to right."""
    lines: list[list[TextBox]] = []
    for b in sorted(boxes, key=lambda b: (b.yc, b.x0)):
        if lines:
            last = lines[-1]
            top, bottom = min(x.y0 for x in last), max(x.y1 for x in last)
            overlap = min(bottom, b.y1) - max(top, b.y0)
            if overlap >= 0.5 * min(b.height, bottom - top):
                last.append(b)
                continue
        lines.append([b])
    return [sorted(ln, key=lambda b: b.x0) for ln in lines]


def _blocks(boxes: list[TextBox], depth: int = 0) -> list[list[list[TextBox]]]:
    """Boxes as blocks of lines in reading order: columns left to right inside bands cut by spanning boxes."""
    import bisect

    gutter = find_gutter(boxes) if depth < MAX_DEPTH else None
    if gutter is None:
        return [group_lines(boxes)] if boxes else []
    spanning = sorted((b for b in boxes if b.x0 < gutter < b.x1), key=lambda b: b.yc)
    rest = [b for b in boxes if not b.x0 < gutter < b.x1]
    cuts: list[list[TextBox]] = []  # runs of spanning boxes with no column line between them: one block each
    for b in spanning:
        if cuts and not any(cuts[-1][-1].yc < r.yc < b.yc for r in rest):
            cuts[-1].append(b)
        else:
            cuts.append([b])
    starts = [c[0].yc for c in cuts]
    bands: list[list[TextBox]] = [[] for _ in range(len(cuts) + 1)]
    for b in rest:
        bands[bisect.bisect_right(starts, b.yc)].append(b)
    out: list[list[list[TextBox]]] = []
    for k, band in enumerate(bands):
        if k:
            out.append(group_lines(cuts[k - 1]))
        for side in ([b for b in band if b.x1 <= gutter], [b for b in band if b.x0 >= gutter]):
            out.extend(_blocks(side, depth + 1))
    return [blk for blk in out if blk]


def reading_order(boxes: list[TextBox], paragraph_gap: float = 1.0) -> str:
    """Page text from detected boxes: columns found by white vertical gaps (`find_gutter`), read left to right
    inside horizontal bands cut by boxes that span the gap (titles, full-width figures); within a column, lines
    top to bottom. A blank line separates blocks and lines further apart than `paragraph_gap` line heights."""
    boxes = [b for b in boxes if b.text.strip()]
    if not boxes:
        return ""
    med = statistics.median(b.height for b in boxes)
    parts: list[str] = []
    for block in _blocks(boxes):
        prev_bottom: float | None = None
        lines: list[str] = []
        for ln in block:
            top = min(b.y0 for b in ln)
            if prev_bottom is not None and top - prev_bottom > paragraph_gap * med and lines:
                lines.append("")
            lines.append(" ".join(b.text.strip() for b in ln))
            prev_bottom = max(b.y1 for b in ln)
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# -- render resolution ----------------------------------------------------------------------------------
DPI_MODES = ("fixed", "source")


def render_dpi(image_dpi: float, image_area_frac: float, fixed_dpi: int, mode: str,
               floor: int = 200, cap: int = 300) -> int:
    """Render resolution of one page for OCR.

    `fixed` (the default of both OCR parsers): always `fixed_dpi`. `source`: a page that is mostly one image (a
    scan) is rendered at the image's own resolution, but at least `floor` (both engines read 100-150 dpi scans
    better upsampled to 200) and at most `cap`; other pages use `fixed_dpi`. Measured, `source` did not beat a
    fixed 200 dpi at any source resolution (docs/DESIGN.md#pdf-ocr-engines), so it is an option, not the default.
    """
    if mode == "source" and image_dpi > 0 and image_area_frac >= 0.5:
        return int(min(cap, max(floor, round(image_dpi))))
    return int(fixed_dpi)


def page_image_info(pdf: Any, index: int) -> tuple[float, float]:
    """(resolution of the page's largest image, share of the page covered by images) of page `index` (0-based)."""
    from curation.stages.ingest.pdf.features import page_structure

    s = page_structure(pdf, index)
    return s.image_dpi, s.image_area_frac


# -- RapidOCR -------------------------------------------------------------------------------------------
class SpaceBiasedCtc:
    """CTC decoding that favours the space class by `boost` (a log-probability offset).

    Why: the PP-OCRv4 recogniser shipped in rapidocr-onnxruntime is the Chinese+English model; on English
    lines it drops most word spaces ("anInformallyPublishedWork"), which costs ~15% of the characters and glues
    words for every later stage. The space's probability at those gaps is low but clearly above its level
    inside words, so an offset restores them (figures in docs/DESIGN.md#pdf-ocr-engines). Confidences are
    the unbiased probabilities of the decoded path.
    """

    def __init__(self, decoder: Any, boost: float):
        self.decoder = decoder
        self.boost = float(boost)
        self.space = len(decoder.character) - 1
        if decoder.character[self.space] != " ":
            raise ValueError("unexpected RapidOCR character list: the last class is not a space")

    def __call__(self, preds: Any, return_word_box: bool = False, **_: Any) -> list[tuple[str, float]]:
        import numpy as np

        biased = preds.copy()
        biased[:, :, self.space] *= float(np.exp(self.boost))
        idx = biased.argmax(axis=2)
        prob = np.take_along_axis(preds, idx[:, :, None], axis=2)[:, :, 0]
        return self.decoder.decode(idx, prob, False, is_remove_duplicate=True)


@lru_cache(maxsize=4)
def rapidocr_engine(threads: int = 1, max_side_len: int = 2000, space_boost: float = 3.5) -> Any:
    """A RapidOCR engine (PP-OCRv4 detection + recognition ONNX models from the wheel), cached per process."""
    from rapidocr_onnxruntime import RapidOCR

    # rec_batch_num 1: batches pad every line to the longest one; one line at a time was ~35% faster (CPU)
    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, max_side_len=max_side_len,
                      rec_batch_num=1)
    engine.text_rec.postprocess_op = SpaceBiasedCtc(engine.text_rec.postprocess_op, space_boost)
    return engine


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(f"(?<=[{_CJK}]) +(?=[{_CJK}])")
_SPACES = re.compile(r" {2,}")


def tidy_line(text: str) -> str:
    """One recognised line: no spaces between CJK characters (the space offset must not add them), single spaces."""
    return _SPACES.sub(" ", _CJK_SPACE.sub("", text)).strip()


def rapidocr_boxes(engine: Any, image: Any, text_score: float = 0.5) -> list[TextBox]:
    """Text boxes of one page image (RGB numpy array) read by `engine`; recognitions below `text_score` dropped."""
    result, _ = engine(image, text_score=text_score)
    boxes = []
    for quad, text, _score in result or []:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        t = tidy_line(text)
        if t:
            boxes.append(TextBox(min(xs), min(ys), max(xs), max(ys), t))
    return boxes


# -- Tesseract languages by script ----------------------------------------------------------------------
SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "Latin": ("eng",),
    "Cyrillic": ("rus", "ukr", "bul", "srp", "script/Cyrillic"),
    "Greek": ("ell", "grc", "script/Greek"),
    "Arabic": ("ara", "fas", "urd", "script/Arabic"),
    "Hebrew": ("heb", "script/Hebrew"),
    "Devanagari": ("hin", "mar", "nep", "script/Devanagari"),
    "Han": ("chi_sim", "chi_tra", "script/HanS", "script/HanT"),
    "Japanese": ("jpn", "script/Japanese"),
    "Hangul": ("kor", "script/Hangul"),
    "Thai": ("tha", "script/Thai"),
}
"""Tesseract packs (Debian `tesseract-ocr-<lang>`, `tesseract-ocr-script-<x>`) that read each script, best first;
`auto` takes the first one installed. Latin maps to eng (English packs read any Latin text passably)."""

_NAME_SCRIPT = (("CJK", "Han"), ("HIRAGANA", "Japanese"), ("KATAKANA", "Japanese"), ("HANGUL", "Hangul"),
                ("CYRILLIC", "Cyrillic"), ("GREEK", "Greek"), ("ARABIC", "Arabic"), ("HEBREW", "Hebrew"),
                ("DEVANAGARI", "Devanagari"), ("THAI", "Thai"), ("LATIN", "Latin"))


def text_script(text: str, min_letters: int = 50) -> str | None:
    """The script most letters of `text` are written in (Tesseract OSD names), or None below `min_letters`."""
    counts: dict[str, int] = {}
    n = 0
    for ch in text:
        if not ch.isalpha():
            continue
        n += 1
        name = unicodedata.name(ch, "")
        for prefix, script in _NAME_SCRIPT:
            if name.startswith(prefix):
                counts[script] = counts.get(script, 0) + 1
                break
    if n < min_letters or not counts:
        return None
    script, k = max(counts.items(), key=lambda kv: kv[1])
    if script == "Han" and counts.get("Japanese", 0) >= 0.1 * n:  # kana among the kanji: Japanese
        script = "Japanese"
    return script if k >= 0.5 * n else None


@lru_cache(maxsize=1)
def tesseract_langs() -> frozenset[str]:
    """Language packs the installed Tesseract has (`tesseract --list-langs`); empty without Tesseract."""
    import pytesseract

    try:
        return frozenset(pytesseract.get_languages(config=""))
    except Exception:  # no tesseract binary: the parser fails later with a clearer error
        return frozenset()


def osd_script(image: Any) -> str | None:
    """Script of a page image by Tesseract's orientation and script detection (`--psm 0`; needs the osd pack)."""
    import pytesseract

    if "osd" not in tesseract_langs():
        return None
    try:
        return pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT).get("script") or None
    except pytesseract.TesseractError:  # too little text on the page to decide
        return None


def langs_for_script(script: str | None, default: str = "eng") -> str:
    """The installed Tesseract pack for `script` (see SCRIPT_LANGS), else `default` (always for Latin/unknown)."""
    installed = tesseract_langs()
    for lang in SCRIPT_LANGS.get(script or "", ()):
        if lang in installed:
            return lang
    return default
