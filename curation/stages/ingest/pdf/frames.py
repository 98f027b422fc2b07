"""Entry point the `ingest` stage calls for PDFs (files, and PDF payloads found inside WARC records).

Three Spark steps (see pipeline.py): the cheap phase in the input's partitions (persisted, so PDFs are read
and cheap-parsed once), the budget rule over all proposals of the whole input (a sum and an ordered limit over
a small table), the expensive phase on only the PDFs with selected pages, repartitioned to
`expensive_concurrency` tasks (the OCR/GPU bottleneck is sized on its own), and a finalize step after left
joins on a row key.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa

from curation import schema as S
from curation.io.readers import reader_schema
from curation.stages.ingest.pdf.pipeline import PdfRouting
from curation.stages.ingest.pdf.router import budget_units

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from curation.engine.stage import StageContext
    from curation.stages.ingest.pdf.config import PdfConfig


def pdf_signal_fields() -> list[pa.Field]:
    spec = S.load_spec("signals/pdf.json")
    return [pa.field(f["name"], S.arrow_type(f["type"]), nullable=True, metadata={"doc": f.get("doc", "")})
            for f in spec["fields"]]


@cache
def output_schema() -> pa.Schema:
    """Reader schema (core document columns + decisions) plus the PDF signal columns."""
    base = reader_schema()
    return pa.schema(list(base) + [f for f in pdf_signal_fields() if f.name not in base.names], metadata=base.metadata)


CHEAP_SCHEMA = pa.schema([
    ("source", pa.string()), ("source_id", pa.string()), ("url", pa.string()),
    ("crawl_date", pa.timestamp("us", tz="UTC")), ("path", pa.string()), ("_key", pa.int64()),
    ("_doc_id", pa.string()), ("_status", pa.string()), ("_detail", pa.string()), ("_n_pages", pa.int32()),
    ("_texts", pa.list_(pa.string())), ("_pages", pa.string()), ("_units", pa.int32()),
    ("_cand_pages", pa.list_(pa.int32())), ("_cand_scores", pa.list_(pa.float64())), ("_cand_required", pa.list_(pa.bool_())),
    ("_data", pa.binary()), ("_meta", pa.string()), ("_producer", pa.string()),
])
EXPENSIVE_SCHEMA = pa.schema([
    ("_key", pa.int64()), ("_exp_texts", pa.list_(pa.string())), ("_exp_seconds", pa.float64()), ("_exp_error", pa.string()),
])


def _rows(batch: pa.RecordBatch) -> list[dict]:
    return batch.to_pylist()


class CheapPhase:
    def __init__(self, routing: PdfRouting):
        self.routing = routing

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = self.routing.cheap_batch(_rows(batch))
        return pa.RecordBatch.from_pylist(rows, schema=CHEAP_SCHEMA)


class ExpensivePhase:
    def __init__(self, routing: PdfRouting):
        self.routing = routing

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_pylist([self.routing.expensive_one(r) for r in _rows(batch)], schema=EXPENSIVE_SCHEMA)


class FinalPhase:
    def __init__(self, routing: PdfRouting):
        self.routing = routing

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        out = []
        for r in _rows(batch):
            exp = {k: r.get(k) for k in EXPENSIVE_SCHEMA.names} if r.get("_selected") else None
            out.append(self.routing.finalize(r, exp))
        return pa.RecordBatch.from_pylist(out, schema=output_schema())


def pdf_documents(ctx: StageContext, cfg: PdfConfig, frame: DataFrame) -> DataFrame:
    """Parse PDFs into documents.

    `frame` has one row per PDF with columns: source (string), source_id (string), url (string, nullable),
    crawl_date (timestamp, nullable), path (string, nullable: a PDF file to read) and content (binary,
    nullable: the PDF bytes, for PDFs from WARC records). Returns rows in the reader schema
    (curation.io.readers.reader_schema(): core document columns + decision columns) plus the PDF signal
    columns declared in schemas/signals/pdf.json; every input PDF yields exactly one row (kept, or
    quarantined with a reason).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    routing = PdfRouting(cfg)
    plan = routing.plan  # fail fast on the driver: model file, parser names, alpha from the budget
    ctx.record("pdf_alpha", plan.alpha)
    ctx.record("pdf_parser_costs", plan.costs)
    ctx.record("pdf_mode", cfg.mode)
    from curation.stages.ingest.pdf.predictor import default_model

    ctx.record_model("pdf_router", cfg.model or default_model())
    cols = [F.col(c) if c in frame.columns else F.lit(None).alias(c) for c in ("source", "source_id", "url", "crawl_date", "path")]
    content = F.col("content").cast("binary") if "content" in frame.columns else F.lit(None).cast("binary")
    keyed = frame.select(*cols, content.alias("content"), F.monotonically_increasing_id().alias("_key"))
    keyed = keyed.withColumn("crawl_date", F.col("crawl_date").cast("timestamp"))
    cheap = ctx.map_batches(keyed, CheapPhase(routing), CHEAP_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    # The budget over the whole input (router.select_global): every unreadable unit, plus floor(alpha * units)
    # optional proposals of highest priority; an optional hard cap bounds the total. Ordered limits over the
    # small table of proposals; ties by key and page, as in pipeline.apply_budget.
    units = int(cheap.agg(F.sum("_units")).first()[0] or 0)
    cands = (cheap.select("_key", F.explode(F.arrays_zip("_cand_pages", "_cand_scores", "_cand_required")).alias("c"))
             .select("_key", F.col("c._cand_pages").alias("page"), F.col("c._cand_scores").alias("score"),
                     F.col("c._cand_required").alias("required")))
    order = [F.desc("score"), F.asc("_key"), F.asc("page")]
    n_required = cands.where("required").count()
    k_required, k = n_required, budget_units(plan.alpha, units)
    if cfg.expensive_hard_cap is not None:
        cap = budget_units(cfg.expensive_hard_cap, units)
        k_required = min(n_required, cap)
        k = min(k, cap - k_required)
    ctx.record("pdf_budget", {"units": units, "unreadable": n_required, "unreadable_taken": k_required,
                              "optional_max": k})
    chosen = (cands.where("required").orderBy(*order).limit(k_required)
              .unionByName(cands.where(~F.col("required")).orderBy(*order).limit(k)))
    selected = chosen.groupBy("_key").agg(F.sort_array(F.collect_list("page")).alias("_selected"))
    todo = (cheap.select("_key", "_data", "_n_pages").join(selected, on="_key")
            .repartition(cfg.expensive_concurrency))
    expensive = ctx.map_batches(todo, ExpensivePhase(routing), EXPENSIVE_SCHEMA)
    joined = (cheap.drop("_data").join(selected, on="_key", how="left")
              .join(expensive, on="_key", how="left"))
    return ctx.map_batches(joined, FinalPhase(routing), output_schema())
