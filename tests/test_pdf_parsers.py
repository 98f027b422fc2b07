"""Parsers, rendering, metrics, degraded variants and the HTTP plugin point (against a real local server)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curation.stages.ingest.pdf import metrics
from curation.stages.ingest.pdf.document import PdfOpenError, open_pdf
from curation.stages.ingest.pdf.features import FEATURES, text_stats
from curation.stages.ingest.pdf.parsers import PARSERS, HttpParser, get_parser
from curation.stages.ingest.pdf.render import render_page_png
from tools.pdf.degrade import garble, make_variant, mixed_pdf


@pytest.fixture(scope="module")
def paper(sample_dir) -> bytes:
    return (sample_dir / "pdf" / "paper.pdf").read_bytes()


def test_cheap_parsers_agree_on_a_born_digital_pdf(paper):
    a = PARSERS["pdfium"].parse(paper, [1, 2])
    b = PARSERS["pypdf"].parse(paper, [1, 2])
    assert len(a) == len(b) == 2
    assert "hyperref" in a[0]
    for x, y in zip(a, b, strict=True):
        assert metrics.word_f1(x, y) > 0.8
    assert len(PARSERS["pdfium"].parse(paper)) == 21


def test_page_numbers_are_checked(paper):
    with pytest.raises(ValueError, match="out of range"):
        PARSERS["pdfium"].parse(paper, [0])
    with pytest.raises(ValueError, match="out of range"):
        PARSERS["pdfium"].parse(paper, [22])


def test_open_errors_have_reasons():
    with pytest.raises(PdfOpenError) as e:
        open_pdf(b"%PDF-1.4 garbage %%EOF")
    assert e.value.reason == "pdf_corrupt"
    with pytest.raises(PdfOpenError) as e:
        open_pdf(b"")
    assert e.value.reason == "pdf_empty_file"


def test_render_page_png(paper):
    png = render_page_png(paper, 1, dpi=30)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_get_parser_and_costs():
    p = get_parser("tesseract", costs={"tesseract": 2.5})
    assert p.seconds_per_page == 2.5 and p.cost(4) == 10.0
    assert PARSERS["tesseract"].seconds_per_page != 2.5  # the registry entry is not mutated
    assert get_parser("nougat", {"nougat": "http://x"}).name == "nougat"
    with pytest.raises(KeyError):
        get_parser("nope")


def test_metrics():
    assert metrics.car("the cat", "the cat") == 1.0
    assert metrics.car("", "abc") == 0.0
    assert 0.6 < metrics.car("the cat sat", "the bat sat") < 1.0
    assert metrics.bleu("a b c d e f", "a b c d e f") == pytest.approx(1.0)
    assert metrics.bleu("x y z", "a b c d") == 0.0
    assert metrics.normalise("e\ufb03cient  \n x") == "efficient x"


def test_text_stats_flag_garbage():
    truth = "The quick brown fox jumps over the lazy dog. " * 20
    good = text_stats(truth)
    import random

    rng = random.Random(0)
    cid = text_stats("\n".join(garble(truth, "cid", rng)))
    spaced = text_stats("\n".join(garble(truth, "spacing", rng)))
    assert good.cid_frac == 0 and cid.cid_frac > 0.3
    assert spaced.single_char_word_frac > 0.6
    assert len(FEATURES) > 20


def test_variants_keep_pages_and_lose_text(paper):
    truths = PARSERS["pdfium"].parse(paper, [1, 2])
    image = make_variant(paper, "image", [1, 2], truths, seed=1)
    assert PARSERS["pdfium"].parse(image) == ["", ""]
    garbled = make_variant(paper, "garbled", [1, 2], truths, seed=2)
    got = PARSERS["pdfium"].parse(garbled)
    assert len(got) == 2 and metrics.bleu(got[0], truths[0]) < 0.3
    digital = make_variant(paper, "digital", [2], truths[1:], seed=0)
    assert PARSERS["pdfium"].parse(digital) == truths[1:]
    mixed = mixed_pdf(paper, [1, 2, 3], PARSERS["pdfium"].parse(paper, [1, 2, 3]), seed=0)
    texts = PARSERS["pdfium"].parse(mixed)
    assert len(texts) == 3 and any(t == "" for t in texts) and any(t for t in texts)


class _Handler(BaseHTTPRequestHandler):
    """A tiny 'GPU parser' service: answers with PDFium text upper-cased, so the test sees it came from here."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        texts = PARSERS["pdfium"].parse(base64.b64decode(body["pdf"]), body["pages"])
        out = json.dumps({"pages": [t.upper() for t in texts]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_parser_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/parse"
    server.shutdown()


def test_http_parser_plugin(paper, http_parser_url):
    p = get_parser("nougat", {"nougat": http_parser_url})
    assert isinstance(p, HttpParser) and p.kind == "expensive"
    got = p.parse(paper, [2])
    assert len(got) == 1 and "BOOKMARKS" in got[0]


def test_http_parser_rejects_bad_answers(paper):
    p = HttpParser(name="dead", endpoint="http://127.0.0.1:9/none", timeout_s=2)
    with pytest.raises(OSError):
        p.parse(paper, [1])
