"""Runs a list of stages over inputs into one run folder, stage by stage, resumably.

The folder layout is `curation/io/run_folder.py`'s. A stage gets the previous stage's kept documents and,
for each earlier stage it names in `Stage.reads`, that stage's outputs in `ctx.upstream`. Each stage has a
key (hash of its config and everything before it); a stage whose key matches a
`done` manifest entry is not run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from curation import schema as S
from curation.config import Config
from curation.engine.failpoints import failpoint
from curation.engine.spark import Progress, get_spark
from curation.engine.stage import Stage, StageContext, Upstream
from curation.io import fs
from curation.io import run_folder as RF
from curation.io.locks import exclusive
from curation.io.manifest import AccountingError, Manifest, funnel_problems, now, stage_counts
from curation.io.shards import shard_count, write_shards
from curation.stages import get_stage

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("curation")
LEDGER_ROWS_PER_SHARD = 2_000_000


def stage_key(previous: str, name: str, section: Any, extra: Any = None) -> str:
    blob = json.dumps([previous, name, asdict(section) if section is not None else None, extra], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_stages(names: list[str]) -> list[str]:
    """A pipeline that does not start from raw inputs reads documents first."""
    if not names:
        raise ValueError("no stages to run")
    first = get_stage(names[0])
    return names if first.source else ["read", *names]


def with_decisions(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return (
        df.withColumn("decision", F.lit(S.KEPT))
        .withColumn("reason", F.lit(None).cast("string"))
        .withColumn("related_id", F.lit(None).cast("string"))
        .withColumn("detail", F.lit(None).cast("string"))
    )


def run_pipeline(config: Config, stages: list[str] | None = None, inputs: list[str] | None = None,
                 out_dir: str | None = None, spark: SparkSession | None = None,
                 until: str | None = None, from_stage: str | None = None) -> dict[str, Any]:
    """Run (or resume) the pipeline; with `until`, stop after that stage (orchestrators run one stage per task).

    A resume reuses a finished stage only when its key (inputs and the config of it and every stage before it)
    is unchanged; from the first stage whose key changed on, everything runs again and the manifest keeps no
    entry of the old config. `from_stage` reruns from that stage even when nothing changed.
    """
    names = plan_stages(stages or config.pipeline.stages)
    for what, stage in (("until", until), ("from", from_stage)):
        if stage is not None and stage not in names:
            raise ValueError(f"{what} stage {stage!r} is not in the pipeline {names}")
    inputs = list(inputs or config.input.paths)
    out_dir = out_dir or config.output.dir
    if not inputs:
        raise ValueError("no input paths (input.paths in the config, or --input)")
    if not out_dir:
        raise ValueError("no output folder (output.dir in the config, or --output)")
    out_dir = fs.spark_path(out_dir)
    with exclusive(RF.lock_path_of_run(out_dir), f"run folder {out_dir}"):
        return _run_stages(config, names, inputs, out_dir, spark, until, from_stage)


def _run_stages(config: Config, names: list[str], inputs: list[str], out_dir: str, spark: SparkSession | None,
                until: str | None, from_stage: str | None) -> dict[str, Any]:
    spark = spark or get_spark(config.spark)
    manifest = Manifest.open(out_dir, config.hash(names), config.to_dict(), inputs)
    input_key = json.dumps([inputs, asdict(config.input)], sort_keys=True)
    key = hashlib.sha256(input_key.encode()).hexdigest()[:16]
    previous: DataFrame | None = None
    rerun_from = names.index(from_stage) if from_stage is not None else len(names)
    for index, name in enumerate(names):
        stage_cls = get_stage(name)
        stage: Stage = stage_cls(config)
        key = stage_key(key, name, stage.cfg)
        last = index == len(names) - 1
        label = RF.label(index, name)
        docs_dir = RF.documents_dir(out_dir, label, last)
        entry = manifest.stage(index)
        if (index < rerun_from and entry and entry.get("status") == "done" and entry.get("key") == key
                and entry.get("documents") == RF.relative(out_dir, docs_dir) and fs.exists(docs_dir)):
            log.info("stage %s: done before, reusing %s", label, docs_dir)
            previous = spark.read.parquet(docs_dir)
            if name == until:
                return manifest.data
            continue
        manifest.truncate(index)
        ctx = StageContext(spark=spark, config=config, run_dir=out_dir, stage_dir=RF.side_dir(out_dir, label),
                           run_id=manifest.data["run_id"], index=index, inputs=inputs,
                           upstream=upstream_outputs(spark, out_dir, manifest.stages[:index], stage_cls.reads))
        started = time.time()
        manifest.set_stage(index, {"index": index, "name": name, "key": key, "status": "running", "started_at": now()})
        manifest.save()
        try:
            with Progress(spark, label, enabled=config.spark.progress):
                if stage_cls.source:
                    decided = stage.read(ctx, inputs)
                else:
                    assert previous is not None
                    decided = stage.apply(ctx, with_decisions(previous))
                entry = write_stage(spark, decided, out_dir, label, name, docs_dir, config, manifest.data["run_id"])
            failpoint(f"after_stage:{name}")
        except BaseException as e:  # a failed stage never looks alive; the next run starts it again
            failed = manifest.stage(index) or {}
            failed.update(status="failed", failed_at=now(), error=f"{type(e).__name__}: {e}"[:2000])
            manifest.set_stage(index, failed)
            manifest.save()
            raise
        if stage_cls.creates_documents:
            entry["creates_documents"] = True
        entry.update(index=index, name=name, key=key, status="done", started_at=manifest.stage(index)["started_at"],
                     finished_at=now(), seconds=round(time.time() - started, 2), extra=ctx.extra, models=ctx.models)
        manifest.data["models"].update(ctx.models)
        manifest.set_stage(index, entry)
        manifest.save()
        previous = spark.read.parquet(docs_dir)
        if name == until:
            return manifest.data
    manifest.truncate(len(names))
    problems = funnel_problems(manifest.data)
    if problems:
        raise AccountingError("documents are not accounted for: " + "; ".join(problems))
    manifest.data["shards"] = manifest.stages[-1]["shards"]
    manifest.data["documents"] = RF.DOCUMENTS
    manifest.save()
    return manifest.data


def upstream_outputs(spark: SparkSession, out_dir: str, done: list[dict[str, Any]], reads: tuple[str, ...]
                     ) -> dict[str, Upstream]:
    """For each stage name in `reads` that ran earlier in this run (the latest such), its outputs."""
    out: dict[str, Upstream] = {}
    for name in reads:
        entry = next((s for s in reversed(done) if s.get("name") == name and s.get("status") == "done"), None)
        if entry is None:
            continue
        rel = entry.get("rejected")
        rejected = spark.read.parquet(fs.spark_path(fs.join(out_dir, rel))) if rel else None
        out[name] = Upstream(name=name, rejected=rejected, rejected_path=rel)
    return out


def write_stage(spark: SparkSession, decided: DataFrame, out_dir: str, label: str, name: str, docs_dir: str,
                config: Config, run_id: str) -> dict[str, Any]:
    """Materialise a stage's decided rows once, then split them into documents, ledger and rejected."""
    from pyspark.sql import functions as F

    tmp = RF.tmp_dir(out_dir, label)
    fs.remove(tmp)
    all_path = fs.join(tmp, "all")
    decided.write.mode("overwrite").parquet(fs.spark_path(all_path))
    rows = spark.read.parquet(fs.spark_path(all_path))
    tokens = F.coalesce(F.col("token_count"), F.lit(0))
    grouped = (
        rows.groupBy("decision", "reason")
        .agg(F.count(F.lit(1)).alias("docs"), F.sum(tokens).alias("tokens"),
             F.sum(F.coalesce(F.octet_length("text"), F.lit(0))).alias("bytes"))
        .collect()
    )
    counts = stage_counts([r.asDict() for r in grouped])
    bad = [r["decision"] for r in grouped if r["decision"] not in S.DECISIONS]
    if bad:
        raise ValueError(f"stage {name} emitted unknown decisions {bad}")
    kept_bytes = sum(int(r["bytes"] or 0) for r in grouped if r["decision"] == S.KEPT)
    decision_cols = [f.name for f in S.DECISION_FIELDS]
    kept = rows.where(F.col("decision") == S.KEPT).drop(*decision_cols)
    shards = write_shards(kept, docs_dir, fs.join(tmp, "documents"),
                          shard_count(kept_bytes, config.output.shard_target_bytes), compression=config.output.compression)
    ledger_cols = [F.col("doc_id"), F.col("source_id"), F.lit(name).alias("stage"), F.col("decision"), F.col("reason"),
                   F.col("related_id"), F.col("detail"), F.col("token_count").cast("long"), F.lit(run_id).alias("run_id")]
    ledger = rows.select(*ledger_cols)
    ledger_dir = RF.ledger_dir(out_dir, label)
    ledger_shards = write_shards(ledger, ledger_dir, fs.join(tmp, "ledger"),
                                 shard_count(counts["docs"]["in"], LEDGER_ROWS_PER_SHARD), compression=config.output.compression)
    rejected_shards: list[dict] = []
    n_rejected = counts["docs"]["dropped"] + counts["docs"]["quarantined"]
    rejected_dir = RF.rejected_dir(out_dir, label)
    if config.output.write_rejected and n_rejected:
        rejected_bytes = sum(int(r["bytes"] or 0) for r in grouped if r["decision"] != S.KEPT)
        rejected_shards = write_shards(rows.where(F.col("decision") != S.KEPT), rejected_dir, fs.join(tmp, "rejected"),
                                       shard_count(rejected_bytes, config.output.shard_target_bytes),
                                       compression=config.output.compression)
    else:
        fs.remove(rejected_dir)
    fs.remove(tmp)
    return {
        **counts,
        "documents": RF.relative(out_dir, docs_dir),
        "shards": shards,
        "ledger": RF.relative(out_dir, ledger_dir),
        "ledger_shards": ledger_shards,
        "rejected": RF.relative(out_dir, rejected_dir) if rejected_shards else None,
        "rejected_shards": rejected_shards,
    }
