"""The pruning policy: how much to keep and which end of each cluster to keep.

Sorscher et al. (2022): with abundant data keep the hard (atypical) examples, with scarce data keep the
easy (prototypical) ones; the larger the pool, the smaller the optimal keep fraction, but with an
imperfect metric the gain saturates, so the fraction has a floor. Abundance here is pool tokens over
the training budget. Pruning happens inside every cluster at one common rate (class balance, which the
authors found essential), so cluster proportions survive pruning.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from curation.stages.prune.config import PruneConfig


@dataclass
class Policy:
    keep_fraction: float
    strategy: Literal["easy", "hard"]
    abundance: float | None
    pool_tokens: int
    budget_tokens: int | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_policy(pool_tokens: int, cfg: PruneConfig) -> Policy:
    budget = cfg.budget_tokens
    abundance = (pool_tokens / budget) if budget else None
    reasons: list[str] = []
    if cfg.keep_fraction == "auto":
        if abundance is None:
            f = 1.0
            reasons.append("no budget_tokens and keep_fraction=auto: keep everything (scores only)")
        elif abundance <= 1.0:
            f = 1.0
            reasons.append(f"pool {pool_tokens:,} tokens <= budget {budget:,}: scarce data, keep everything")
        else:
            raw = 1.0 / abundance
            f = max(cfg.min_keep_fraction, raw)
            reasons.append(f"keep fraction = budget / pool = {raw:.4f}"
                           + (f", raised to min_keep_fraction={cfg.min_keep_fraction} (imperfect metric: gains "
                              "saturate; `select` cuts the rest)" if f > raw else ""))
    else:
        f = float(cfg.keep_fraction)
        reasons.append(f"keep fraction {f} from config")
    if cfg.strategy != "auto":
        strategy = cfg.strategy
        reasons.append(f"strategy keep-{strategy} from config")
    elif abundance is None:
        strategy = "hard"
        reasons.append("no budget: abundance unknown, assume the pre-training regime (abundant data, D4): keep-hard")
    elif abundance >= cfg.abundance_threshold:
        strategy = "hard"
        reasons.append(f"abundance {abundance:.2f} >= {cfg.abundance_threshold}: abundant data, keep-hard (Sorscher et al.)")
    else:
        strategy = "easy"
        reasons.append(f"abundance {abundance:.2f} < {cfg.abundance_threshold}: scarce data, keep-easy (Sorscher et al.)")
    return Policy(keep_fraction=f, strategy=strategy, abundance=abundance, pool_tokens=int(pool_tokens),
                  budget_tokens=budget, why="; ".join(reasons))


def target_count(n: int, keep_fraction: float) -> int:
    """Documents to keep in total: floor(f * n) (D4's overall ratio R), at least 1 when n > 0 and f > 0."""
    if n <= 0:
        return 0
    return max(1, math.floor(keep_fraction * n + 1e-9))


def allocate_quotas(counts: dict[int, int], target: int) -> dict[int, int]:
    """Per-cluster keep counts at one common rate that sum to exactly `target` (largest remainder).

    Every cluster gets floor(rate * n_c) or one more, so each is within 1 document of the common rate.
    """
    total = sum(counts.values())
    if target >= total:
        return dict(counts)
    if target <= 0:
        return {c: 0 for c in counts}
    rate = target / total
    base = {c: math.floor(rate * n) for c, n in counts.items()}
    left = target - sum(base.values())
    order = sorted(counts, key=lambda c: (-(rate * counts[c] - base[c]), c))
    for c in order[:left]:
        base[c] += 1
    return base
