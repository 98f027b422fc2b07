"""select: compute-aware quality threshold - how hard to filter follows from the token budget.

Keeps the pool of equal-token quality buckets with the lowest predicted loss, drops the rest as
`below_quality_threshold` and flags the bucket(s) just below as `recycle`; plan.json and plan.svg go to the
side folder. Sub-commands: `curation select fit --curves CURVES.csv`, `curation select plan --input DOCS
--budget-tokens N [--json]`, `curation select proxy --input DOCS --output CURVES.csv [--fit]`.
Design: docs/DESIGN.md#select-overview
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from curation.engine.decide import decide
from curation.engine.stage import Stage, StageContext
from curation.io import fs
from curation.stages.select.config import SelectConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

REASON = "below_quality_threshold"
NO_SCORE = "no_quality_score"


class SelectStage(Stage):
    name = "select"
    Config = SelectConfig
    cli_options = {"--budget-tokens": "select.budget_tokens"}
    commands = {
        "fit": "curation.stages.select.fit:main",
        "plan": "curation.stages.select.plan:main",
        "proxy": "curation.stages.select.proxy:main",
    }

    def apply(self, ctx: StageContext, docs: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        from curation.engine.histogram import bin_column, histogram_spark
        from curation.stages.select.plan import make_plan

        cfg: SelectConfig = self.cfg
        if cfg.budget_tokens <= 0:
            raise ValueError("select needs a training budget: --budget-tokens N (select.budget_tokens)")
        if cfg.score_column not in docs.columns:
            raise ValueError(f"select ranks by {cfg.score_column!r}, which the documents do not have "
                             f"(run annotate first, or set select.score_column)")
        token_col = cfg.token_column if cfg.token_column in docs.columns else "token_count"
        hist = histogram_spark(docs, cfg.score_column, token_col, cfg.histogram_bins)
        local = not fs.is_uri(ctx.stage_dir)
        if local:
            fs.makedirs(ctx.stage_dir)
        plot = fs.join(ctx.stage_dir, "plan.svg") if (cfg.plot and local) else None
        plan = make_plan(cfg.budget_tokens, histogram=hist, cfg=cfg, plot_path=plot)
        fs.write_text_atomic(fs.join(ctx.stage_dir, "plan.json"), json.dumps(plan, indent=2) + "\n")
        ctx.record("plan", {k: plan[k] for k in ("budget_tokens", "k", "pool_fraction", "pool_tokens", "threshold",
                                                 "repetitions", "passes", "predicted_loss", "method", "recycle",
                                                 "unscored_docs", "notes", "plot")})
        if cfg.laws:
            ctx.record_model("select_laws", cfg.laws, kind="scaling laws (curation select fit)")

        score = F.col(cfg.score_column).cast("double")
        has_score = score.isNotNull() & ~F.isnan(score)
        b = bin_column(score, hist.lo, hist.hi, hist.bins)
        bucket = F.lit(None).cast("int")
        for bk in reversed(plan["buckets"]):
            if bk["first_bin"] <= bk["last_bin"]:
                bucket = F.when(b.between(bk["first_bin"], bk["last_bin"]), F.lit(bk["index"])).otherwise(bucket)
        keep = b >= F.lit(plan["threshold_bin"])
        rc = plan["recycle"]
        recycle = (~keep & (b >= F.lit(rc["first_bin"]))) if rc["first_bin"] is not None else F.lit(False)
        why = (f" < threshold {plan['threshold']:.6g} (top {plan['pool_fraction'] * 100:g}% pool for a budget of "
               f"{plan['budget_tokens']:,} tokens: {plan['repetitions']:.2f} repetitions, method {plan['method']})")
        out = (docs.withColumn("quality_bucket", F.when(has_score, bucket).cast("int"))
               .withColumn("recycle", F.when(has_score, recycle).otherwise(F.lit(False))))
        out = decide(out, has_score & ~keep, REASON, F.concat(F.lit(f"{cfg.score_column}="), F.format_number(score, 6), F.lit(why)))
        return decide(out, ~has_score, NO_SCORE, f"no {cfg.score_column}: cannot rank it")


STAGE = SelectStage
