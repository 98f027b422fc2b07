"""rewrite: REWIRE - rewrite the recycling pool with an LLM, re-score the rewrites, keep the best, mix.

In a pipeline (`select` then `rewrite`) the pool is what select dropped as `below_quality_threshold` with
`recycle = true`, read from select's rejected folder in the same run; run alone (`curation rewrite --input
DOCS`) the input documents are the pool. Every pool document within the generation budget is rewritten
(REWIRE applies no pre-filter); the raw kept documents pass through as kept. Each generation attempt is a NEW
row (source_type "rewrite", related_id = the original's source_id, model, prompt version and sampling
recorded): kept when it is among the top `keep_fraction` of valid rewrites by the post-rewrite fastText
classifier, else dropped as `rewrite_not_selected`, `malformed_output:*` or `backend_error:*`. Raw and
selected rewrites carry `mix_weight` so that a sampler sees the configured token ratio (1:1 by default).
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from curation import schema as S
from curation.engine.decide import decide
from curation.engine.stage import Stage, StageContext
from curation.io import fs
from curation.io import run_folder as RF
from curation.stages.rewrite.config import RewriteConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

NOT_SELECTED = "rewrite_not_selected"


def recycling_pool(ctx: StageContext, docs: DataFrame, cfg: RewriteConfig) -> tuple[DataFrame, str]:
    """The documents to rewrite: select's recycling pool of this run, or (run alone) the input documents."""
    from pyspark.sql import functions as F

    select = ctx.upstream.get("select")
    if select is None:
        return docs, "input"
    if select.rejected is None:
        if not ctx.config.output.write_rejected:
            raise ValueError("rewrite reads select's recycling pool from rejected/: set output.write_rejected=true")
        return docs.limit(0), "select (nothing rejected)"
    if "recycle" not in select.rejected.columns:
        raise ValueError(f"{select.rejected_path} has no recycle column (select is older than this rewrite stage)")
    pool = select.rejected.where((F.col("reason") == F.lit(cfg.pool_reason)) & F.col("recycle"))
    return pool, f"select ({select.rejected_path})"


def _texts(df: DataFrame, n: int, seed: int) -> list[str]:
    from pyspark.sql import functions as F

    rows = df.where(F.col("text").isNotNull()).select("text").orderBy(F.rand(seed)).limit(n).collect()
    return [r["text"] for r in rows if r["text"] and r["text"].strip()]


class RewriteStage(Stage):
    name = "rewrite"
    Config = RewriteConfig
    reads = ("select",)
    creates_documents = True

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        from curation.engine.batches import arrow_schema
        from curation.stages.rewrite.backends import Sampling, make_backend
        from curation.stages.rewrite.budget import within_budget
        from curation.stages.rewrite.generate import RewriteTransform, rewrite_schema
        from curation.stages.rewrite.postfilter import (
            ScoreRewrites,
            keep_count,
            mix_weights,
            train_postfilter,
        )
        from curation.stages.rewrite.prompts import load_template

        cfg: RewriteConfig = self.cfg
        score_col = self._score_column(ctx)
        template = load_template(cfg.prompt)
        pool, mode = recycling_pool(ctx, docs, cfg)
        pool_docs = pool.count()
        todo, budget_info = within_budget(pool, cfg, score_col)
        attempted = todo.count() if budget_info["budget_tokens"] is not None else pool_docs

        # Concurrency: Spark tasks x in-flight requests per task <= the backend's limit.
        parallel = max(1, ctx.spark.sparkContext.defaultParallelism)
        if cfg.backend == "http":
            parts = max(1, min(cfg.http.concurrency, parallel, max(attempted, 1)))
            per_task = max(1, cfg.http.concurrency // parts)
        else:
            parts, per_task = 1, 1
        backend = make_backend(cfg, per_task)
        if attempted:
            backend.check()  # a clear error before any work when the server or model is not there
        sampling = Sampling(cfg.temperature, cfg.top_p, cfg.max_tokens, cfg.seed)
        out_schema = rewrite_schema(arrow_schema(docs))
        local = not fs.is_uri(ctx.stage_dir)
        cache_dir = cfg.cache_dir or (RF.cache_dir(ctx.run_dir, "rewrite") if local else None)
        transform = RewriteTransform(backend, template, sampling, out_schema, cache_dir, cfg.max_input_chars, score_col,
                                     chunk=max(per_task * 4, 8))
        started = time.time()
        gen_path = fs.join(ctx.stage_dir, "generations")
        ctx.map_batches(todo.repartition(parts), transform, out_schema).write.mode("overwrite").parquet(fs.spark_path(gen_path))
        gen_seconds = time.time() - started
        gens = ctx.spark.read.parquet(fs.spark_path(gen_path))
        ctx.record_model("rewriter", None, backend=cfg.backend, model=backend.model, prompt_version=template.id,
                         sampling=json.loads(sampling.to_json()))

        valid = gens.where(F.col("decision") == S.KEPT)
        n_valid = valid.count()
        n_keep = keep_count(n_valid, cfg.keep_fraction)
        positives = self._positives(ctx, docs, cfg)
        scored = gens
        note = None
        if n_valid and positives:
            negatives = _texts(valid, min(cfg.classifier_max_docs, len(positives)), 1)
            positives = positives[: len(negatives)]  # 50/50, as REWIRE trains it
            model_path = train_postfilter(positives, negatives, fs.join(ctx.stage_dir, "postfilter.bin"))
            ctx.record_model("rewrite_postfilter", model_path, kind="fastText hq vs rewrites",
                             positives=len(positives), negatives=len(negatives))
            scored = ctx.map_batches(gens, ScoreRewrites(str(model_path)), arrow_schema(gens))
        elif n_valid:
            note = "no high-quality positives to train the post-rewrite classifier (rewrite.positives or raw kept documents)"
            n_keep = 0
        scored = scored.cache()
        w = Window.orderBy(F.col("rewrite_score").desc_nulls_last(), F.col("doc_id"))
        ranked = (scored.where(F.col("decision") == S.KEPT).select("doc_id", "rewrite_score")
                  .withColumn("_rank", F.row_number().over(w)))
        chosen = ranked.where(F.col("_rank") <= n_keep).select("doc_id", F.lit(True).alias("_selected"))
        cut_row = ranked.where(F.col("_rank") == n_keep).select("rewrite_score").collect() if n_keep else []
        cut = cut_row[0]["rewrite_score"] if cut_row else None
        scored = scored.join(chosen, "doc_id", "left")
        why = note or (f"below the top {cfg.keep_fraction:.0%} of {n_valid} valid rewrites by the post-rewrite classifier "
                       f"(cut {cut:.6f})" if cut is not None else "not selected")
        scored = decide(scored, F.col("_selected").isNull(), NOT_SELECTED, F.concat(
            F.lit("rewrite_score="), F.coalesce(F.format_number("rewrite_score", 6), F.lit("null")), F.lit(" " + why))
        ).drop("_selected")

        tokens = F.coalesce(F.col("token_count"), F.lit(0))
        raw_tokens = int(docs.agg(F.sum(tokens)).collect()[0][0] or 0)
        rw_tokens = int(scored.where(F.col("decision") == S.KEPT).agg(F.sum(tokens)).collect()[0][0] or 0)
        w_raw, w_rw = mix_weights(raw_tokens, rw_tokens, cfg.mix_rewrite_share)
        raw = docs.withColumn("mix_weight", F.lit(w_raw))
        for f in out_schema:
            if f.name not in raw.columns:
                raw = raw.withColumn(f.name, F.lit(None).cast(scored.schema[f.name].dataType))
        scored = scored.withColumn("mix_weight", F.when(F.col("decision") == S.KEPT, F.lit(w_rw)))
        self._report(ctx, cfg, scored, docs, mode, pool_docs, attempted, budget_info, gen_seconds, n_valid, n_keep,
                     raw_tokens, rw_tokens, w_raw, w_rw, score_col, note)
        return raw.unionByName(scored.select(*raw.columns))

    def _score_column(self, ctx: StageContext) -> str:
        sel = ctx.config.section("select")
        return getattr(sel, "score_column", "quality_score") if sel is not None else "quality_score"

    def _positives(self, ctx: StageContext, docs: DataFrame, cfg: RewriteConfig) -> list[str]:
        if cfg.positives:
            from curation.engine.histogram import document_files

            files = document_files([cfg.positives])
            reader = ctx.spark.read
            df = (reader.parquet(*[fs.spark_path(f) for f in files]) if files[0].endswith((".parquet", ".pq"))
                  else reader.json([fs.spark_path(f) for f in files]))
            if "text" not in df.columns:
                raise ValueError(f"rewrite.positives {cfg.positives}: no text column")
            return _texts(df, cfg.classifier_max_docs, 0)
        return _texts(docs, cfg.classifier_max_docs, 0)

    def _report(self, ctx: StageContext, cfg: RewriteConfig, scored: DataFrame, docs: DataFrame, mode: str,
                pool_docs: int, attempted: int, budget_info: dict[str, Any], gen_seconds: float, n_valid: int,
                n_keep: int, raw_tokens: int, rw_tokens: int, w_raw: float, w_rw: float, score_col: str,
                note: str | None) -> None:
        """The figures REWIRE reports: valid-output rate, tokens/s, kept share, mixture, overlap, Spearman."""
        from pyspark.sql import functions as F

        fresh_tokens = F.when(~F.col("rewrite_cached"), F.col("rewrite_generated_tokens")).otherwise(F.lit(0))
        rows = (scored.groupBy("reason").agg(F.count(F.lit(1)).alias("n"),
                                             F.sum(fresh_tokens).alias("gen"),
                                             F.sum(F.col("rewrite_cached").cast("int")).alias("cached")).collect())
        by_reason = {r["reason"] or "selected": int(r["n"]) for r in rows}
        generated = sum(int(r["gen"] or 0) for r in rows)  # new tokens generated in this run (cache hits excluded)
        cached = sum(int(r["cached"] or 0) for r in rows)
        fresh = attempted - cached
        pairs = (scored.where(F.col("rewrite_score").isNotNull() & F.col("rewrite_source_score").isNotNull())
                 .select("rewrite_source_score", "rewrite_score").limit(1_000_000).collect())
        spearman = None
        if len(pairs) >= 3:
            from scipy.stats import spearmanr

            rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
            spearman = None if rho is None or math.isnan(rho) else float(rho)
        sel_src = scored.where(F.col("decision") == S.KEPT).select(F.col("rewrite_of").alias("doc_id"))
        overlap = sel_src.join(docs.select("doc_id"), "doc_id").count() if n_keep else 0
        ctx.record("rewrite", {
            "pool": mode, "pool_docs": pool_docs, "attempted": attempted,
            "skipped_for_budget": pool_docs - attempted, **{f"budget_{k}": v for k, v in budget_info.items()},
            "valid": n_valid, "valid_rate": n_valid / attempted if attempted else None,
            "outcomes": by_reason, "cached": cached, "generated_tokens": generated,
            "generation_seconds": round(gen_seconds, 2),
            "tokens_per_second": (generated / gen_seconds) if gen_seconds > 0 and fresh > 0 else None,
            "selected": n_keep, "keep_fraction": cfg.keep_fraction,
            "raw_tokens": raw_tokens, "rewrite_tokens": rw_tokens,
            "mix_rewrite_share": cfg.mix_rewrite_share, "mix_weight_raw": w_raw, "mix_weight_rewrite": w_rw,
            "selected_from_raw_kept": (overlap / n_keep) if n_keep else None,
            "spearman_source_vs_rewrite_score": spearman, "score_column": score_col, "note": note,
        })


STAGE = RewriteStage
