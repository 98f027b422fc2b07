"""export: the final documents in the document schema, with a chosen column set.

Intermediate stages keep every signal column; export is where a user trims what the training job
reads (e.g. drop stored embeddings) and where the core columns are put first in schema order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation import schema as S
from curation.engine.decide import decide
from curation.engine.stage import Stage, StageContext
from curation.stages.export.config import ExportConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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
            short = F.coalesce(F.col("token_count"), F.lit(0)) < cfg.min_tokens
            out = decide(out, short, "too_short", f"token_count < export.min_tokens={cfg.min_tokens}")
        return out


STAGE = ExportStage
