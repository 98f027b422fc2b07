"""From a token budget to a pool: predicted loss of every candidate pool, the choice, its threshold (docs/PAPERS.md 4c).

`make_plan` returns a JSON-ready dict (the UI calls it); `main` is `curation select plan`.
Design (guard rails, the fallback without laws): docs/DESIGN.md#select-plan
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from curation.engine.histogram import Bucket, Histogram, histogram_files, quality_buckets
from curation.stages.select import law
from curation.stages.select.cli import load_select_config
from curation.stages.select.config import SelectConfig
from curation.stages.select.fit import Laws


def _laws_for(laws: Laws, k: int) -> tuple[float, float] | None:
    b = laws.bucket(k)
    return (b.b, b.tau) if b else None


def candidate_losses(budgets: np.ndarray | float, buckets: list[Bucket], laws: Laws, k: int,
                     tau_scaling: str = "none") -> np.ndarray | float:
    """Predicted loss of the top-k pool at one or many budgets (tokens)."""
    used = [b for b in buckets[:k] if b.tokens > 0]
    params = [_laws_for(laws, b.index) for b in used]
    if not used or any(p is None for p in params):
        return np.full(np.shape(budgets), np.nan) if np.ndim(budgets) else math.nan
    sizes = [b.tokens / laws.unit_tokens for b in used]
    n = np.asarray(budgets, dtype=float) / laws.unit_tokens
    return law.pool_loss(n, sizes, [p[0] for p in params], [p[1] for p in params], laws.a, laws.d,
                         form=laws.form, tau_scaling=tau_scaling, normalizer=1.0)  # type: ignore[arg-type]


def _tau_fitted(laws: Laws | None, k: int) -> bool:
    if laws is None or not laws.tau_fitted:
        return False
    return all((b := laws.bucket(i)) is not None and "tau" not in b.at_grid_edge for i in range(1, k + 1))


def make_plan(budget_tokens: int, *, inputs: list[str] | None = None, histogram: Histogram | None = None,
              laws: Laws | str | Path | None = None, cfg: SelectConfig | None = None,
              plot_path: str | Path | None = None) -> dict[str, Any]:
    """The plan as a dict: at least pool_fraction, threshold, repetitions, predicted_loss (None without laws).

    Give either `inputs` (Parquet/JSONL files or run folders; only the score and token columns are read)
    or a precomputed `histogram`.
    """
    cfg = cfg or SelectConfig()
    if budget_tokens <= 0:
        raise ValueError("budget_tokens must be > 0 (select.budget_tokens / --budget-tokens)")
    if histogram is None:
        if not inputs:
            raise ValueError("make_plan needs inputs or a histogram")
        histogram = histogram_files(inputs, cfg.score_column, cfg.token_column, cfg.histogram_bins)
    if isinstance(laws, str | Path):
        laws = Laws.load(laws)
    elif laws is None and cfg.laws:
        laws = Laws.load(cfg.laws)
    buckets = quality_buckets(histogram, cfg.buckets)
    total = int(histogram.tokens.sum())
    if total <= 0:
        raise ValueError("the scored documents have no tokens (is token_count filled in?)")
    m = cfg.candidates
    if laws is not None:
        fitted = [b.bucket for b in laws.buckets]
        m = min(m, max((k for k in range(1, m + 1) if all(i in fitted for i in range(1, k + 1))), default=0))
        if m == 0:
            raise ValueError(f"the laws have no fit for bucket 1 (fitted buckets: {fitted})")
    n = float(budget_tokens)
    notes: list[str] = []
    cands = []
    for k in range(1, m + 1):
        pool = sum(b.tokens for b in buckets[:k])
        rep = n / pool if pool else math.inf
        passes = law.passes(n, pool) if pool else 0
        loss = float(candidate_losses(n, buckets, laws, k, cfg.tau_scaling)) if laws else None
        allowed = pool > 0
        why = None if pool > 0 else "empty pool"
        if allowed and passes > cfg.max_repetitions and not _tau_fitted(laws, k):
            allowed, why = False, f"{passes} passes > select.max_repetitions={cfg.max_repetitions} without a fitted tau"
        cands.append({"k": k, "pool_fraction": round(k / cfg.buckets, 6), "pool_tokens": pool,
                      "pool_docs": sum(b.docs for b in buckets[:k]), "threshold": buckets[k - 1].threshold,
                      "repetitions": rep, "passes": passes, "predicted_loss": loss, "allowed": allowed, "excluded_because": why})
    allowed = [c for c in cands if c["allowed"]]
    if not allowed:
        allowed = [cands[-1]]
        notes.append("no candidate passes the guard rails; taking the widest candidate pool")
    if n <= buckets[0].tokens and cands[0]["allowed"]:
        chosen, method = cands[0], "budget_fits_best_bucket"
        notes.append("the budget fits in the best bucket: no repetition, so the best bucket alone (docs/PAPERS.md 4c.4)")
    elif laws is None:
        fits = [c for c in allowed if c["passes"] <= cfg.fallback_repetitions]
        chosen = fits[0] if fits else allowed[-1]
        method = "repetition_cap"
        notes.append(f"no fitted laws (select.laws): smallest pool repeated at most {cfg.fallback_repetitions} times")
    else:
        chosen = min(allowed, key=lambda c: (c["predicted_loss"], c["k"]))
        method = "fadu"
    k = chosen["k"]
    r = cfg.recycle_buckets
    recycle = [b for b in buckets[k:k + r]]
    plan: dict[str, Any] = {
        "budget_tokens": int(budget_tokens),
        "total_tokens": total,
        "total_docs": int(histogram.docs.sum()),
        "unscored_docs": histogram.missing_docs,
        "k": k,
        "pool_fraction": chosen["pool_fraction"],
        "pool_token_fraction": chosen["pool_tokens"] / total,
        "pool_tokens": chosen["pool_tokens"],
        "pool_docs": chosen["pool_docs"],
        "threshold": chosen["threshold"],
        "threshold_bin": buckets[k - 1].first_bin,
        "repetitions": chosen["repetitions"],
        "passes": chosen["passes"],
        "predicted_loss": chosen["predicted_loss"],
        "method": method,
        "score_column": cfg.score_column,
        "form": laws.form if laws else None,
        "tau_scaling": cfg.tau_scaling,
        "candidates": cands,
        "buckets": [b.to_dict() for b in buckets],
        "histogram": {"lo": histogram.lo, "hi": histogram.hi, "bins": histogram.bins},
        "recycle": {"buckets": [b.index for b in recycle],
                    "lower": recycle[-1].threshold if recycle else None,
                    "upper": chosen["threshold"] if recycle else None,
                    "first_bin": recycle[-1].first_bin if recycle else None,
                    "tokens": sum(b.tokens for b in recycle), "docs": sum(b.docs for b in recycle)},
        "laws": ({"a": laws.a, "d": laws.d, "unit_tokens": laws.unit_tokens, "form": laws.form, "rmse": laws.rmse,
                  "r2": laws.r2, "buckets": [{"bucket": b.bucket, "b": b.b, "tau": b.tau} for b in laws.buckets],
                  "source": laws.source} if laws else None),
        "notes": notes,
        "plot": None,
    }
    if plot_path and laws is not None:
        plan["plot"] = str(plot_plan(plan, buckets, laws, plot_path, cfg.tau_scaling))
    return plan


def plot_plan(plan: dict[str, Any], buckets: list[Bucket], laws: Laws, path: str | Path, tau_scaling: str = "none") -> Path:
    """Predicted loss vs budget for every candidate pool (log budget axis), the planned budget marked."""
    from curation.stages.select.plot import line_chart_svg

    p1 = max(buckets[0].tokens, 1)
    n = plan["budget_tokens"]
    lo, hi = min(p1 / 4, n / 2), max(p1 * 128, n * 4)
    xs = list(np.geomspace(lo, hi, 60))
    series = {}
    for c in plan["candidates"]:
        ys = candidate_losses(np.array(xs), buckets, laws, c["k"], tau_scaling)
        series[f"top {c['pool_fraction'] * 100:g}%"] = (xs, [float(y) for y in ys])
    return line_chart_svg(series, path, title="Predicted loss vs training budget per pool",
                          xlabel="training tokens", ylabel="predicted loss",
                          markers=[(n, f"budget: top {plan['pool_fraction'] * 100:g}%")])


def format_plan(plan: dict[str, Any]) -> str:
    lines = [f"budget {plan['budget_tokens']:,} tokens over {plan['total_tokens']:,} scored tokens "
             f"({plan['total_docs']:,} docs); method {plan['method']}",
             "pool        tokens   passes  repetitions  predicted_loss  threshold  note"]
    for c in plan["candidates"]:
        mark = "*" if c["k"] == plan["k"] else " "
        loss = f"{c['predicted_loss']:.5f}" if c["predicted_loss"] is not None else "-"
        lines.append(f"{mark}top {c['pool_fraction'] * 100:>3g}% {c['pool_tokens']:>12,} {c['passes']:>7} "
                     f"{c['repetitions']:>12.2f} {loss:>15} {c['threshold']:>10.5f}  {c['excluded_because'] or ''}")
    lines.append(f"chosen: top {plan['pool_fraction'] * 100:g}% (score >= {plan['threshold']:.6g}), "
                 f"{plan['repetitions']:.2f} repetitions, predicted loss {plan['predicted_loss']}")
    rc = plan["recycle"]
    if rc["buckets"]:
        lines.append(f"recycling pool (REWIRE): buckets {rc['buckets']}, score in [{rc['lower']:.6g}, {rc['upper']:.6g}), "
                     f"{rc['docs']:,} docs, {rc['tokens']:,} tokens")
    lines += [f"note: {x}" for x in plan["notes"]]
    if plan["plot"]:
        lines.append(f"plot: {plan['plot']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="curation select plan",
                                description="Predicted loss per candidate pool for a token budget, and the chosen pool.")
    p.add_argument("--input", "-i", nargs="+", required=True, help="scored documents (Parquet/JSONL files, folders, run folders)")
    p.add_argument("--budget-tokens", type=float, required=True, help="training budget in tokens (1e9 works)")
    p.add_argument("--laws", help="fitted laws JSON (default: select.laws)")
    p.add_argument("--plot", help="write the SVG plot here (default: plan.svg next to --out, or none)")
    p.add_argument("--out", help="also write the plan JSON here")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object on stdout")
    p.add_argument("--config", "-c")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    cfg = load_select_config(a.config, a.set)
    plot = a.plot or (str(Path(a.out).with_suffix(".svg")) if a.out else None)
    plan = make_plan(int(a.budget_tokens), inputs=a.input, laws=a.laws, cfg=cfg, plot_path=plot)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(plan, indent=2) + "\n")
    if a.json:
        sys.stdout.write(json.dumps(plan) + "\n")
    else:
        print(format_plan(plan))
    return 0
