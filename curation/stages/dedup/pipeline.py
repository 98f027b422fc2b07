"""The dedup program over one batch of documents, optionally against a persisted index of older batches.

Exact -> near-duplicates -> containment, each switchable, each a Spark program (tables in `work_dir`).
`related_id` always names a kept document (or one kept by an earlier batch); index documents are never dropped.
Design (targets, pointer jumping, fixed old documents): docs/DESIGN.md#dedup-program
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curation import schema as S
from curation.engine.batches import arrow_schema, map_batches
from curation.io import fs
from curation.stages.dedup.components import connected_components
from curation.stages.dedup.config import DedupConfig
from curation.stages.dedup.containment import (
    PRUNE_SCHEMA,
    ROW_SCHEMA,
    EnsembleRows,
    MinMaxPrune,
    Plan,
    equi_depth,
)
from curation.stages.dedup.features import FeatureTransform
from curation.stages.dedup.near import (
    BAND_SCHEMA,
    EDGE_SCHEMA,
    SCORE_SCHEMA,
    BandRows,
    BucketEdges,
    PairScore,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger("curation.stages.dedup")

EXACT, NEAR, CONTAINED = "exact_duplicate", "near_duplicate", "contained"
SIGNAL_COLUMNS = ["dup_cluster_id", "containment_score", "jaccard_to_representative"]
META_COLUMNS = ["source_id", "length", "crawl_date", "quality", "language"]
FEATURE_COLUMNS = ["doc_id", "node", "text_hash", "n_shingles", "sig_min", "sig_max", "shingles", *META_COLUMNS]


@dataclass
class DedupResult:
    decisions: DataFrame
    """doc_id, decision, reason, related_id, detail + SIGNAL_COLUMNS for every new document with something to say."""
    kept_features: DataFrame
    """Features of the new documents that stay kept (what the incremental index appends)."""
    bands: DataFrame | None
    stats: dict[str, Any] = field(default_factory=dict)


class Workspace:
    """Materialise DataFrames as Parquet under one folder, to cut lineage and to make reruns identical."""

    def __init__(self, spark: SparkSession, root: str):
        self.spark, self.root = spark, root

    def save(self, df: DataFrame, name: str) -> DataFrame:
        path = fs.spark_path(fs.join(self.root, name))
        df.write.mode("overwrite").parquet(path)
        return self.spark.read.parquet(path)

    def path(self, name: str) -> str:
        return fs.join(self.root, name)


def rank_struct(cfg: DedupConfig, prefix: str = "") -> Column:
    """Sort key whose minimum is the document to keep: index documents first, then the configured rule.

    Ties fall to the text's hash, then source_id, and only then to doc_id (which hashes the file path), so the
    same texts keep the same content whatever the input paths or the batch split (docs/DESIGN.md#determinism).
    """
    from pyspark.sql import functions as F

    c = lambda name: F.col(prefix + name)  # noqa: E731
    keys = [F.when(c("fixed"), F.lit(0)).otherwise(F.lit(1)).alias("k0")]
    if cfg.representative == "quality":
        keys.append((-F.coalesce(c("quality"), F.lit(float("-inf")))).alias("k1"))
    elif cfg.representative == "newest":
        keys.append(F.when(c("crawl_date").isNull(), F.lit(1)).otherwise(F.lit(0)).alias("k1"))
        keys.append((-F.coalesce(F.unix_micros(c("crawl_date")), F.lit(0))).alias("k2"))
    keys.append((-c("length")).alias("k3"))
    keys += [F.coalesce(c("text_hash"), F.lit("")).alias("text_hash"), F.coalesce(c("source_id"), F.lit("")).alias("source_key"),
             c("doc_id").alias("doc_id"), c("source_id").alias("source_id"), c("node").alias("node")]
    return F.struct(*keys)


def with_meta(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    """The columns dedup needs from the documents, named uniformly (missing optional columns are null)."""
    from pyspark.sql import functions as F

    cols = set(docs.columns)
    return docs.select(
        "doc_id", "source_id", "text",
        F.coalesce(F.length("text"), F.lit(0)).cast("long").alias("length"),
        (F.col("crawl_date") if "crawl_date" in cols else F.lit(None).cast("timestamp")).alias("crawl_date"),
        (F.col(cfg.quality_column).cast("double") if cfg.quality_column in cols else F.lit(None).cast("double")).alias("quality"),
        (F.col("language") if "language" in cols else F.lit(None).cast("string")).alias("language"),
    )


def compute_features(docs: DataFrame, cfg: DedupConfig) -> DataFrame:
    meta = with_meta(docs, cfg)
    fn = FeatureTransform(cfg.num_perm, cfg.seed, cfg.ngram, cfg.exact_normalization, keep_shingles=True,
                          passthrough=tuple(META_COLUMNS))
    return map_batches(meta, fn, fn.output_schema(arrow_schema(meta)))


def _drops(df: DataFrame, reason: str, target: Column, cluster: Column | None, score: Column | None,
           jacc: Column | None, detail: Column) -> DataFrame:
    from pyspark.sql import functions as F

    none_s, none_d = F.lit(None).cast("string"), F.lit(None).cast("double")
    return df.select(F.col("doc_id"), F.lit(reason).alias("reason"), target.alias("target"),
                     (cluster if cluster is not None else none_s).alias("dup_cluster_id"),
                     (score if score is not None else none_d).alias("containment_score"),
                     (jacc if jacc is not None else none_d).alias("jaccard_to_representative"),
                     detail.alias("detail"))


def run_dedup(spark: SparkSession, docs: DataFrame, cfg: DedupConfig, work_dir: str,
              old: DataFrame | None = None, old_bands: DataFrame | None = None) -> DedupResult:
    """Deduplicate `docs` (needs doc_id, source_id, text) against itself and the `old` index features."""
    from pyspark.sql import functions as F

    ws = Workspace(spark, work_dir)
    stats: dict[str, Any] = {}
    t0 = time.time()
    new = ws.save(compute_features(docs, cfg).withColumn("fixed", F.lit(False)), "features")
    stats["docs"] = n_new = new.count()
    stats["seconds_features"] = round(time.time() - t0, 2)
    allf = new.select(*FEATURE_COLUMNS, "fixed")
    if old is not None:
        allf = allf.unionByName(old.select(*FEATURE_COLUMNS).withColumn("fixed", F.lit(True)))
    row = allf.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("node").alias("d")).first()
    n_all = row["n"]
    if row["d"] != n_all:
        raise RuntimeError("duplicate doc_id (or a 64-bit node-id collision) among the documents and the index; "
                           "doc_ids must be unique")
    stats["index_docs"] = n_all - n_new
    drops: list[DataFrame] = []
    kept_signals: list[DataFrame] = []

    # 1. exact duplicates ------------------------------------------------------------------------
    survivors = allf
    if cfg.exact:
        t = time.time()
        groups = (allf.where(F.col("text_hash").isNotNull()).groupBy("text_hash")
                  .agg(F.min(rank_struct(cfg)).alias("rep"), F.count(F.lit(1)).alias("size"))
                  .where(F.col("size") > 1))
        members = new.join(groups, "text_hash")
        dup = members.where(F.col("doc_id") != F.col("rep.doc_id"))
        exact = ws.save(_drops(dup, EXACT, F.col("rep.doc_id"), F.col("rep.doc_id"), None, F.lit(1.0),
                               F.concat(F.lit("same text (after exact_normalization) as "), F.col("rep.source_id"),
                                        F.lit("; group of "), F.col("size").cast("string"), F.lit(" documents"))),
                        "exact_drops")
        drops.append(exact)
        kept_signals.append(members.where(F.col("doc_id") == F.col("rep.doc_id"))
                            .select("doc_id", F.col("doc_id").alias("dup_cluster_id"), F.lit(1).alias("prio")))
        survivors = allf.join(exact.select("doc_id"), "doc_id", "left_anti")
        if cfg.detailed_stats:
            stats["exact_dropped"] = exact.count()
        stats["seconds_exact"] = round(time.time() - t, 2)

    # 2. near duplicates -------------------------------------------------------------------------
    bands_new: DataFrame | None = None
    if cfg.near or old_bands is not None:
        b, r = cfg.band_rows()
        stats["bands"], stats["rows"] = b, r
        bands_new = ws.save(map_batches(survivors.where(~F.col("fixed") & (F.col("n_shingles") > 0))
                                        .select("node", "sig_min"), BandRows(b, r, cfg.num_perm), BAND_SCHEMA),
                            "bands")
    if cfg.near:
        t = time.time()
        assert bands_new is not None
        rows = bands_new.withColumn("fixed", F.lit(False))
        if old_bands is not None:
            rows = rows.unionByName(old_bands.select("band", "bhash", "node").withColumn("fixed", F.lit(True)))
        buckets = (rows.groupBy("band", "bhash")
                   .agg(F.collect_list(F.struct("node", "fixed")).alias("members"),
                        F.count(F.lit(1)).alias("n"), F.min(F.col("fixed").cast("int")).alias("any_new"))
                   .where((F.col("n") > 1) & (F.col("any_new") == 0)).select("members"))
        edges = map_batches(buckets, BucketEdges(cfg.max_bucket_pairs), EDGE_SCHEMA).distinct()
        edges = ws.save(edges, "near_candidates")
        if cfg.detailed_stats:
            stats["near_candidate_pairs"] = edges.count()
        if cfg.verification != "none":
            col = "sig_min" if cfg.verification == "estimate" else "shingles"
            side = survivors.select("node", col)
            pairs = (edges.join(side.select(F.col("node").alias("a"), F.col(col).alias("x_a")), "a")
                     .join(side.select(F.col("node").alias("b"), F.col(col).alias("x_b")), "b"))
            if col == "sig_min":
                pairs = pairs.select("a", "b", F.col("x_a").alias("sig_a"), F.col("x_b").alias("sig_b"))
                fn = PairScore("estimate", cfg.num_perm)
            else:
                pairs = pairs.select("a", "b", F.col("x_a").alias("sh_a"), F.col("x_b").alias("sh_b"))
                fn = PairScore("jaccard", cfg.num_perm)
            scored = map_batches(pairs, fn, SCORE_SCHEMA)
            edges = ws.save(scored.where(F.col("score") >= cfg.threshold).select("a", "b"), "near_edges")
        if cfg.detailed_stats:
            stats["near_verified_pairs"] = edges.count()
        comp = ws.save(connected_components(spark, edges, ws.path("cc")), "components")
        info = survivors.select("node", "doc_id", "source_id", "fixed", "sig_min", rank_struct(cfg).alias("rank"))
        members = comp.join(info, "node")
        reps = members.groupBy("component").agg(F.min("rank").alias("rep"), F.count(F.lit(1)).alias("size"))
        members = members.join(reps, "component")
        dup = members.where(~F.col("fixed") & (F.col("doc_id") != F.col("rep.doc_id")))
        rep_sig = survivors.select(F.col("node").alias("b"), F.col("sig_min").alias("sig_b"))
        est = map_batches(dup.select(F.col("node").alias("a"), F.col("rep.node").alias("b"),
                                     F.col("sig_min").alias("sig_a")).join(rep_sig, "b").select("a", "b", "sig_a", "sig_b"),
                          PairScore("estimate", cfg.num_perm), SCORE_SCHEMA)
        dup = dup.join(est.select(F.col("a").alias("node"), F.col("score").alias("est")), "node")
        near = ws.save(_drops(dup, NEAR, F.col("rep.doc_id"), F.col("rep.doc_id"), None, F.col("est"),
                              F.concat(F.lit("near-duplicate of "), F.col("rep.source_id"), F.lit(" (component of "),
                                       F.col("size").cast("string"), F.lit(" documents, MinHash Jaccard to it "),
                                       F.format_number("est", 3), F.lit(")"))), "near_drops")
        drops.append(near)
        kept_signals.append(members.where(~F.col("fixed") & (F.col("doc_id") == F.col("rep.doc_id")))
                            .select("doc_id", F.col("doc_id").alias("dup_cluster_id"), F.lit(0).alias("prio")))
        survivors = survivors.join(near.select("doc_id"), "doc_id", "left_anti")
        if cfg.detailed_stats:
            stats["near_dropped"] = near.count()
            stats["near_components"] = reps.count()
        stats["seconds_near"] = round(time.time() - t, 2)

    # 3. containment -----------------------------------------------------------------------------
    if cfg.containment:
        t = time.time()
        contained = containment_step(spark, ws, survivors, cfg, stats)
        if contained is not None:
            drops.append(contained)
        stats["seconds_containment"] = round(time.time() - t, 2)

    # resolve targets to kept documents and build the decision rows ------------------------------
    decisions = resolve(spark, ws, drops, kept_signals, allf)
    decisions = ws.save(decisions, "decisions")
    kept_features = new.join(decisions.where(F.col("decision") == S.DROPPED).select("doc_id"), "doc_id", "left_anti")
    kept_bands = None
    if bands_new is not None:
        kept_bands = bands_new.join(kept_features.select("node"), "node", "left_semi")
    stats["seconds_total"] = round(time.time() - t0, 2)
    return DedupResult(decisions, kept_features.select(*FEATURE_COLUMNS), kept_bands, stats)


def containment_step(spark: SparkSession, ws: Workspace, survivors: DataFrame, cfg: DedupConfig,
                     stats: dict[str, Any]) -> DataFrame | None:
    """Find new documents contained (>= t) in another document; returns drop rows (target = container)."""
    from pyspark.sql import functions as F

    t_ = cfg.containment_threshold
    elig = survivors.where(F.col("n_shingles") >= cfg.containment_min_shingles)
    hist = [(r["n_shingles"], r["count"]) for r in elig.groupBy("n_shingles").count().collect()]
    qsizes = [r["n_shingles"] for r in elig.where(~F.col("fixed")).select("n_shingles").distinct().collect()]
    if not hist or not qsizes:
        return None
    parts = equi_depth(hist, cfg.containment_num_part)
    plan = Plan.build(parts, qsizes, cfg.containment_num_perm, t_, cfg.containment_max_rows, cfg.containment_max_size_ratio)
    stats["containment_plan"] = plan.describe()
    cols = elig.select("node", "n_shingles", "sig_min")
    idx = map_batches(cols, EnsembleRows(plan, "index", cfg.num_perm), ROW_SCHEMA)
    idx = ws.save(idx, "ensemble_index")
    big = idx.groupBy("p", "r", "j", "bhash").count().where(F.col("count") > cfg.containment_max_bucket)
    stats["containment_skipped_buckets"] = big.count()
    if stats["containment_skipped_buckets"]:
        idx = idx.join(big.select("p", "r", "j", "bhash"), ["p", "r", "j", "bhash"], "left_anti")
    qry = map_batches(elig.where(~F.col("fixed")).select("node", "n_shingles", "sig_min"), EnsembleRows(plan, "query", cfg.num_perm),
                      ROW_SCHEMA)
    cands = (qry.withColumnRenamed("node", "a").join(idx.withColumnRenamed("node", "b"), ["p", "r", "j", "bhash"])
             .where(F.col("a") != F.col("b")).select("a", "b").distinct())
    info = elig.select("node", "doc_id", "n_shingles", "language", F.coalesce("text_hash", F.lit("")).alias("th"))
    ia = info.select(*[F.col(c).alias(c + "_a") for c in info.columns]).withColumnRenamed("node_a", "a")
    ib = info.select(*[F.col(c).alias(c + "_b") for c in info.columns]).withColumnRenamed("node_b", "b")
    cands = cands.join(ia, "a").join(ib, "b").where(
        (F.col("n_shingles_a") < F.col("n_shingles_b"))
        | ((F.col("n_shingles_a") == F.col("n_shingles_b"))
           & (F.struct("th_a", "doc_id_a") < F.struct("th_b", "doc_id_b"))))
    if cfg.containment_same_language:
        cands = cands.where(F.col("language_a").isNull() | F.col("language_b").isNull()
                            | (F.col("language_a") == F.col("language_b")))
    cands = ws.save(cands.select("a", "b", F.col("n_shingles_a").alias("n_a"), F.col("n_shingles_b").alias("n_b")),
                    "contain_candidates")
    if cfg.detailed_stats:
        stats["containment_candidate_pairs"] = cands.count()
    sigs = elig.select("node", "sig_min", "sig_max")
    with_sigs = (cands.join(sigs.select(F.col("node").alias("a"), F.col("sig_min").alias("min_a"), F.col("sig_max").alias("max_a")), "a")
                 .join(sigs.select(F.col("node").alias("b"), F.col("sig_min").alias("min_b"), F.col("sig_max").alias("max_b")), "b"))
    pruned = map_batches(with_sigs.select("a", "b", "n_a", "n_b", "min_a", "max_a", "min_b", "max_b"),
                         MinMaxPrune(cfg.num_perm, t_, cfg.containment_minmax_slack), PRUNE_SCHEMA)
    pruned = ws.save(pruned.where("keep").select("a", "b"), "contain_after_minmax")
    if cfg.detailed_stats:
        stats["containment_after_minmax"] = pruned.count()
    sh = elig.select("node", "shingles")
    pairs = (pruned.join(sh.select(F.col("node").alias("a"), F.col("shingles").alias("sh_a")), "a")
             .join(sh.select(F.col("node").alias("b"), F.col("shingles").alias("sh_b")), "b"))
    scored = map_batches(pairs.select("a", "b", "sh_a", "sh_b"), PairScore("containment", cfg.num_perm), SCORE_SCHEMA)
    verified = ws.save(scored.where(F.col("score") >= t_), "contain_verified")
    if cfg.detailed_stats:
        stats["containment_verified_pairs"] = verified.count()
    # Best container per query: prefer containers that are not contained themselves, then score, then rule.
    dropped = verified.select(F.col("a").alias("b")).distinct().withColumn("b_dropped", F.lit(1))
    rank = survivors.select(F.col("node").alias("b"), rank_struct(cfg).alias("rank_b"))
    best = (verified.join(dropped, "b", "left").join(rank, "b")
            .groupBy("a").agg(F.min(F.struct(F.coalesce("b_dropped", F.lit(0)).alias("d"), (-F.col("score")).alias("s"),
                                             F.col("rank_b").alias("rank"))).alias("best")))
    ids = survivors.select(F.col("node").alias("a"), "doc_id")
    best = best.join(ids, "a")
    return _drops(best, CONTAINED, F.col("best.rank.doc_id"), None, -F.col("best.s"), None,
                  F.concat(F.format_number(-F.col("best.s"), 3), F.lit(" of its shingles are in "),
                           F.col("best.rank.source_id")))


def resolve(spark: SparkSession, ws: Workspace, drops: list[DataFrame], kept_signals: list[DataFrame],
            allf: DataFrame, max_rounds: int = 64) -> DataFrame:
    """Point every drop at a kept document (pointer jumping over targets) and build decision rows."""
    from pyspark.sql import functions as F

    schema_cols = ["doc_id", "decision", "reason", "related_id", "detail", *SIGNAL_COLUMNS]
    if not drops:
        drops = [spark.createDataFrame([], "doc_id string, reason string, target string, dup_cluster_id string, "
                                           "containment_score double, jaccard_to_representative double, detail string")]
    all_drops = drops[0]
    for d in drops[1:]:
        all_drops = all_drops.unionByName(d)
    ptr = ws.save(all_drops.select("doc_id", F.col("target").alias("root")), "targets-00")
    for rnd in range(1, max_rounds + 1):
        nxt = (ptr.alias("p").join(ptr.alias("q"), F.col("p.root") == F.col("q.doc_id"), "left")
               .select(F.col("p.doc_id"), F.coalesce(F.col("q.root"), F.col("p.root")).alias("root")))
        nxt = ws.save(nxt, f"targets-{rnd:02d}")
        pending = nxt.join(nxt.select(F.col("doc_id").alias("root")), "root", "left_semi").limit(1).count()
        ptr = nxt
        if not pending:
            break
    else:
        raise RuntimeError("could not resolve duplicate targets to kept documents (cycle?)")
    src = allf.select(F.col("doc_id").alias("root"), F.col("source_id").alias("related_id"))
    direct = allf.select(F.col("doc_id").alias("target"), F.col("source_id").alias("target_source"))
    dropped = (all_drops.join(ptr, "doc_id").join(src, "root").join(direct, "target")
               .select("doc_id", F.lit(S.DROPPED).alias("decision"), "reason", "related_id",
                       F.when(F.col("root") == F.col("target"), F.col("detail"))
                       .otherwise(F.concat(F.col("detail"), F.lit("; that document was dropped in turn, kept: "),
                                           F.col("related_id"))).alias("detail"),
                       # the cluster is named after the kept document its members resolve to
                       F.when(F.col("dup_cluster_id").isNotNull(), F.col("root")).alias("dup_cluster_id"),
                       "containment_score", "jaccard_to_representative"))
    out = dropped
    if kept_signals:
        ks = kept_signals[0]
        for k in kept_signals[1:]:
            ks = ks.unionByName(k)
        ks = (ks.join(all_drops.select("doc_id"), "doc_id", "left_anti")
              .groupBy("doc_id").agg(F.min(F.struct("prio", "dup_cluster_id")).alias("s"))
              .select("doc_id", F.lit(S.KEPT).alias("decision"), F.lit(None).cast("string").alias("reason"),
                      F.lit(None).cast("string").alias("related_id"), F.lit(None).cast("string").alias("detail"),
                      F.col("s.dup_cluster_id").alias("dup_cluster_id"), F.lit(None).cast("double").alias("containment_score"),
                      F.lit(None).cast("double").alias("jaccard_to_representative")))
        out = out.unionByName(ks)
    return out.select(*schema_cols)
