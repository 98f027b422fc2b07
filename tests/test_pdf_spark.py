"""pdf_documents on Spark: files and in-memory PDFs (as from WARC records) in, one row per PDF out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from curation import schema as S
from curation.stages.ingest.pdf.config import PdfConfig
from curation.stages.ingest.pdf.frames import output_schema, pdf_documents
from curation.stages.ingest.pdf.parsers import PARSERS
from tools.pdf.degrade import make_variant


def _ctx(spark, tmp_path):
    from curation.config import load_config
    from curation.engine.stage import StageContext

    return StageContext(spark=spark, config=load_config(), run_dir=str(tmp_path), stage_dir=str(tmp_path / "side"),
                        run_id="t", index=0)


@pytest.mark.spark
def test_pdf_documents_on_spark(spark, tmp_path, sample_dir):
    from pyspark.sql import types as T

    files = [sample_dir / "pdf" / "topology-hw-1.pdf", sample_dir / "pdf" / "elstest-5p.pdf"]
    topo = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    scan = make_variant(topo, "image", [2], PARSERS["pdfium"].parse(topo, [2]), seed=0)
    schema = T.StructType([
        T.StructField("source", T.StringType()), T.StructField("source_id", T.StringType()),
        T.StructField("url", T.StringType()), T.StructField("crawl_date", T.TimestampType()),
        T.StructField("path", T.StringType()), T.StructField("content", T.BinaryType()),
    ])
    when = datetime(2024, 5, 1, tzinfo=UTC)
    rows = [("files", str(f), None, None, str(f), None) for f in files]
    rows += [("crawl.warc.gz", "<urn:uuid:1>", "https://example.org/scan.pdf", when, None, bytearray(scan)),
             ("crawl.warc.gz", "<urn:uuid:2>", "https://example.org/bad.pdf", when, None, bytearray(b"%PDF-1.4 junk")),
             ("files", "gone.pdf", None, None, "/nonexistent/gone.pdf", None)]
    frame = spark.createDataFrame(rows, schema).repartition(2)
    cfg = PdfConfig(alpha=0.2, min_gain=0.5, ocr_dpi=150, expensive_concurrency=2)  # only the scan page is OCRed
    ctx = _ctx(spark, tmp_path)
    df = pdf_documents(ctx, cfg, frame)
    out = {r["source_id"]: r.asDict() for r in df.collect()}
    assert len(out) == len(rows)
    assert set(df.columns) == set(output_schema().names)
    assert set(S.decided_schema(S.core_document_schema()).names) <= set(df.columns)
    for f in files:
        r = out[str(f)]
        assert r["decision"] == S.KEPT and r["source_type"] == "pdf" and r["text"]
        pages = json.loads(r["pdf_pages_json"])
        assert len(pages) == r["pdf_pages"] and all(p["parser"] for p in pages)
    s = out["<urn:uuid:1>"]
    assert s["decision"] == S.KEPT and s["pdf_parsers"] == "tesseract" and s["domain"] == "example.org"
    assert s["crawl_date"].year == 2024
    assert out["<urn:uuid:2>"]["reason"] == "pdf_truncated"
    assert out["gone.pdf"]["reason"] == "pdf_unreadable"
    assert ctx.extra["pdf_alpha"] == 0.2 and "pdf_router" in ctx.models


@pytest.mark.spark
@pytest.mark.heavy
def test_ingest_run_over_fuzzed_pdfs_loses_nothing(spark, tmp_path, sample_dir):
    """`ingest` over a folder of truncated and byte-flipped PDFs: the run finishes, every file is accounted."""
    import random

    from curation.config import load_config
    from curation.engine.runner import run_pipeline

    src = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    rng = random.Random(11)
    for i in range(12):
        data = bytearray(src)
        if i % 2:
            data = data[: rng.randrange(10, len(data))]
        else:
            for _ in range(rng.choice([3, 50, 500])):
                data[rng.randrange(len(data))] = rng.randrange(256)
        (folder / f"f{i:02d}.pdf").write_bytes(bytes(data))
    (folder / "ok.pdf").write_bytes(src)
    cfg = load_config(None, ["ingest.pdf.alpha=0.0"])
    manifest = run_pipeline(cfg, stages=["ingest"], inputs=[str(folder)], out_dir=str(tmp_path / "run"), spark=spark)
    docs = manifest["stages"][0]["docs"]
    assert docs["in"] == 13 == docs["kept"] + docs["dropped"] + docs["quarantined"]
    assert docs["kept"] >= 1 and docs["quarantined"] >= 6  # the truncated halves at least
    reasons = manifest["stages"][0]["reasons"]
    assert all(r.startswith("pdf_") for r in reasons), reasons


@pytest.mark.spark
def test_on_spark_unreadable_pages_bypass_alpha_and_a_hard_cap_drops_them(spark, tmp_path, sample_dir):
    """The Spark budget (ordered limits) matches the in-process rule: a scanned page is read at alpha 0, and a hard
    cap of 0 drops its document as pdf_ocr_budget_exhausted while the born-digital one is kept."""
    topo = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    scan = make_variant(topo, "image", [1], PARSERS["pdfium"].parse(topo, [1]), seed=0)
    frame = spark.createDataFrame([("t", "scan", bytearray(scan)), ("t", "topo", bytearray(topo))],
                                  "source string, source_id string, content binary")
    read = {r["source_id"]: r for r in pdf_documents(_ctx(spark, tmp_path / "a"), PdfConfig(alpha=0.0, ocr_dpi=150),
                                                     frame).collect()}
    assert read["scan"]["decision"] == S.KEPT and "tesseract" in read["scan"]["pdf_parsers"] and read["scan"]["text"].strip()
    ctx = _ctx(spark, tmp_path / "b")
    capped = {r["source_id"]: r for r in pdf_documents(ctx, PdfConfig(alpha=0.0, expensive_hard_cap=0.0), frame).collect()}
    assert (capped["scan"]["decision"], capped["scan"]["reason"]) == (S.DROPPED, "pdf_ocr_budget_exhausted")
    assert capped["topo"]["decision"] == S.KEPT
    assert ctx.extra["pdf_budget"]["unreadable"] >= 1 and ctx.extra["pdf_budget"]["unreadable_taken"] == 0
