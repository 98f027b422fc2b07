"""Born-digital PDFs typeset in code from real text, so the true text of every page is known exactly.

Why: the real PDFs' reference is `pdftotext` output, which is one extractor's reading order, not the truth;
on multi-column pages CAR then measures agreement with pdftotext's block order rather than parse quality.
Here the PDF is written from the text: one column, left-aligned lines top to bottom, paragraphs separated by
extra leading, no headers, footers, hyphenation or figures. There is exactly one reading order, and the truth
of a page is its lines joined by newlines — precisely the characters drawn on it.

Text comes from `sample_data/jsonl/documents.jsonl` (real, redistributable documents in the repo). Fonts are
the standard-14 Helvetica / Times-Roman / Courier with WinAnsiEncoding (every PDF viewer has them), so the
text is reduced to what cp1252 can encode (NFKC first, a few look-alikes mapped, anything else dropped) —
the truth is the reduced text, i.e. what is really on the page.

Held-out split (`split_of`): by source text, never by page. `pdftext/<X>.pdf#pN` documents (pdftotext pages of
the real PDFs) follow the real PDFs' split (trainset.HELDOUT -> benchmark); every other document goes to the
benchmark when a stable hash of its id says so (about a third). Training and benchmark never share a text.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from tools.pdf.degrade import _pdf_string, serialize_pdf

FONTS = ("Helvetica", "Times-Roman", "Courier")
PAGE_SIZES = ((612.0, 792.0), (595.28, 841.89))  # US Letter, A4
_LOOKALIKE = str.maketrans({"\u2217": "*", "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u00a0": " ",
                            "\u2009": " ", "\u2002": " ", "\u2003": " ", "\u2032": "'", "\u2033": '"'})
_SPACES = re.compile(r"[ \t]+")
DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "sample_data" / "jsonl" / "documents.jsonl"


def encodable_text(text: str) -> str:
    """The text reduced to what a WinAnsi standard font can draw (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_LOOKALIKE)
    out = []
    for ch in text:
        if ch == "\n" or (ch.isprintable() and _cp1252(ch)):
            out.append(ch)
    return "".join(out)


def _cp1252(ch: str) -> bool:
    try:
        ch.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


@dataclass
class SourceText:
    id: str
    text: str


def load_texts(path: str | Path = DEFAULT_TEXTS, min_chars: int = 400, min_kept: float = 0.97) -> list[SourceText]:
    """Documents whose text survives the cp1252 reduction almost whole (Latin-script languages)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        raw = d.get("text") or ""
        kept = encodable_text(raw)
        n_raw = sum(not c.isspace() for c in raw)
        if n_raw and sum(not c.isspace() for c in kept) / n_raw >= min_kept and len(kept) >= min_chars:
            out.append(SourceText(str(d["id"]), kept))
    return out


def split_of(source_id: str, heldout_pdfs: tuple[str, ...], bench_share: float = 1 / 3) -> str:
    """'bench' or 'train' for a source text (stable across runs and machines)."""
    m = re.match(r"pdftext/(.+?)\.pdf#", source_id)
    if m:
        return "bench" if m.group(1) in heldout_pdfs else "train"
    h = int.from_bytes(hashlib.sha1(source_id.encode()).digest()[:8], "big") / 2 ** 64
    return "bench" if h < bench_share else "train"


def _widths(font: str) -> dict[str, float]:
    try:  # Adobe's core-14 AFM widths as shipped by pypdf (a private module; fixed 0.6 em if it moves)
        from pypdf._codecs.core_font_metrics import CORE_FONT_METRICS

        return dict(CORE_FONT_METRICS[font].character_widths)
    except Exception:
        return {"default": 600}


def text_width(s: str, font: str, size: float, widths: dict[str, float] | None = None) -> float:
    w = widths if widths is not None else _widths(font)
    default = w.get("default", 600)
    return sum(w.get(ch, default) for ch in s) * size / 1000.0


def wrap(paragraph: str, max_width: float, font: str, size: float, widths: dict[str, float]) -> list[str]:
    """Greedy word wrap (no hyphenation; a word wider than the line is cut by characters)."""
    lines, cur = [], ""
    for word in paragraph.split(" "):
        if not word:
            continue
        while text_width(word, font, size, widths) > max_width:
            k = len(word)
            while k > 1 and text_width(word[:k], font, size, widths) > max_width:
                k -= 1
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:k])
            word = word[k:]
        cand = f"{cur} {word}" if cur else word
        if text_width(cand, font, size, widths) <= max_width:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


@dataclass
class Layout:
    font: str = "Helvetica"
    size: float = 10.0
    page: tuple[float, float] = (612.0, 792.0)
    margin: float = 72.0

    @property
    def leading(self) -> float:
        return round(self.size * 1.25, 2)


def typeset(text: str, layout: Layout, max_pages: int | None = None) -> list[list[tuple[float, str]]]:
    """Pages of (extra space before the line, line) in reading order."""
    widths = _widths(layout.font)
    width = layout.page[0] - 2 * layout.margin
    usable = layout.page[1] - 2 * layout.margin
    pages: list[list[tuple[float, str]]] = [[]]
    y = 0.0
    for para in re.split(r"\n\s*\n", text):
        para = _SPACES.sub(" ", para.replace("\n", " ")).strip()
        if not para:
            continue
        gap = 0.5 * layout.leading if pages[-1] else 0.0
        for line in wrap(para, width, layout.font, layout.size, widths):
            if y + gap + layout.leading > usable and pages[-1]:
                if max_pages is not None and len(pages) >= max_pages:
                    return pages
                pages.append([])
                y, gap = 0.0, 0.0
            pages[-1].append((gap, line))
            y += gap + layout.leading
            gap = 0.0
    return [p for p in pages if p]


def page_truths(pages: list[list[tuple[float, str]]]) -> list[str]:
    return ["\n".join(line for _, line in p) for p in pages]


def write_text_pdf(pages: list[list[tuple[float, str]]], layout: Layout, producer: str = "curation synth",
                   title: str | None = None) -> bytes:
    """A born-digital PDF 1.4: visible text in one standard font, no images."""
    objects: list[bytes] = [b"", b""]
    font = len(objects) + 1
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
                   % layout.font.encode())
    info_fields = b"/Producer " + _pdf_string(producer) + (b" /Title " + _pdf_string(title) if title else b"")
    objects.append(b"<< " + info_fields + b" >>")
    info = len(objects)
    kids = []
    w, h = layout.page
    for page in pages:
        ops = [b"BT /F1 %.2f Tf %.2f TL 1 0 0 1 %.2f %.2f Tm" % (layout.size, layout.leading, layout.margin,
                                                                 h - layout.margin - layout.size)]
        first = True
        for gap, line in page:
            if gap:
                ops.append(b"0 %.2f Td" % -gap)
            ops.append(_pdf_string(line) + (b" Tj" if first else b" '"))
            first = False
        ops.append(b"ET")
        content = zlib.compress(b"\n".join(ops))
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream")
        cs = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (w, h, cs, font))
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    return serialize_pdf(objects, 1, info)


def random_layout(rng: random.Random) -> Layout:
    return Layout(font=rng.choice(FONTS), size=rng.choice((9.0, 10.0, 11.0, 12.0)), page=rng.choice(PAGE_SIZES),
                  margin=rng.choice((54.0, 72.0, 90.0)))


def synth_pdf(text: str, rng: random.Random, max_pages: int = 3, title: str | None = None
              ) -> tuple[bytes, list[str]]:
    """(PDF bytes, exact text of every page) for `text` in a random single-column layout."""
    layout = random_layout(rng)
    pages = typeset(encodable_text(text), layout, max_pages=max_pages)
    if not pages:
        raise ValueError("no text to typeset")
    return write_text_pdf(pages, layout, title=title), page_truths(pages)
