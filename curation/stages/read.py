"""The source stage for document inputs (JSONL, Parquet): one Spark task per file, every record accounted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation import schema as S
from curation.config import InputConfig
from curation.engine.batches import spark_schema
from curation.io import fs
from curation.io.readers import is_document_parquet, read_file, reader_schema
from curation.stages.base import Stage, StageContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def expand_inputs(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        found = fs.list_files(p)
        if not found:
            raise FileNotFoundError(f"input not found or empty: {p}")
        files += found
    return sorted(dict.fromkeys(files))


def files_frame(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row and one partition per file, so each file is read by its own task with bounded memory."""
    rdd = spark.sparkContext.parallelize([(f,) for f in files], max(1, len(files)))
    return spark.createDataFrame(rdd, "path string")


def read_documents(spark: SparkSession, files: list[str], cfg: InputConfig, batch_size: int = 1000) -> DataFrame:
    from pyspark.sql import functions as F

    native = [f for f in files if f.lower().endswith((".parquet", ".pq")) and is_document_parquet(f)]
    native_set = set(native)
    foreign = [f for f in files if f not in native_set]
    frames = []
    if foreign:
        out_schema = reader_schema()

        def run(batches):
            for b in batches:
                for path in b.column("path").to_pylist():
                    yield from read_file(path, cfg, batch_size)

        frames.append(files_frame(spark, foreign).mapInArrow(run, spark_schema(out_schema)))
    if native:
        df = spark.read.option("mergeSchema", "true").parquet(*[fs.spark_path(f) for f in native])
        for c in S.DECISION_FIELDS:
            if c.name in df.columns:
                df = df.drop(c.name)
        bad = F.col("text").isNull() | F.col("doc_id").isNull() | F.col("source_id").isNull()
        df = (
            df.withColumn("decision", F.when(bad, F.lit(S.QUARANTINED)).otherwise(F.lit(S.KEPT)))
            .withColumn("reason", F.when(bad, F.lit("missing_text")))
            .withColumn("related_id", F.lit(None).cast("string"))
            .withColumn("detail", F.when(bad, F.lit("document row without text, doc_id or source_id")))
        )
        frames.append(df)
    result = frames[0]
    for f in frames[1:]:
        result = result.unionByName(f, allowMissingColumns=True)
    return result


class ReadStage(Stage):
    name = "read"
    source = True

    def read(self, ctx: StageContext, paths: list[str]) -> DataFrame:
        cfg = self.config.input
        files = expand_inputs(paths)
        ctx.record("files", len(files))
        return read_documents(ctx.spark, files, cfg, batch_size=self.config.spark.max_records_per_batch)


STAGE = ReadStage
