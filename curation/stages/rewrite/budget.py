"""How many pool documents a generation budget pays for.

The budget is in new tokens (rewrite.budget_tokens) or GPU-hours times a measured tokens/s. Each document's
expected cost is min(max_tokens, output_factor * its tokens) (REWIRE: thinking plus a response not shorter
than the draft). Documents closest to the quality threshold (highest score) go first; the cut is found on a
score histogram (no global sort), so it is exact up to one histogram bin and never exceeds the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from curation.stages.rewrite.config import RewriteConfig


def generation_budget(cfg: RewriteConfig) -> float | None:
    """New tokens the run may generate, or None for no limit."""
    if cfg.budget_tokens > 0:
        return float(cfg.budget_tokens)
    if cfg.gpu_hours > 0:
        return cfg.gpu_hours * 3600.0 * cfg.tokens_per_second
    return None


def expected_cost(token_count: Column, cfg: RewriteConfig) -> Column:
    from pyspark.sql import functions as F

    est = F.ceil(F.coalesce(token_count.cast("double"), F.lit(0.0)) * F.lit(cfg.output_factor)).cast("long")
    return F.least(F.greatest(est, F.lit(1).cast("long")), F.lit(cfg.max_tokens).cast("long"))


def within_budget(pool: DataFrame, cfg: RewriteConfig, score_column: str, bins: int = 100_000
                  ) -> tuple[DataFrame, dict[str, float | int | None]]:
    """The pool documents to rewrite under the budget, and what was decided (for the manifest)."""
    from pyspark.sql import functions as F

    from curation.engine.histogram import bin_column, histogram_spark

    budget = generation_budget(cfg)
    if budget is None:
        return pool, {"budget_tokens": None, "cut_score": None}
    has = score_column in pool.columns
    score = F.col(score_column).cast("double") if has else F.lit(None).cast("double")
    # Unscored documents go last, in a stable pseudo-random order.
    prio = F.coalesce(score, F.lit(-2.0) + (F.abs(F.xxhash64("doc_id")) % 1_000_000) / F.lit(1e6))
    df = pool.withColumn("_prio", prio).withColumn("_cost", expected_cost(F.col("token_count"), cfg))
    hist = histogram_spark(df, "_prio", "_cost", bins)
    cum = np.cumsum(hist.tokens[::-1])
    fits = int(np.searchsorted(cum, budget, side="right"))  # how many top bins fit
    if fits >= hist.bins:
        return pool, {"budget_tokens": budget, "cut_score": None}
    first_bin = hist.bins - fits  # bins >= first_bin are rewritten
    chosen = df.where(bin_column(F.col("_prio"), hist.lo, hist.hi, hist.bins) >= F.lit(first_bin)).drop("_prio", "_cost")
    cut = hist.edge(first_bin) if fits else None
    return chosen, {"budget_tokens": budget, "cut_score": cut, "planned_tokens": int(cum[fits - 1]) if fits else 0}
