"""What-if: kept tokens and the compute-aware plan under a moved threshold or token budget, without a rerun.

The population is the documents the threshold acts on (those that entered the `select` stage, else the
final documents). One cached, fine-grained token-weighted histogram of the chosen signal answers every
threshold move in the browser; kept tokens are exact up to one bin (1/BINS of the signal's range).
When `curation.select.plan.make_plan` is importable it is asked for the plan; it gets the histogram as
(score, tokens) pairs, one per bin, which keeps the token-weighted quantiles that a threshold choice needs.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from curation.ui import signals
from curation.ui.runs import Run, StageInfo

BINS = 1000
MAX_REPETITIONS = 16  # Goyal et al.'s guard rail: no more passes than this without a fitted half-life


def population(run: Run) -> tuple[StageInfo | None, list[str]]:
    """(select stage or None, files of the documents a quality threshold acts on)."""
    sel = run.stage_named("select")
    if sel is not None:
        files = sel.kept_files + sel.rejected_files
        if files:
            return sel, files
    return None, run.final_files


def curve(run: Run, files: list[str], column: str) -> dict[str, Any]:
    """Token-weighted histogram of `column` with BINS bins, for the browser to move thresholds over."""
    has_tokens = "token_count" in run.columns(files)
    hist = signals.histogram(files, column, bins=BINS, has_tokens=has_tokens)
    return {"column": column, "lo": hist["lo"], "hi": hist["hi"], "n": hist["n"], "missing": hist["missing"],
            "docs": [b["docs"] for b in hist["bins"]], "tokens": [b["tokens"] for b in hist["bins"]],
            "has_tokens": has_tokens}


def kept_at(c: dict[str, Any], threshold: float, keep: str = "above") -> dict[str, float]:
    """Docs and tokens kept when documents with value >= threshold (keep='above') or <= it are kept."""
    lo, hi = c["lo"], c["hi"]
    if lo is None:
        return {"docs": 0, "tokens": 0}
    n = len(c["docs"])
    width = (hi - lo) / n if hi > lo else 1.0
    docs = tokens = 0.0
    for i in range(n):
        a, b = lo + i * width, lo + (i + 1) * width
        share = 1.0 if (a >= threshold if keep == "above" else b <= threshold) else 0.0
        if a < threshold < b:  # the bin the threshold cuts: take its share linearly
            share = (b - threshold) / (b - a) if keep == "above" else (threshold - a) / (b - a)
        docs += c["docs"][i] * share
        tokens += c["tokens"][i] * share
    return {"docs": docs, "tokens": tokens}


def pool_table(c: dict[str, Any], budget: float) -> list[dict[str, Any]]:
    """For the top 10 %, 20 %, ... of tokens by score: threshold, kept tokens, passes needed for the budget."""
    total = sum(c["tokens"])
    lo, hi, n = c["lo"], c["hi"], len(c["tokens"])
    if not total or lo is None:
        return []
    width = (hi - lo) / n if hi > lo else 1.0
    out, acc, i = [], 0.0, n
    for k in range(1, 11):
        target = total * k / 10
        while i > 0 and acc < target:
            i -= 1
            acc += c["tokens"][i]
        threshold = lo + i * width
        reps = budget / acc if acc else math.inf
        out.append({"pool_fraction": k / 10, "threshold": threshold, "kept_tokens": acc, "repetitions": reps,
                    "over_guard": reps > MAX_REPETITIONS})
    return out


def make_plan(c: dict[str, Any], budget: float, threshold: float | None, config: dict[str, Any]) -> dict[str, Any]:
    """The select stage's compute-aware plan for this budget, or why it cannot be computed here."""
    try:
        from curation.select.plan import make_plan as planner  # noqa: PLC0415  (built by the select stage)
    except Exception as e:  # noqa: BLE001
        return {"available": False, "why": f"curation.select.plan.make_plan is not importable ({type(e).__name__})"}
    lo, hi, n = c["lo"], c["hi"], len(c["tokens"])
    width = ((hi - lo) / n if hi > lo else 1.0) if lo is not None else 1.0
    centres = [lo + (i + 0.5) * width for i in range(n)] if lo is not None else []
    keep = [i for i in range(n) if c["tokens"][i] or c["docs"][i]]
    scores = [centres[i] for i in keep]
    tokens = [c["tokens"][i] for i in keep]
    offered = {"scores": scores, "quality_scores": scores, "tokens": tokens, "token_counts": tokens,
               "weights": tokens, "budget": budget, "token_budget": budget, "budget_tokens": budget,
               "threshold": threshold, "config": config, "cfg": config}
    try:
        params = inspect.signature(planner).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs, missing = {}, []
    for name, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in offered and offered[name] is not None:
            kwargs[name] = offered[name]
        elif p.default is inspect.Parameter.empty:
            missing.append(name)
    if missing:
        return {"available": False, "why": f"make_plan needs {', '.join(missing)}, which the UI cannot supply"}
    try:
        plan = planner(**kwargs)
    except Exception as e:  # noqa: BLE001  (show the planner's own error on the page)
        return {"available": False, "why": f"make_plan failed: {type(e).__name__}: {e}"}
    if not isinstance(plan, dict):
        plan = getattr(plan, "__dict__", {"plan": str(plan)})
    return {"available": True, "plan": {k: _plain(v) for k, v in plan.items()}}


def _plain(v: Any) -> Any:
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v if not (isinstance(v, float) and not math.isfinite(v)) else str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v][:50]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in list(v.items())[:50]}
    return str(v)


def select_config(run: Run) -> dict[str, Any]:
    cfg = (run.manifest.get("config") or {}).get("select")
    return cfg if isinstance(cfg, dict) else {}


def budget_default(run: Run) -> float | None:
    """A token budget recorded in the config or the select stage's facts, if any."""
    for path, value in signals._leaves(run.manifest.get("config") or {}):
        if path and "budget" in path[-1].lower() and "token" in ".".join(path).lower():
            return value
    sel = run.stage_named("select")
    if sel is not None:
        for path, value in signals._leaves(sel.entry.get("extra") or {}):
            if path and "budget" in path[-1].lower():
                return value
    return None
