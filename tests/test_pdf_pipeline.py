"""End to end without Spark: routing real PDFs, OCR of scans, quarantine reasons, time limits, fuzzing."""

from __future__ import annotations

import io
import json
import random
import time

import pytest

from curation import schema as S
from curation.stages.ingest.pdf.config import PdfConfig
from curation.stages.ingest.pdf.parsers import PARSERS
from curation.stages.ingest.pdf.pipeline import parse_pdfs
from tools.pdf.degrade import make_variant

SLOW_PARSER = '''
import time
from curation.stages.ingest.pdf.parsers import Parser

class SlowParser(Parser):
    """An 'expensive parser' that hangs (stands in for a PDF that makes a real parser hang)."""

    name = "slow"
    kind = "expensive"

    def parse(self, data, pages=None):
        time.sleep(60)
        return []
'''


@pytest.fixture
def slow_plugin(tmp_path, monkeypatch) -> str:
    """SlowParser installed as a parser plugin (an entry point), the only way a config names outside code."""
    (tmp_path / "slow_parser_plugin.py").write_text(SLOW_PARSER)
    info = tmp_path / "slow_parser_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-parser-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[curation.pdf_parsers]\nslow = slow_parser_plugin:SlowParser\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # a sandbox child started from now on inherits sys.path
    from curation.stages.ingest.pdf.sandbox import _SANDBOXES

    for box in _SANDBOXES.values():
        box.kill()
    return "slow"


@pytest.fixture(scope="module")
def topo(sample_dir) -> bytes:
    return (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()


@pytest.fixture(scope="module")
def scan(topo) -> bytes:
    """A one-page image-only PDF made from a real born-digital page."""
    truth = PARSERS["pdfium"].parse(topo, [1])
    return make_variant(topo, "image", [1], truth, seed=0)


def _encrypted(data: bytes) -> bytes:
    import pypdf

    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    w.encrypt("secret", algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _zero_pages() -> bytes:
    import pypdf

    buf = io.BytesIO()
    pypdf.PdfWriter().write(buf)
    return buf.getvalue()


def test_born_digital_and_scan_each_page_recorded(sample_dir, topo, scan):
    cfg = PdfConfig(alpha=0.25, ocr_dpi=150)
    out = parse_pdfs([
        {"source": "t", "source_id": "topology-hw-1.pdf", "path": str(sample_dir / "pdf" / "topology-hw-1.pdf"),
         "url": "https://example.org/a/t.pdf"},
        {"source": "t", "source_id": "scan.pdf", "content": scan},
    ], cfg)
    assert [o["decision"] for o in out] == [S.KEPT, S.KEPT]
    digital, ocr = out
    pages = json.loads(digital["pdf_pages_json"])
    assert digital["pdf_pages"] == 3 and [p["page"] for p in pages] == [1, 2, 3]
    assert all(p["parser"] in ("pdfium", "pypdf") for p in pages)
    assert digital["domain"] == "example.org" and digital["source_type"] == "pdf"
    assert "Topological" in digital["text"]
    # offsets = cumulative page lengths (docs/PAPERS.md 1c.4)
    for p in pages:
        assert digital["text"][p["offset"]:p["offset"] + p["chars"]] == digital["text"][p["offset"]:][:p["chars"]]
    assert pages[1]["offset"] == pages[0]["chars"] + 2
    # the scan: gate says no text layer, the page goes to OCR (4 pages seen, alpha 0.25 -> 1 allowed)
    sp = json.loads(ocr["pdf_pages_json"])
    assert sp[0]["gate"] == "no_text_layer" and sp[0]["parser"] == "tesseract"
    assert ocr["pdf_parsers"] == "tesseract" and ocr["pdf_expensive_pages"] == 1
    assert "Topological" in ocr["text"] or "Homework" in ocr["text"]
    assert sp[0]["seconds"]["tesseract"] > 0 and ocr["pdf_seconds"] > 0


def test_unreadable_pages_are_read_whatever_alpha_and_a_hard_cap_drops_with_a_reason(scan, topo):
    """alpha ranks optional improvements only: a page without a text layer goes to OCR even at alpha 0. An
    explicit hard cap that leaves it out drops the document with a reason, never keeps it empty."""
    out = parse_pdfs([{"source": "t", "source_id": "scan.pdf", "content": scan}], PdfConfig(alpha=0.0))[0]
    assert out["decision"] == S.KEPT and out["pdf_parsers"] == "tesseract" and out["text"].strip()
    capped = parse_pdfs([{"source": "t", "source_id": "scan.pdf", "content": scan},
                         {"source": "t", "source_id": "topo.pdf", "content": topo}],
                        PdfConfig(alpha=0.0, expensive_hard_cap=0.0))
    assert (capped[0]["decision"], capped[0]["reason"]) == (S.DROPPED, "pdf_ocr_budget_exhausted")
    assert "expensive_hard_cap" in capped[0]["detail"]
    assert json.loads(capped[0]["pdf_pages_json"])[0]["empty"] is True
    assert capped[1]["decision"] == S.KEPT and capped[1]["text"].strip()  # born-digital: unaffected


def test_a_blank_page_says_so_and_a_pdf_without_any_text_is_dropped(topo):
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    w.add_blank_page(612, 792)
    buf = io.BytesIO()
    w.write(buf)
    blank = buf.getvalue()
    w = PdfWriter()
    w.add_page(PdfReader(io.BytesIO(topo)).pages[0])
    w.add_blank_page(612, 792)
    buf = io.BytesIO()
    w.write(buf)
    out = parse_pdfs([{"source": "t", "source_id": "blank", "content": blank},
                      {"source": "t", "source_id": "half", "content": buf.getvalue()}], PdfConfig(alpha=0.0))
    assert (out[0]["decision"], out[0]["reason"]) == (S.DROPPED, "pdf_no_text")
    assert out[1]["decision"] == S.KEPT
    pages = json.loads(out[1]["pdf_pages_json"])
    assert "empty" not in pages[0] and pages[1]["empty"] is True and "blank page" in pages[1]["note"]


def test_quarantine_reasons(topo):
    recs = [
        {"source": "t", "source_id": "enc", "content": _encrypted(topo)},
        {"source": "t", "source_id": "zero", "content": _zero_pages()},
        {"source": "t", "source_id": "trunc", "content": topo[: len(topo) // 2]},
        {"source": "t", "source_id": "html", "content": b"<html>not a pdf</html>"},
        {"source": "t", "source_id": "missing", "path": "/nonexistent/x.pdf"},
        {"source": "t", "source_id": "nothing"},
        {"source": "t", "source_id": "corrupt", "content": b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"},
    ]
    out = parse_pdfs(recs, PdfConfig(alpha=0.0))
    got = {o["source_id"]: (o["decision"], o["reason"]) for o in out}
    assert got == {
        "enc": (S.QUARANTINED, "pdf_encrypted"),
        "zero": (S.QUARANTINED, "pdf_zero_pages"),
        "trunc": (S.QUARANTINED, "pdf_truncated"),
        "html": (S.QUARANTINED, "pdf_not_pdf"),
        "missing": (S.QUARANTINED, "pdf_unreadable"),
        "nothing": (S.QUARANTINED, "pdf_missing"),
        "corrupt": (S.QUARANTINED, "pdf_corrupt"),
    }
    assert all(o["detail"] for o in out) and all(o["text"] is None for o in out)
    assert len({o["doc_id"] for o in out}) == len(out)


def test_truncated_pdf_parses_when_eof_check_is_off(topo):
    cut = topo[: int(len(topo) * 0.9)]
    out = parse_pdfs([{"source": "t", "source_id": "cut", "content": cut}], PdfConfig(alpha=0.0, require_eof_marker=False))
    assert out[0]["decision"] in (S.KEPT, S.QUARANTINED) and out[0]["reason"] in (None, "pdf_corrupt")


def test_cheap_pass_time_limit_quarantines(topo):
    out = parse_pdfs([{"source": "t", "source_id": "x", "content": topo}], PdfConfig(alpha=0.0, doc_time_limit_s=0.001))
    assert out[0]["decision"] == S.QUARANTINED and out[0]["reason"] == "pdf_timeout"
    # the sandbox recovers: the next PDF parses
    out = parse_pdfs([{"source": "t", "source_id": "x", "content": topo}], PdfConfig(alpha=0.0))
    assert out[0]["decision"] == S.KEPT


@pytest.mark.parametrize("policy,doc,decision", [("fallback", "topo", S.KEPT), ("fallback", "scan", S.QUARANTINED),
                                                 ("quarantine", "scan", S.QUARANTINED)])
def test_hanging_expensive_parser(scan, topo, policy, doc, decision, slow_plugin):
    """A born-digital page falls back to its cheap text; an unreadable page has none to fall back to, so the
    document is quarantined with the failure's reason rather than kept with an empty page."""
    name = slow_plugin
    cfg = PdfConfig(alpha=1.0, min_gain=-1.0, expensive_parser=name, prior_accuracy={name: 0.9},
                    expensive_time_limit_s_per_page=1.0, on_expensive_failure=policy)
    t0 = time.time()
    data = scan if doc == "scan" else topo
    out = parse_pdfs([{"source": "t", "source_id": doc, "content": data}], cfg)[0]
    assert time.time() - t0 < 30
    assert out["decision"] == decision
    if decision == S.KEPT:
        page = json.loads(out["pdf_pages_json"])[0]
        assert page["parser"] == "pdfium" and "pdf_timeout" in page["note"] and out["text"].strip()
    else:
        assert out["reason"] == "pdf_timeout"


def test_fuzz_truncated_and_byte_flipped_pdfs_never_crash(topo):
    """Every damaged PDF ends kept or quarantined with a reason; none is lost, nothing raises."""
    rng = random.Random(7)
    recs = []
    for i in range(24):
        data = bytearray(topo)
        if i % 3 == 0:
            data = data[: rng.randrange(10, len(data))]
        else:
            for _ in range(rng.choice([1, 10, 200])):
                data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 4 == 1:
            data += b"\n%%EOF\n"
        recs.append({"source": "fuzz", "source_id": f"f{i}", "content": bytes(data)})
    out = parse_pdfs(recs, PdfConfig(alpha=0.0, require_eof_marker=False, doc_time_limit_s=30))
    assert [o["source_id"] for o in out] == [r["source_id"] for r in recs]
    for o in out:
        assert o["decision"] in (S.KEPT, S.QUARANTINED)
        if o["decision"] == S.QUARANTINED:
            assert o["reason"].startswith("pdf_") and o["detail"]
        else:
            assert isinstance(o["text"], str) and o["pdf_pages"] >= 1


def test_reference_dir_gives_measured_accuracy(ext_dir):
    pdf = ext_dir / "pdf" / "files" / "l3news12.pdf"
    cfg = PdfConfig(alpha=0.0, reference_dir=str(ext_dir / "pdf" / "reference_text_pdftotext"))
    out = parse_pdfs([{"source": "t", "source_id": "l3news12.pdf", "path": str(pdf)}], cfg)[0]
    assert out["pdf_measured_accuracy"] > 0.8
    pages = json.loads(out["pdf_pages_json"])
    assert all(p["measured"][p["parser"]]["bleu"] > 0.5 for p in pages)


def test_document_mode_routes_whole_documents(topo, scan):
    cfg = PdfConfig(mode="document", alpha=0.5, ocr_dpi=100)
    out = parse_pdfs([{"source": "t", "source_id": "d", "content": topo}, {"source": "t", "source_id": "s", "content": scan}], cfg)
    assert out[0]["pdf_parsers"] in ("pdfium", "pypdf") and out[1]["pdf_parsers"] == "tesseract"


def test_config_validation(make_config):
    from curation.config import ConfigError, build_section

    with pytest.raises(ConfigError, match="alpha"):
        build_section(PdfConfig, {"alpha": 1.5}, "ingest.pdf")
    with pytest.raises(ConfigError, match="unknown parser"):
        build_section(PdfConfig, {"expensive_parser": "nougat"}, "ingest.pdf")
    cfg = build_section(PdfConfig, {"expensive_parser": "nougat", "http_parsers": {"nougat": "http://gpu:8000"},
                                    "gate": {"max_cid_frac": 0.1}}, "ingest.pdf")
    assert cfg.gate.max_cid_frac == 0.1
    from curation.stages.ingest.pdf.pipeline import resolve_plan

    with pytest.raises(ValueError, match="prior_accuracy"):
        resolve_plan(cfg)
    cfg.prior_accuracy = {"nougat": 0.8}
    cfg.budget_cpu_seconds_per_page = 0.1
    plan = resolve_plan(cfg)
    assert 0 < plan.alpha < 1 and plan.costs["nougat"] > 0


def test_sandbox_survives_a_crashing_and_a_hanging_call():
    from curation.stages.ingest.pdf.sandbox import Sandbox, SandboxCrash, SandboxError, SandboxTimeout

    box = Sandbox(memory_limit_mb=1024)
    try:
        with pytest.raises(SandboxCrash):
            box.call("os:_exit", 3, timeout=20)
        with pytest.raises(SandboxTimeout):
            box.call("time:sleep", 30, timeout=0.5)
        with pytest.raises(SandboxError) as e:
            box.call("curation.stages.ingest.pdf.document:open_pdf", b"", timeout=20)
        assert e.value.reason == "pdf_empty_file"
        assert box.call("math:sqrt", 16.0, timeout=20) == 4.0
    finally:
        box.kill()
