"""The `select` config section (shared by the stage and its sub-commands)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from curation.engine.options import opt


@dataclass
class ProxyConfig:
    """Proxy language models trained per quality bucket to measure loss-vs-tokens curves (docs/PAPERS.md 4c)."""

    model: Literal["byte-tiny", "byte-small", "byte-base"] = opt(
        "byte-tiny", "Proxy LM size: byte-tiny (2x64, CPU demo, minutes), byte-small (4x256), byte-base (8x512, GPU).")
    buckets: int = opt(5, "Train proxies on the best this many buckets (m in docs/PAPERS.md 4c).")
    multiples: list[float] = opt([0.5, 1, 2, 4, 8], "Token budgets as multiples of the bucket size P (one run, evaluated at each).")
    max_pool_tokens: int = opt(20_000, "Cap on the tokens of one bucket used for its proxy (a random sample of its "
                                        "documents); raise it on a GPU.")
    reference_docs: int = opt(64, "Held-out reference documents for the validation loss (taken out before bucketing).")
    reference: str | None = opt(None, "Reference set (JSONL/Parquet with text); unset: held out from the top half by score.")
    context: int = opt(64, "Context length in bytes.")
    batch_size: int = opt(16, "Sequences per step.")
    learning_rate: float = opt(3e-3, "AdamW learning rate (constant after a short warm-up, so one run can be "
                                     "evaluated at every budget).")
    device: str = opt("auto", "torch device: auto (cuda when available), cpu, cuda, cuda:1 ...")
    threads: int = opt(1, "torch CPU threads (1 by default: the demo machine is shared).")
    seed: int = opt(0, "Random seed (sampling, init, batches).")


@dataclass
class FitConfig:
    form: Literal["paper", "code"] = opt("paper", "Law form to fit and plan with: the paper's equations or the authors' code.")
    a: float | None = opt(None, "Fix the shared a (unset: grid search).")
    d: float | None = opt(None, "Fix the irreducible loss d (unset: grid search over [0, min loss)).")
    unit_tokens: float = opt(1e6, "Tokens are divided by this before fitting (n in units of 1e6 tokens).")
    polish: bool = opt(True, "After the authors' grid, a bounded least-squares polish (kept only if it lowers the SSE).")


@dataclass
class SelectConfig:
    budget_tokens: int = opt(0, "Training budget in tokens (how many tokens the model will see). Required for the stage.")
    score_column: str = opt("quality_score", "Column to rank documents by (higher is better).")
    token_column: str = opt("token_count", "Column with each document's token count.")
    buckets: int = opt(10, "Number of equal-token quality buckets.")
    candidates: int = opt(5, "Candidate pools: top-1..top-k buckets (top 10 %, 20 %, ...).")
    laws: str | None = opt(None, "Fitted laws JSON (from `curation select fit`); unset: the repetition-cap fallback.")
    tau_scaling: Literal["none", "pools"] = opt(
        "none", "Half-life of a mixed pool: none (tau_hat = tau, our default for LMs) or pools (p * tau, the authors' CLIP rule).")
    max_repetitions: int = opt(16, "Guard rail: never plan more passes than this over a pool whose tau is not fitted.")
    fallback_repetitions: int = opt(4, "Without laws: the smallest pool that is repeated at most this many times.")
    recycle_buckets: int = opt(1, "Buckets just below the threshold marked `recycle` (the REWIRE pool).")
    histogram_bins: int = opt(100_000, "Score histogram resolution used to cut buckets (threshold precision).")
    plot: bool = opt(True, "Write plan.svg (predicted loss vs budget per pool) next to plan.json.")
    fit: FitConfig = field(default_factory=FitConfig, metadata={"doc": "Fitting the laws from curves."})
    proxy: ProxyConfig = field(default_factory=ProxyConfig, metadata={"doc": "Proxy LM runs that produce curves."})

    def validate(self) -> None:
        if self.budget_tokens < 0:
            raise ValueError("budget_tokens must be >= 0")
        if self.buckets < 1 or not 1 <= self.candidates <= self.buckets:
            raise ValueError("need buckets >= 1 and 1 <= candidates <= buckets")
        if self.recycle_buckets < 0:
            raise ValueError("recycle_buckets must be >= 0")
        if self.max_repetitions < 1 or self.fallback_repetitions < 1:
            raise ValueError("max_repetitions and fallback_repetitions must be >= 1")
        if self.histogram_bins < self.buckets:
            raise ValueError("histogram_bins must be >= buckets")
        if self.proxy.buckets < 1 or not self.proxy.multiples or min(self.proxy.multiples) <= 0:
            raise ValueError("proxy.buckets must be >= 1 and proxy.multiples positive")


SECTION = SelectConfig
