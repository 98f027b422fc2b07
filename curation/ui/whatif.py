"""What-if: kept tokens and the compute-aware plan under a moved threshold or token budget, without a rerun.

The population is the documents the threshold acts on (those that entered the `select` stage, else the
final documents). One cached, fine-grained token-weighted histogram of the chosen signal answers every
threshold move in the browser; kept tokens are exact up to one bin (1/BINS of the signal's range).
When `curation.stages.select.plan.make_plan` is importable it is asked for the plan over that same histogram
(its `histogram=` input), with the run's recorded `select` config, so the plan moves with the budget.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

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


def make_plan(c: dict[str, Any], budget: float, config: dict[str, Any]) -> dict[str, Any]:
    """The select stage's compute-aware plan for this budget over the cached histogram, or why there is none."""
    try:
        from curation.engine.histogram import Histogram
        from curation.stages.select.config import SelectConfig
        from curation.stages.select.plan import make_plan as planner
    except Exception as e:  # noqa: BLE001  (the select stage is optional: say so on the page)
        return {"available": False, "why": f"curation.stages.select.plan.make_plan is not importable ({type(e).__name__}: {e})"}
    try:
        cfg = SelectConfig(**{f.name: config[f.name] for f in dataclasses.fields(SelectConfig)
                              if f.name in config and not isinstance(config[f.name], dict)})
        cfg.plot = False
    except (TypeError, ValueError) as e:
        return {"available": False, "why": f"the run's select config is not usable here: {e}"}
    if c["column"] != cfg.score_column:
        return {"available": False, "why": f"the plan ranks documents by {cfg.score_column}, not {c['column']}"}
    if c["lo"] is None or budget <= 0:
        return {"available": False, "why": "no scored documents, or no positive budget"}
    hist = Histogram(lo=float(c["lo"]), hi=float(c["hi"]), tokens=np.asarray(c["tokens"], dtype="int64"),
                     docs=np.asarray(c["docs"], dtype="int64"), missing_docs=int(c["missing"]))
    try:
        plan = planner(int(budget), histogram=hist, cfg=cfg)
    except Exception as e:  # noqa: BLE001  (show the planner's own message, e.g. a missing laws file)
        return {"available": False, "why": f"make_plan failed: {type(e).__name__}: {e}"}
    if not isinstance(plan, dict):
        plan = getattr(plan, "__dict__", {"plan": str(plan)})
    shown = {k: _plain(v) for k, v in plan.items() if not isinstance(v, (list, dict)) or k in ("notes", "recycle")}
    cands = [{k: _plain(v) for k, v in x.items()} for x in plan.get("candidates") or [] if isinstance(x, dict)]
    return {"available": True, "plan": shown, "candidates": cands}


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
