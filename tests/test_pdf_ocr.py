"""OCR engines: reading order of detected boxes, RapidOCR on real rendered pages (directly and through the
sandboxed pipeline), render resolution per source, Tesseract language packs by script, OCR config checks."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from curation import schema as S
from curation.stages.ingest.pdf import ocr
from curation.stages.ingest.pdf.config import PdfConfig
from curation.stages.ingest.pdf.metrics import car
from curation.stages.ingest.pdf.ocr import SpaceBiasedCtc, TextBox, reading_order, render_dpi, text_script
from curation.stages.ingest.pdf.parsers import PARSERS, get_parser
from tools.pdf.degrade import make_variant

HAVE_RAPIDOCR = importlib.util.find_spec("rapidocr_onnxruntime") is not None
needs_rapidocr = pytest.mark.skipif(not HAVE_RAPIDOCR, reason="rapidocr-onnxruntime is not installed "
                                                              "(scripts/setup.sh installs it)")


# -- reading order (no OCR engine) ------------------------------------------------------------------------
def _column(x0: float, x1: float, y0: float, n: int, tag: str, h: float = 20, gap: float = 10) -> list[TextBox]:
    return [TextBox(x0, y0 + i * (h + gap), x1, y0 + i * (h + gap) + h, f"{tag}{i}") for i in range(n)]


def test_two_columns_are_read_left_then_right_between_full_width_lines():
    title = TextBox(100, 50, 1500, 90, "TITLE")
    left, right = _column(100, 780, 150, 6, "L"), _column(820, 1500, 150, 6, "R")
    figure = TextBox(100, 400, 1500, 430, "CAPTION")
    left2, right2 = _column(100, 780, 480, 3, "l"), _column(820, 1500, 480, 3, "r")
    rng = np.random.default_rng(0)
    boxes = [title, *left, *right, figure, *left2, *right2]
    rng.shuffle(boxes)  # the engine's order must not matter
    words = reading_order(boxes).split()
    assert words == ["TITLE", *[f"L{i}" for i in range(6)], *[f"R{i}" for i in range(6)], "CAPTION",
                     "l0", "l1", "l2", "r0", "r1", "r2"]


def test_one_column_with_equation_numbers_is_not_split_and_fragments_join_lines():
    body = _column(100, 1500, 100, 4, "B")
    eq = [TextBox(600, 250 + i * 60, 1000, 280 + i * 60, f"E{i}") for i in range(4)]
    nums = [TextBox(1450, 252 + i * 60, 1500, 278 + i * 60, f"({i})") for i in range(4)]
    text = reading_order([*nums, *eq, *body])
    assert text.split("\n")[:4] == ["B0", "B1", "B2", "B3"]
    assert [ln for ln in text.split("\n") if ln.startswith("E")] == [f"E{i} ({i})" for i in range(4)]


def test_three_columns():
    cols = [_column(100 + k * 500, 520 + k * 500, 100, 5, "ABC"[k]) for k in range(3)]
    words = reading_order([b for c in reversed(cols) for b in c]).split()
    assert words == [f"{c}{i}" for c in "ABC" for i in range(5)]


def test_space_offset_restores_a_dropped_space_and_leaves_words_alone():
    class Decoder:  # the shape of rapidocr's CTCLabelDecode: [blank, ..., " "]
        character = ["blank", "a", "b", " "]

        def decode(self, idx, prob, word_box, is_remove_duplicate=True):
            out = []
            for row, p in zip(idx, prob, strict=True):
                keep = np.r_[True, row[1:] != row[:-1]] & (row != 0)
                out.append(("".join(self.character[i] for i in row[keep]), float(p[keep].mean())))
            return out

    # columns: blank, a, b, space. Frames: a | blank between words | b | blank inside a word | a
    frames = [[0.0, 0.999, 0.0, 0.001], [0.9, 0.0, 0.0, 0.1], [0.0, 0.0, 0.999, 0.001], [0.99, 0.0, 0.0, 0.01],
              [0.0, 0.999, 0.0, 0.001]]
    preds = np.array([frames], dtype=np.float32)
    assert Decoder().decode(preds.argmax(2), preds.max(2), False)[0][0] == "aba"
    assert SpaceBiasedCtc(Decoder(), 3.5)(preds)[0][0] == "a ba"  # 0.1 * e^3.5 > 0.9; 0.01 * e^3.5 < 0.99
    assert ocr.tidy_line("中 文  text") == "中文 text"


# -- render resolution, scripts, languages, config ---------------------------------------------------------
def test_render_dpi_per_source():
    assert render_dpi(100, 1.0, 200, "fixed") == 200
    assert render_dpi(100, 1.0, 200, "source") == 200  # low-resolution scans: upsampled to the floor
    assert render_dpi(250, 0.9, 200, "source") == 250
    assert render_dpi(600, 0.9, 200, "source") == 300  # capped
    assert render_dpi(100, 1.0, 200, "source", floor=50, cap=600) == 100
    assert render_dpi(150, 0.1, 200, "source") == 200  # a small picture on a born-digital page: not a scan
    assert render_dpi(0, 0.0, 200, "source") == 200


def test_text_script_and_language_packs(monkeypatch):
    assert text_script("Это текст на русском языке, достаточно длинный для решения о письменности.") == "Cyrillic"
    assert text_script("这是一个足够长的中文句子，用来判断文字系统。" * 3) == "Han"
    assert text_script("A plain English sentence that is long enough to decide on a script.") == "Latin"
    assert text_script("too short") is None
    monkeypatch.setattr(ocr, "tesseract_langs", lambda: frozenset({"eng", "osd", "ukr"}))
    assert ocr.langs_for_script("Cyrillic") == "ukr"  # rus is preferred, but only ukr is installed
    assert ocr.langs_for_script("Han") == "eng"  # nothing installed for it: the default
    assert ocr.langs_for_script(None) == "eng"


def test_tesseract_auto_language_reads_a_latin_scan(sample_dir):
    """`ocr_lang: auto` on an image-only page: OSD says Latin, the eng pack reads it; a text layer decides alone."""
    from curation.stages.ingest.pdf.document import open_pdf

    topo = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    parser = get_parser("tesseract")
    parser.lang = "auto"
    pdf = open_pdf(topo)
    assert parser.page_settings(pdf, 0) == (200, "eng")  # born-digital: the script of its text layer
    pdf.close()
    scan = make_variant(topo, "image", [1], PARSERS["pdfium"].parse(topo, [1]), seed=0, dpi=150)
    pdf = open_pdf(scan)
    assert parser.page_settings(pdf, 0) == (200, None)  # no text layer: decided from the image
    pdf.close()
    (text,) = parser.parse(scan)
    assert "Topolog" in text or "Homework" in text


def test_ocr_config_is_checked():
    PdfConfig(ocr_lang="auto", expensive_parser="tesseract").validate()
    PdfConfig(ocr_lang="eng+deu").validate()
    for bad in ({"ocr_lang": "eng; rm -rf /"}, {"ocr_lang": ""}, {"ocr_dpi": 20}):
        with pytest.raises(ValueError):
            PdfConfig(**bad).validate()
    assert "rapidocr" in PARSERS and get_parser("rapidocr").kind == "expensive"


# -- RapidOCR on real pages --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def elstest(sample_dir) -> bytes:
    return (sample_dir / "pdf" / "elstest-5p.pdf").read_bytes()


@pytest.fixture(scope="module")
def two_column_read(elstest) -> tuple[list[str], list[str]]:
    """Pages 2 (two columns of dense text) and 4 of a real article, scanned at 150 dpi, read by RapidOCR."""
    truths = PARSERS["pdfium"].parse(elstest, [2, 4])
    scan = make_variant(elstest, "image", [2, 4], truths, seed=0, dpi=150)
    return get_parser("rapidocr").parse(scan), truths


@needs_rapidocr
def test_rapidocr_reads_a_scanned_real_page(two_column_read):
    texts, truths = two_column_read
    assert len(texts) == 2 and all(t.strip() for t in texts)  # one text per page
    assert car(texts[0], truths[0]) > 0.8  # measured 0.92 (truth: the page's own text layer)
    assert " the " in texts[0]  # word spaces restored (the Chinese+English model drops most of them)


@needs_rapidocr
def test_rapidocr_reading_order_puts_the_left_column_first(elstest, two_column_read):
    """Each OCR line is matched to the left or right column of the born-digital page's text layer; every
    left-column line must come before every right-column line (a row-wise order would interleave them)."""
    from rapidfuzz import fuzz

    from curation.stages.ingest.pdf.document import open_pdf

    pdf = open_pdf(elstest)
    page = pdf[1]
    w, _ = page.get_size()
    tp = page.get_textpage()
    left, right = tp.get_text_bounded(right=w / 2), tp.get_text_bounded(left=w / 2)
    tp.close()
    page.close()
    pdf.close()
    sides = []
    for line in two_column_read[0][0].split("\n"):
        if len(line) < 25:
            continue
        sl, sr = fuzz.partial_ratio(line, left), fuzz.partial_ratio(line, right)
        if abs(sl - sr) >= 10:
            sides.append("L" if sl > sr else "R")
    assert sides.count("L") >= 20 and sides.count("R") >= 20
    pairs = [(i, j) for i, a in enumerate(sides) if a == "L" for j, b in enumerate(sides) if b == "R"]
    in_order = sum(i < j for i, j in pairs) / len(pairs)
    assert in_order > 0.95, "".join(sides)


@needs_rapidocr
def test_rapidocr_as_the_expensive_parser_through_the_sandbox(sample_dir):
    topo = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    scan = make_variant(topo, "image", [1], PARSERS["pdfium"].parse(topo, [1]), seed=0, dpi=150)
    cfg = PdfConfig(alpha=0.0, expensive_parser="rapidocr", prior_accuracy={"rapidocr": 0.9})
    (out,) = parse_pdfs_sandboxed([{"source": "t", "source_id": "scan.pdf", "content": scan}], cfg)
    assert out["decision"] == S.KEPT and out["pdf_parsers"] == "rapidocr"
    page = json.loads(out["pdf_pages_json"])[0]
    assert page["gate"] == "no_text_layer" and page["parser"] == "rapidocr" and page["seconds"]["rapidocr"] > 0
    assert "Topolog" in out["text"] or "Homework" in out["text"]


def parse_pdfs_sandboxed(records: list[dict], cfg: PdfConfig) -> list[dict]:
    from curation.stages.ingest.pdf.pipeline import parse_pdfs

    return parse_pdfs(records, cfg, inline=False)
