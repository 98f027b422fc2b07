"""prune: self-supervised pruning scores (Sorscher et al. 2022) with SemDeDup and D4-style selection.

Embed -> spherical k-means (`cluster_id`, `prototype_distance`) -> SemDeDup per cluster (`semantic_duplicate`)
-> optional re-clustering and a per-cluster keep fraction (`prototype_pruned`). The score columns stay on every
row for `select`; the chosen policy goes into the manifest. Design: docs/DESIGN.md#prune-program
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from curation import schema as S
from curation.engine.batches import arrow_schema, spark_schema
from curation.engine.decide import decide
from curation.engine.stage import Stage, StageContext
from curation.io import fs
from curation.io import run_folder as RF
from curation.stages.prune import semdedup as SD
from curation.stages.prune.config import PruneConfig
from curation.stages.prune.embed import (
    EMBEDDING,
    EMBEDDING_F16,
    EmbedTransform,
    embedding_matrix,
    pick_device,
    resolve_model,
)
from curation.stages.prune.kmeans import (
    CLUSTER_ID,
    PROTOTYPE_DISTANCE,
    AssignTransform,
    auto_k,
    fit_spherical_kmeans,
)
from curation.stages.prune.policy import allocate_quotas, choose_policy, target_count

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

REASON_DUPLICATE = "semantic_duplicate"
REASON_PRUNED = "prototype_pruned"
EXACT_QUANTILE_BELOW = 1_000_000


def _tokens() -> Column:
    """token_count, or bytes / 4 where it is missing (annotate sets the real count)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.col("token_count"), F.ceil(F.octet_length(F.coalesce(F.col("text"), F.lit(""))) / 4)).cast("long")


def _embedded() -> Column:
    from pyspark.sql import functions as F

    return (F.col("decision") == S.KEPT) & (F.col(EMBEDDING).isNotNull() | F.col(EMBEDDING_F16).isNotNull())


def _save_npy(path: str, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array)
    filesystem, p = fs.resolve(path)
    filesystem.create_dir(p.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(p) as out:
        out.write(buf.getvalue())


class PruneStage(Stage):
    name = "prune"
    Config = PruneConfig
    cli_options = {"--budget-tokens": "prune.budget_tokens", "--keep-fraction": "prune.keep_fraction",
                   "--strategy": "prune.strategy", "--model": "prune.model"}

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        cfg: PruneConfig = self.cfg
        spark = ctx.spark
        timings: dict[str, float] = {}
        device = pick_device(cfg.device)
        ctx.record_model("prune.embedding", resolve_model(cfg.model), model=cfg.model, device=device,
                         max_seq_length=cfg.max_seq_length, dtype=cfg.dtype)

        # 1. embeddings, materialised once (side/embedded) with a stable row key for the joins below
        t0 = time.perf_counter()
        in_schema = arrow_schema(docs)
        emb_fields = [f for f in (pa.field(EMBEDDING, pa.list_(pa.float32())), pa.field(EMBEDDING_F16, pa.binary()))
                      if f.name not in in_schema.names]
        embedded = ctx.map_batches(docs, EmbedTransform(cfg), pa.schema(list(in_schema) + emb_fields))
        embedded = embedded.withColumn(SD.ROW, F.monotonically_increasing_id())
        emb_path = fs.spark_path(fs.join(ctx.stage_dir, "embedded"))
        embedded.write.mode("overwrite").parquet(emb_path)
        base = spark.read.parquet(emb_path)
        timings["embed_s"] = round(time.perf_counter() - t0, 2)

        stats = base.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.when(_embedded(), 1).otherwise(0)).alias("n"),
                         F.sum(F.when(_embedded(), _tokens()).otherwise(0)).alias("tokens")).first()
        n_ok, pool_tokens = int(stats["n"] or 0), int(stats["tokens"] or 0)
        ctx.record("documents_embedded", n_ok)
        ctx.record("embedding_failed", int(stats["rows"]) - n_ok)
        ctx.record("embeddings_path", RF.relative(ctx.run_dir, fs.join(ctx.stage_dir, "embedded")))
        if n_ok == 0:
            ctx.record("policy", {"why": "no embedded documents: nothing to cluster"})
            return self._finish(base.withColumn(CLUSTER_ID, F.lit(None).cast("long"))
                                .withColumn(PROTOTYPE_DISTANCE, F.lit(None).cast("double"))
                                .withColumn(SD.MAX_COS, F.lit(None).cast("double")), timings, ctx)

        # 2. prototypes
        t0 = time.perf_counter()
        centroids, info = self._fit(ctx, base.where(_embedded()), n_ok, "centroids.npy")
        ctx.record("kmeans", info)
        scored = self._assign(ctx, base, centroids)
        timings["kmeans_s"] = round(time.perf_counter() - t0, 2)

        # 3. SemDeDup inside clusters
        out = scored
        n_dup = 0
        if cfg.semdedup:
            t0 = time.perf_counter()
            out, n_dup, sd_info = self._semdedup(ctx, scored, n_ok)
            ctx.record("semdedup", sd_info)
            timings["semdedup_s"] = round(time.perf_counter() - t0, 2)
        else:
            out = out.withColumn(SD.MAX_COS, F.lit(None).cast("double"))

        # 4. D4: re-cluster the survivors, then prune every cluster at a common rate
        if cfg.recluster and n_dup > 0 and cfg.action == "drop":
            t0 = time.perf_counter()
            survivors = out.where(_embedded())
            centroids2, info2 = self._fit(ctx, survivors, n_ok - n_dup, "centroids_after_semdedup.npy")
            ctx.record("kmeans_after_semdedup", info2)
            out = self._assign(ctx, out, centroids2)
            timings["recluster_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        out = self._policy(ctx, out, n_ok, pool_tokens)
        timings["policy_s"] = round(time.perf_counter() - t0, 2)
        return self._finish(out, timings, ctx)

    # -- steps -----------------------------------------------------------------------------------

    def _fit(self, ctx: StageContext, df: DataFrame, n: int, name: str) -> tuple[np.ndarray, dict[str, Any]]:
        cfg: PruneConfig = self.cfg
        cols = df.select(EMBEDDING, EMBEDDING_F16)
        if n > cfg.sample_size:
            cols = cols.sample(withReplacement=False, fraction=min(1.0, 1.1 * cfg.sample_size / n), seed=cfg.seed)
            cols = cols.limit(cfg.sample_size)
        x, valid = embedding_matrix(cols.toArrow())
        x = x[valid]
        k = cfg.k or auto_k(n)
        centroids, info = fit_spherical_kmeans(x, k, niter=cfg.kmeans_iters, seed=cfg.seed)
        info.update(k_requested=k, sample=int(len(x)), population=n)
        path = fs.join(ctx.stage_dir, name)
        _save_npy(path, centroids)
        ctx.record_model(f"prune.{name.removesuffix('.npy')}", path, k=info["k"])
        return centroids, info

    def _assign(self, ctx: StageContext, df: DataFrame, centroids: np.ndarray) -> DataFrame:
        schema = arrow_schema(df)
        extra = [f for f in (pa.field(CLUSTER_ID, pa.int64()), pa.field(PROTOTYPE_DISTANCE, pa.float64()))
                 if f.name not in schema.names]
        bc = ctx.spark.sparkContext.broadcast(centroids)
        return ctx.map_batches(df, AssignTransform(bc), pa.schema(list(schema) + extra))

    def _semdedup(self, ctx: StageContext, scored: DataFrame, n: int) -> tuple[DataFrame, int, dict[str, Any]]:
        from pyspark.sql import functions as F

        cfg: PruneConfig = self.cfg
        light = scored.where(_embedded() & F.col(CLUSTER_ID).isNotNull()).select(
            SD.ROW, CLUSTER_ID, PROTOTYPE_DISTANCE, EMBEDDING, EMBEDDING_F16, "doc_id", "source_id")
        p1_path = fs.spark_path(fs.join(ctx.stage_dir, "semdedup"))
        (light.groupBy(CLUSTER_ID).applyInArrow(SD.pass1_fn(cfg.block_size), spark_schema(SD.PASS1_SCHEMA))
         .write.mode("overwrite").parquet(p1_path))
        p1 = ctx.spark.read.parquet(p1_path)
        info: dict[str, Any] = {"block_size": cfg.block_size, "order": "farthest from centroid first (keep_hard)"}
        if cfg.dedup_keep_fraction is not None:
            rel = 0.0 if n < EXACT_QUANTILE_BELOW else 1e-4
            q = p1.select(F.coalesce(F.col(SD.MAX_COS), F.lit(-1.0)).alias("m")).approxQuantile("m", [cfg.dedup_keep_fraction], rel)
            threshold = float(q[0]) if q else 1.0
            if cfg.dedup_keep_fraction >= 1.0:
                threshold = 1.0
            info.update(target_keep_fraction=cfg.dedup_keep_fraction, eps=round(1.0 - threshold, 6),
                        eps_chosen_for_target=True)
        else:
            threshold = 1.0 - cfg.eps
            info.update(eps=cfg.eps)
        info["threshold_cosine"] = threshold
        p2_path = fs.spark_path(fs.join(ctx.stage_dir, "semdedup_removed"))
        (p1.select(SD.ROW, CLUSTER_ID, SD.POS, SD.MAX_COS, SD.NEAREST, "source_id").groupBy(CLUSTER_ID)
         .applyInArrow(SD.pass2_fn(threshold), spark_schema(SD.PASS2_SCHEMA)).write.mode("overwrite").parquet(p2_path))
        p2 = ctx.spark.read.parquet(p2_path)
        n_dup = p2.count()
        info["duplicates"] = n_dup
        info["applied"] = cfg.action == "drop"
        out = scored.join(p1.select(SD.ROW, SD.MAX_COS), SD.ROW, "left").join(p2, SD.ROW, "left")
        if cfg.action == "drop":
            out = decide(out, F.col("_sd_keeper").isNotNull(), REASON_DUPLICATE, F.col("_sd_detail"), F.col("_sd_keeper"))
        return out.drop("_sd_keeper", "_sd_detail"), (n_dup if cfg.action == "drop" else 0), info

    def _policy(self, ctx: StageContext, out: DataFrame, n_ok: int, pool_tokens: int) -> DataFrame:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        cfg: PruneConfig = self.cfg
        policy = choose_policy(pool_tokens, cfg)
        counts = {int(r[CLUSTER_ID]): int(r["n"]) for r in
                  out.where(_embedded() & F.col(CLUSTER_ID).isNotNull()).groupBy(CLUSTER_ID).agg(F.count(F.lit(1)).alias("n")).collect()}
        survivors = sum(counts.values())
        target = target_count(n_ok, policy.keep_fraction)
        record: dict[str, Any] = {**policy.to_dict(), "documents": n_ok, "after_semdedup": survivors,
                                  "target_documents": target, "applied": cfg.action == "drop"}
        if target >= survivors:
            record["pruned"] = 0
            record["note"] = ("target reached by SemDeDup alone" if survivors < n_ok and target < n_ok
                              else "nothing to prune")
            ctx.record("policy", record)
            return out
        quotas = allocate_quotas(counts, target)
        record.update(rate=round(target / survivors, 6), pruned=survivors - target, clusters=len(counts))
        ctx.record("policy", record)
        if cfg.action != "drop":
            return out
        quota_df = ctx.spark.createDataFrame([(c, q) for c, q in quotas.items()], f"{CLUSTER_ID} long, _quota long")
        dist = F.col(PROTOTYPE_DISTANCE)
        w = Window.partitionBy(CLUSTER_ID).orderBy((F.col("decision") != S.KEPT).asc(),
                                                   dist.desc() if policy.strategy == "hard" else dist.asc(),
                                                   F.col("doc_id"), F.col(SD.ROW))
        ranked = out.join(F.broadcast(quota_df), CLUSTER_ID, "left").withColumn("_rank", F.row_number().over(w))
        end = "nearest to" if policy.strategy == "hard" else "farthest from"
        detail = F.concat(F.lit(f"keep-{policy.strategy}: among the {end} centroid of cluster "), F.col(CLUSTER_ID).cast("string"),
                          F.lit(" (distance "), F.format_number(dist, 4), F.lit("), beyond its quota of "),
                          F.col("_quota").cast("string"), F.lit(f" at common rate {target / survivors:.4f}"))
        cond = F.col("_quota").isNotNull() & (F.col("_rank") > F.col("_quota"))
        return decide(ranked, cond, REASON_PRUNED, detail, F.lit(None).cast("string")).drop("_quota", "_rank")

    def _finish(self, out: DataFrame, timings: dict[str, float], ctx: StageContext) -> DataFrame:
        cfg: PruneConfig = self.cfg
        ctx.record("timings_driver_s", timings)
        drop = [SD.ROW]
        if not cfg.store_embeddings:
            drop += [EMBEDDING, EMBEDDING_F16]
        else:
            drop.append(EMBEDDING_F16 if cfg.dtype == "float32" else EMBEDDING)
        return out.drop(*drop)




STAGE = PruneStage
