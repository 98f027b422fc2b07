"""dedup: exact duplicates, MinHash near-duplicates and document containment, on Spark.

The algorithms live in `curation.stages.dedup` (see its package docstring); this module is the stage glue:
config, joining the decisions back onto the documents, manifest facts, the incremental index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation.engine.stage import Stage, StageContext
from curation.stages.dedup.config import DedupConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["DedupConfig", "DedupStage", "STAGE"]


class DedupStage(Stage):
    name = "dedup"
    Config = DedupConfig
    cli_options = {"--index-dir": "dedup.index_dir", "--threshold": "dedup.threshold"}

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        from curation.io import fs
        from curation.stages.dedup.incremental import dedup_against_index, index_params
        from curation.stages.dedup.pipeline import SIGNAL_COLUMNS, run_dedup

        cfg: DedupConfig = self.cfg
        work = fs.join(ctx.stage_dir, "work")
        if cfg.index_dir:
            result = dedup_against_index(ctx.spark, docs, cfg.index_dir, cfg, work_dir=work)
            ctx.record("index", {"dir": cfg.index_dir, "batch": result.stats["batch"], "published": cfg.index_publish,
                                 **index_params(cfg)})
        else:
            result = run_dedup(ctx.spark, docs, cfg, work)
        ctx.record("dedup", result.stats)
        if not cfg.keep_work:
            for name in ("features", "bands", "cc", "components", "ensemble_index", "contain_candidates",
                         "contain_after_minmax", "near_candidates", "near_edges"):
                fs.remove(fs.join(work, name))
        dec = result.decisions.select(
            "doc_id", *[F.col(c).alias(f"_d_{c}") for c in ("decision", "reason", "related_id", "detail", *SIGNAL_COLUMNS)])
        base = docs.drop(*[c for c in SIGNAL_COLUMNS if c in docs.columns])
        out = base.join(dec, "doc_id", "left")
        # decide once which rows take dedup's decision (only rows still kept), then overwrite all four columns
        out = out.withColumn("_d_apply", (F.col("decision") == F.lit("kept")) & F.col("_d_decision").isNotNull())
        for c in ("decision", "reason", "related_id", "detail"):
            out = out.withColumn(c, F.when(F.col("_d_apply"), F.col(f"_d_{c}")).otherwise(F.col(c)))
        for c in SIGNAL_COLUMNS:
            out = out.withColumnRenamed(f"_d_{c}", c)
        return out.drop("_d_apply", "_d_decision", "_d_reason", "_d_related_id", "_d_detail")


STAGE = DedupStage
