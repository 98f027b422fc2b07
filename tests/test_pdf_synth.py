"""Typeset PDFs with exact truth (synth.py), the held-out split by source text, and image-quality features."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from curation.stages.ingest.pdf.analysis import analyse
from curation.stages.ingest.pdf.features import FEATURES
from curation.stages.ingest.pdf.image_quality import ImageQuality, image_quality
from curation.stages.ingest.pdf.metrics import car
from curation.stages.ingest.pdf.parsers import get_parser
from curation.stages.ingest.pdf.render import render_page_image
from tools.pdf.degrade import make_variant
from tools.pdf.synth import (
    Layout,
    encodable_text,
    load_texts,
    split_of,
    synth_pdf,
    text_width,
    typeset,
)
from tools.pdf.trainset import HELDOUT

TEXT = ("Reading order matters. " * 30 + "\n\n" + "A second paragraph with accents: café, naïve, Größe. " * 20
        + "\n\n" + "∗ starred − minus ﬁ ligature 漢字 dropped. " * 5)


@pytest.fixture(scope="module")
def texts(sample_dir):
    return load_texts(sample_dir / "jsonl" / "documents.jsonl")


def test_typeset_text_is_extracted_exactly_by_both_cheap_parsers():
    data, truths = synth_pdf(TEXT, random.Random(1), max_pages=3)
    assert len(truths) >= 1 and "漢" not in "".join(truths) and "*" in "".join(truths) and "fi" in "".join(truths)
    a = analyse(data)
    assert a.n_pages == len(truths)
    pypdf = get_parser("pypdf").parse(data)
    for got_pdfium, got_pypdf, truth in zip(a.texts, pypdf, truths, strict=True):
        assert car(got_pdfium, truth) == 1.0
        assert car(got_pypdf, truth) == 1.0


def test_wrap_keeps_lines_inside_the_text_block_and_pages_break():
    layout = Layout(font="Times-Roman", size=12.0)
    pages = typeset("word " * 3000, layout)
    assert len(pages) > 1
    width = layout.page[0] - 2 * layout.margin
    assert all(text_width(line, layout.font, layout.size) <= width + 1e-6 for p in pages for _, line in p)
    assert typeset("word " * 3000, layout, max_pages=2) == pages[:2]


def test_encodable_text_drops_what_the_font_cannot_draw():
    assert encodable_text("a\u2217b\u2212c 漢 é") == "a*b-c  é"


def test_split_by_source_text_is_stable_and_disjoint(texts):
    assert len(texts) > 50
    splits = {t.id: split_of(t.id, HELDOUT) for t in texts}
    assert {"bench", "train"} == set(splits.values())
    assert splits == {t.id: split_of(t.id, HELDOUT) for t in texts}
    for tid, s in splits.items():  # texts cut from a real PDF follow that PDF's split
        if tid.startswith("pdftext/"):
            stem = tid.split("/")[1].split(".pdf#")[0]
            assert (s == "bench") == (stem in HELDOUT)
    assert split_of("pdftext/paper.pdf#p3", HELDOUT) == "bench"
    assert split_of("pdftext/amsldoc.pdf#p3", HELDOUT) == "train"


def _page_grey(data: bytes) -> np.ndarray:
    return np.asarray(render_page_image(data, 1, dpi=72, grey=True))


def test_image_quality_reacts_to_blur_contrast_and_skew():
    from PIL import Image, ImageEnhance, ImageFilter

    data, _ = synth_pdf(TEXT, random.Random(2), max_pages=1)
    img = render_page_image(data, 1, dpi=100, grey=True)
    clean = image_quality(np.asarray(img))
    blurred = image_quality(np.asarray(img.filter(ImageFilter.GaussianBlur(2))))
    faded = image_quality(np.asarray(ImageEnhance.Contrast(img).enhance(0.3)))
    rotated = image_quality(np.asarray(img.rotate(3, resample=Image.BICUBIC, fillcolor=255)))
    assert clean.rendered == 1.0 and clean.skew <= 0.5
    assert blurred.sharpness < clean.sharpness - 0.5
    assert faded.contrast < clean.contrast * 0.6
    assert 2.0 <= rotated.skew <= 4.0
    assert 0.0 < clean.ink_frac < 0.5 and clean.background > 0.9


def test_image_features_only_on_image_pages_and_jpeg_quality_is_read():
    data, truths = synth_pdf(TEXT, random.Random(3), max_pages=1)
    digital = analyse(data)
    assert digital.images[0] == ImageQuality() and len(digital.features[0]) == len(FEATURES)
    image = analyse(make_variant(data, "image", [1], truths[:1], seed=1))  # JPEG quality 80
    scan = analyse(make_variant(data, "scan", [1], truths[:1], seed=1))  # quality 15-45, blur, rotation
    f = {name: i for i, name in enumerate(FEATURES)}
    assert image.features[0][f["img_rendered"]] == 1.0
    assert scan.structures[0].jpeg_qmean > image.structures[0].jpeg_qmean > 0
    assert 140 < image.structures[0].image_dpi < 160  # degrade renders at 150 dpi
    assert scan.features[0][f["img_contrast"]] < image.features[0][f["img_contrast"]]


def test_synth_training_documents_use_only_training_texts_and_are_reproducible():
    from tools.pdf.trainset import SYNTH_KINDS, synth_documents

    first = list(synth_documents(2, 1, seed=0, heldout=HELDOUT))  # kinds digital, image: no OCR needed
    again = list(synth_documents(2, 1, seed=0, heldout=HELDOUT))
    assert [k for _, k, _, _ in first] == list(SYNTH_KINDS[:2])
    assert all(split_of(tid, HELDOUT) == "train" for tid, _, _, _ in first)
    assert [(t, k, tr) for t, k, _, tr in first] == [(t, k, tr) for t, k, _, tr in again]
    digital = first[0][2]
    assert analyse(digital).features == analyse(again[0][2]).features


def test_identity_check_ignores_image_estimates_but_not_text_features():
    from tools.pdf.trainset import identity_diff

    base = [0.5] * len(FEATURES)
    img = list(base)
    img[FEATURES.index("img_skew")] = 3.0
    txt = list(base)
    txt[FEATURES.index("n_chars")] = 0.9
    assert identity_diff(base, img) == 0.0
    assert identity_diff(base, txt) == pytest.approx(0.4)
    assert identity_diff(base[:32], base) == 0.0


def test_benchmark_verdicts_follow_the_table():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import pdf_routing as bench

    def row(car_, bleu_, f1, docs_per_s):
        return {"car": car_, "bleu": bleu_, "word_f1": f1, "docs_per_cpu_s": docs_per_s}

    rows = {"cheap-only (pdfium)": row(0.60, 0.60, 0.70, 100.0), "pypdf-only": row(0.59, 0.58, 0.69, 50.0),
            "expensive-only (tesseract)": row(0.80, 0.70, 0.80, 1.0),
            "router alpha=0.1": row(0.70, 0.705, 0.795, 11.0), "oracle alpha=0.1": row(0.72, 0.72, 0.81, 11.0),
            "router alpha=0.2": row(0.81, 0.75, 0.85, 5.0), "oracle alpha=0.2": row(0.82, 0.76, 0.86, 5.0)}
    v = bench.verdict(rows, {0.1: 0.5, 0.2: 1.0}, [0.1, 0.2])
    assert v["beats_best_single_car"] == [0.2] and v["beats_best_single_bleu"] == [0.1, 0.2]
    assert v["10x_within_1pt_bleu"] and v["10x_within_1pt_word_f1"] and not v["10x_within_1pt_car"]
    assert any("oracle at that alpha -8.0 points" in line for line in v["lines"])
    assert any("100% (met" in line for line in v["lines"])
