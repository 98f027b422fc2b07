"""Decisions on a DataFrame: a stage drops or quarantines rows that are still kept, and only those.

The per-batch twin is `curation.engine.batches.set_decisions`; both leave a row that an earlier stage
dropped or quarantined exactly as it was, so the first reason given to a document is the one it keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation import schema as S

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def decide(df: DataFrame, when: Column, reason: str | Column, detail: str | Column | None = None,
           related: Column | None = None, decision: str = S.DROPPED) -> DataFrame:
    """Set decision/reason/detail/related_id on the kept rows where `when` holds (null counts as false)."""
    from pyspark.sql import functions as F

    def lit(v: str | Column | None) -> Column:
        return v if v is not None and not isinstance(v, str) else F.lit(v).cast("string")

    hit = (F.col("decision") == S.KEPT) & F.coalesce(when, F.lit(False))
    out = df.withColumn("reason", F.when(hit, lit(reason)).otherwise(F.col("reason")))
    if detail is not None:
        out = out.withColumn("detail", F.when(hit, lit(detail)).otherwise(F.col("detail")))
    if related is not None:
        out = out.withColumn("related_id", F.when(hit, related).otherwise(F.col("related_id")))
    return out.withColumn("decision", F.when(hit, F.lit(decision)).otherwise(F.col("decision")))
