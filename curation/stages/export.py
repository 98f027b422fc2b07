"""export: the final documents in the document schema, with a chosen column set.

Intermediate stages keep every signal column; export is where a user trims what the training job
reads (e.g. drop stored embeddings) and where the core columns are put first in schema order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation import schema as S
from curation.config import opt
from curation.stages.base import Stage, StageContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass
class ExportConfig:
    drop_columns: list[str] = opt([], "Columns left out of the exported shards (e.g. embedding).")
    min_tokens: int = opt(0, "Documents with fewer tokens are dropped as `too_short` (0 keeps all).")

    def validate(self) -> None:
        core = set(S.core_names())
        bad = [c for c in self.drop_columns if c in core]
        if bad:
            raise ValueError(f"drop_columns may not drop core document columns: {bad}")


class ExportStage(Stage):
    name = "export"
    Config = ExportConfig

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        cfg: ExportConfig = self.cfg
        core = S.core_names()
        decision = [f.name for f in S.DECISION_FIELDS]
        rest = [c for c in docs.columns if c not in core and c not in decision and c not in cfg.drop_columns]
        out = docs.select(*[c for c in core if c in docs.columns], *rest, *decision)
        if cfg.min_tokens > 0:
            short = (F.col("decision") == S.KEPT) & (F.coalesce(F.col("token_count"), F.lit(0)) < cfg.min_tokens)
            out = (
                out.withColumn("reason", F.when(short, F.lit("too_short")).otherwise(F.col("reason")))
                .withColumn("detail", F.when(short, F.concat(F.lit("token_count < export.min_tokens="),
                                                             F.lit(str(cfg.min_tokens)))).otherwise(F.col("detail")))
                .withColumn("decision", F.when(short, F.lit(S.DROPPED)).otherwise(F.col("decision")))
            )
        return out


STAGE = ExportStage
