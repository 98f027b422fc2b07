"""ingest: raw inputs (WARC/WET/ARC, HTML pages, PDFs, JSONL/Parquet) to documents, every record accounted.

Web files are read by one Spark task each (`files_frame`), streaming their records through
`curation.stages.ingest.web.documents.read_web_file`; JSONL/Parquet pass through `read_documents`; PDF files
and PDF payloads of WARC records go to the PDF path (`curation.stages.ingest.pdf.frames.pdf_documents`).
Exact URL dedup is the one global step: a window over the kept web pages of the whole run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation import schema as S
from curation.engine.decide import decide
from curation.engine.stage import Stage, StageContext
from curation.io.readers import expand_inputs, files_frame, input_format, read_documents
from curation.stages.ingest.config import IngestConfig
from curation.stages.ingest.web.documents import PDF_CONTENT, is_html_path, read_web_file, web_schema
from curation.stages.ingest.web.sandbox import Extractor

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

PDF_SUFFIXES = (".pdf",)


def classify(files: list[str], cfg: IngestConfig) -> tuple[list[str], list[str], list[str]]:
    """(document inputs, web inputs, pdf files). Anything not JSONL/Parquet/PDF is tried as WARC/ARC/HTML."""
    docs, web, pdfs = [], [], []
    for f in files:
        low = f.lower()
        if low.endswith(PDF_SUFFIXES):
            pdfs.append(f)
        elif input_format(f) is not None:
            docs.append(f)
        else:
            web.append(f)
    return docs, web, pdfs


def _pdf_unavailable(frame: DataFrame, reason: str, detail: str) -> DataFrame:
    """PDF rows marked dropped when the PDF path is disabled or not built (counted, never lost)."""
    from pyspark.sql import functions as F

    return (frame.withColumn("decision", F.lit(S.DROPPED)).withColumn("reason", F.lit(reason))
            .withColumn("detail", F.lit(detail)))


class IngestStage(Stage):
    name = "ingest"
    Config = IngestConfig
    source = True
    cli_options = {"--extractor": "ingest.extractor"}

    def read(self, ctx: StageContext, paths: list[str]) -> DataFrame:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        from curation.engine.batches import spark_schema

        cfg: IngestConfig = self.cfg
        batch_size = self.config.spark.max_records_per_batch
        docs, web, pdfs = classify(expand_inputs(paths), cfg)
        ctx.record("files", {"documents": len(docs), "web": len(web), "pdf": len(pdfs)})
        ctx.record("extractor", cfg.extractor)
        frames: list[DataFrame] = []
        if docs:
            frames.append(read_documents(ctx.spark, docs, self.config.input, batch_size))
        pdf_inputs: list[DataFrame] = []
        if web:
            schema = web_schema()

            def run(batches, cfg=cfg, batch_size=batch_size):
                # One extractor worker per task, shared by the task's files: single-page HTML files then
                # share the router's budget credit (a per-file credit would never reach one page).
                with Extractor(cfg.extractor, cfg.extract_timeout_s, cfg.router_threshold,
                               router_budget=cfg.router_budget) as ex:
                    for b in batches:
                        for path in b.column("path").to_pylist():
                            yield from read_web_file(path, cfg, batch_size, extractor=ex)

            archives = [f for f in web if not is_html_path(f, cfg)]
            pages_in = [f for f in web if is_html_path(f, cfg)]
            parts = []
            if archives:
                parts.append(files_frame(ctx.spark, archives))  # one task per archive: streaming, bounded memory
            if pages_in:
                # Single HTML pages are small: consecutive files (sorted) share a task, html_files_per_task each.
                n = max(1, -(-len(pages_in) // cfg.html_files_per_task))
                rdd = ctx.spark.sparkContext.parallelize([(f,) for f in pages_in], n)
                parts.append(ctx.spark.createDataFrame(rdd, "path string"))
            files = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
            rows = files.mapInArrow(run, spark_schema(schema))
            # Materialise once: the rows are split (PDF payloads / pages) and deduplicated below, and the
            # WARC files must not be read and extracted twice.
            rows = rows.persist(StorageLevel.DISK_ONLY)
            has_pdf = F.col(PDF_CONTENT).isNotNull()
            counts = rows.groupBy("html_extractor", has_pdf.alias("pdf")).count().collect()  # also materialises
            by_extractor: dict[str, int] = {}
            for r in counts:
                if r["html_extractor"]:
                    by_extractor[r["html_extractor"]] = by_extractor.get(r["html_extractor"], 0) + r["count"]
            n_pdf = sum(r["count"] for r in counts if r["pdf"])
            ctx.record("web_records", sum(r["count"] for r in counts))
            ctx.record("web_text_by_extractor", by_extractor)
            ctx.record("web_pdf_payloads", n_pdf)
            pdf_rows = rows.where(has_pdf)
            pages = rows.where(~has_pdf).drop(PDF_CONTENT)
            if cfg.dedup_urls:
                pages = dedup_urls(pages)
            frames.append(pages)
            if n_pdf:
                pdf_inputs.append(pdf_rows.select("source", "source_id", "url", "crawl_date",
                                                  F.lit(None).cast("string").alias("path"),
                                                  F.col(PDF_CONTENT).alias("content"), "doc_id", "source_type"))
        if pdfs:
            files = files_frame(ctx.spark, pdfs)
            pdf_inputs.append(files.select(F.col("path").alias("source"), F.col("path").alias("source_id"),
                                           F.lit(None).cast("string").alias("url"),
                                           F.lit(None).cast("timestamp").alias("crawl_date"), "path",
                                           F.lit(None).cast("binary").alias("content"),
                                           F.lit(None).cast("string").alias("doc_id"),
                                           F.lit("pdf").alias("source_type")))
        if pdf_inputs:
            frames.append(self._pdfs(ctx, pdf_inputs))
        result = frames[0]
        for f in frames[1:]:
            result = result.unionByName(f, allowMissingColumns=True)
        return result

    def _pdfs(self, ctx: StageContext, inputs: list[DataFrame]) -> DataFrame:
        from pyspark.sql import functions as F

        from curation.ids import doc_id as make_id

        cfg: IngestConfig = self.cfg
        frame = inputs[0]
        for f in inputs[1:]:
            frame = frame.unionByName(f)
        pdf_frame = frame.select("source", "source_id", "url", "crawl_date", "path", "content")
        try:
            if not cfg.pdf.enabled:
                raise LookupError("ingest.pdf.enabled is false")
            from curation.stages.ingest.pdf.frames import pdf_documents

            out = pdf_documents(ctx, cfg.pdf, pdf_frame)
            ctx.record("pdf_path", "parsed")
            return out
        except (NotImplementedError, LookupError) as e:
            reason = "pdf_disabled" if isinstance(e, LookupError) else "pdf_not_supported"
            ctx.record("pdf_path", reason)
            id_udf = F.udf(lambda s, p: make_id(s, p or "file", "pdf"), "string")
            rows = frame.select(
                F.coalesce(F.col("doc_id"), id_udf(F.col("source"), F.col("path"))).alias("doc_id"),
                "source_id", "source", "source_type", "url",
                F.expr("parse_url(url, 'HOST')").alias("domain"), "crawl_date",
                F.lit(None).cast("string").alias("text"),
                F.lit(None).cast("long").alias("token_count"),
                F.lit(S.DROPPED).alias("decision"), F.lit(None).cast("string").alias("reason"),
                F.lit(None).cast("string").alias("related_id"), F.lit(None).cast("string").alias("detail"))
            return _pdf_unavailable(rows, reason, f"PDF skipped: {e}")


def dedup_urls(pages: DataFrame) -> DataFrame:
    """Exact URL dedup over the whole run: keep the latest crawl of a URL (ties: smallest source_id).

    Only kept rows with a URL take part (the others are passed around the window, so the many dropped
    request/metadata rows never pile up in one null-key partition).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    candidate = (F.col("decision") == S.KEPT) & F.col("url").isNotNull()
    rest = pages.where(~candidate | candidate.isNull())
    w = Window.partitionBy("url").orderBy(F.col("crawl_date").desc_nulls_last(), F.col("source_id"))
    ranked = (pages.where(candidate).withColumn("_rank", F.row_number().over(w))
              .withColumn("_first", F.first("source_id").over(w)))
    deduped = decide(ranked, F.col("_rank") > 1, "duplicate_url", F.concat(F.lit("same URL as the kept record "),
                     F.col("_first")), F.col("_first")).drop("_rank", "_first")
    return deduped.unionByName(rest)


STAGE = IngestStage

__all__ = ["IngestStage", "dedup_urls", "classify", "is_html_path"]
