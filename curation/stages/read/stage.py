"""The source stage for document inputs (JSONL, Parquet): one Spark task per file, every record accounted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation.engine.stage import Stage, StageContext
from curation.io.readers import expand_inputs, read_documents

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class ReadStage(Stage):
    name = "read"
    source = True

    def read(self, ctx: StageContext, paths: list[str]) -> DataFrame:
        cfg = self.config.input
        files = expand_inputs(paths)
        ctx.record("files", len(files))
        return read_documents(ctx.spark, files, cfg, batch_size=self.config.spark.max_records_per_batch)


STAGE = ReadStage
