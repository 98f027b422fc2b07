"""Incremental dedup: a persisted index of kept documents, and the API scheduled runs call.

An index folder holds meta.json plus features/batch=<id>/ and bands/batch=<id>/ (Parquet, one sub-folder per
batch). Layout, columns and batch ids: docs/DESIGN.md#dedup-incremental-index

    from curation.stages.dedup.incremental import dedup_against_index
    result = dedup_against_index(spark, new_docs_df, "/data/dedup-index", DedupConfig())
    result.decisions   # doc_id, decision, reason, related_id, detail, dup_cluster_id, ...
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from curation.io import fs
from curation.stages.dedup.config import DedupConfig
from curation.stages.dedup.pipeline import DedupResult, run_dedup

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

INDEX_VERSION = 1


def index_params(cfg: DedupConfig) -> dict[str, Any]:
    b, r = cfg.band_rows()
    return {"version": INDEX_VERSION, "num_perm": cfg.num_perm, "seed": cfg.seed, "ngram": cfg.ngram,
            "bands": b, "rows": r, "exact_normalization": cfg.exact_normalization}


def _read_meta(index_dir: str) -> dict[str, Any] | None:
    path = fs.join(index_dir, "meta.json")
    if not fs.exists(path):
        return None
    filesystem, p = fs.resolve(path)
    with filesystem.open_input_stream(p) as f:
        return json.loads(f.read().decode())


def _write_meta(index_dir: str, meta: dict[str, Any]) -> None:
    fs.makedirs(index_dir)
    filesystem, p = fs.resolve(fs.join(index_dir, "meta.json"))
    with filesystem.open_output_stream(p) as f:
        f.write(json.dumps(meta, indent=1, sort_keys=True).encode())


def check_params(index_dir: str, cfg: DedupConfig) -> None:
    """Refuse to mix signatures made with different parameters (they would silently never match)."""
    meta = _read_meta(index_dir)
    if meta is None:
        return
    want = index_params(cfg)
    bad = [f"{k}: index has {meta.get(k)!r}, config has {v!r}" for k, v in want.items() if meta.get(k) != v]
    if bad:
        raise ValueError(f"dedup index {index_dir} was built with other parameters ({'; '.join(bad)}); "
                         "use a new index_dir or the index's parameters")


def batch_id(spark: SparkSession, docs: DataFrame) -> str:
    """Order-independent id of a set of doc_ids (same documents -> same id, whatever the partitioning)."""
    from pyspark.sql import functions as F

    row = docs.agg(F.sum(F.xxhash64("doc_id").cast("decimal(38,0)")).alias("s"), F.count(F.lit(1)).alias("n")).first()
    return f"{int(row['n']):x}-{int(row['s'] or 0) % (1 << 64):016x}"


def published(index_dir: str) -> list[str] | None:
    """The batches published in the index (`published.json`); None for an index from before publishing existed."""
    path = fs.join(index_dir, "published.json")
    return json.loads(fs.read_text(path))["batches"] if fs.exists(path) else None


def visible_batches(index_dir: str, snapshot: str | None) -> list[str] | None:
    """The batches a run dedups against: the snapshot's `index_batches`, else the published ones (None: all)."""
    if snapshot:
        return list(json.loads(fs.read_text(snapshot)).get("index_batches", []))
    return published(index_dir)


def open_index(spark: SparkSession, index_dir: str, cfg: DedupConfig, exclude_batch: str | None = None
               ) -> tuple[DataFrame | None, DataFrame | None]:
    """(features, bands) of the visible batches of the index except `exclude_batch`; (None, None) when none.

    A batch folder that was written but not published (a run that died before its commit) is never read.
    """
    check_params(index_dir, cfg)
    feats_dir, bands_dir = fs.join(index_dir, "features"), fs.join(index_dir, "bands")
    if _read_meta(index_dir) is None or not fs.exists(feats_dir):
        return None, None
    batches = visible_batches(index_dir, cfg.index_snapshot)

    def read(root: str) -> DataFrame | None:
        from pyspark.sql import functions as F

        if batches is None:
            df = spark.read.parquet(fs.spark_path(root)) if fs.exists(root) else None
        else:
            dirs = [fs.join(root, f"batch={b}") for b in batches if b != exclude_batch]
            dirs = [fs.spark_path(d) for d in dirs if fs.exists(d)]
            df = spark.read.option("basePath", fs.spark_path(root)).parquet(*dirs) if dirs else None
        if df is not None and exclude_batch is not None:
            df = df.where(F.col("batch") != exclude_batch)
        return df

    feats = read(feats_dir)
    return (feats, read(bands_dir)) if feats is not None else (None, None)


def publish(index_dir: str, batches: list[str]) -> None:
    """Make `batches` the published set (one atomic file write); standalone runs call it after each batch."""
    fs.write_text_atomic(fs.join(index_dir, "published.json"), json.dumps({"batches": batches}, indent=1) + "\n")


def append_batch(index_dir: str, batch: str, result: DedupResult, cfg: DedupConfig) -> None:
    """Write a batch's kept documents as an immutable batch folder (replacing an unpublished earlier write of the
    same batch); with `index_publish`, publish it at once."""
    check_params(index_dir, cfg)
    if _read_meta(index_dir) is None:
        _write_meta(index_dir, index_params(cfg))
    tmp = fs.join(index_dir, f"_tmp-{uuid.uuid4().hex[:8]}")
    tables = {"features": result.kept_features}
    if result.bands is not None:
        tables["bands"] = result.bands
    for name, df in tables.items():
        df.write.mode("overwrite").parquet(fs.spark_path(fs.join(tmp, name)))
    for name in tables:
        final = fs.join(index_dir, name, f"batch={batch}")
        fs.makedirs(fs.join(index_dir, name))
        fs.remove(final)
        fs.rename(fs.join(tmp, name), final)
    fs.remove(tmp)
    if cfg.index_publish:
        before = published(index_dir)
        if before is None:  # an index from before publishing: every batch folder written so far is published
            before = sorted(p.rpartition("=")[2] for p in fs.list_dirs(fs.join(index_dir, "features")))
        publish(index_dir, sorted(set(before) | {batch}))


def dedup_against_index(spark: SparkSession, docs: DataFrame, index_dir: str, cfg: DedupConfig | None = None,
                        work_dir: str | None = None, update_index: bool = True) -> DedupResult:
    """Deduplicate a new batch (doc_id, source_id, text, ...) against itself and every indexed batch.

    Index documents are never dropped and win representative choices. With `update_index`, the
    batch's kept documents are appended to the index, so the next call sees them.
    """
    cfg = cfg or DedupConfig()
    batch = batch_id(spark, docs)
    old, old_bands = open_index(spark, index_dir, cfg, exclude_batch=batch)
    work_dir = work_dir or fs.join(index_dir, f"_work-{batch}")
    result = run_dedup(spark, docs, cfg, work_dir, old=old, old_bands=old_bands if cfg.near else None)
    result.stats["batch"] = batch
    if update_index:
        append_batch(index_dir, batch, result, cfg)
    return result
