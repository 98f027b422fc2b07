"""What-if: move a threshold or the token budget, see kept tokens and the compute-aware plan change."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from curation.ui import signals
from curation.ui import whatif as W
from curation.ui.context import UI


def _float(v: str | None) -> float | None:
    try:
        f = float(v) if v not in (None, "") else None
    except ValueError:
        return None
    return f if f is not None and math.isfinite(f) else None


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    def setup(key: str, column: str | None):
        run = ui.run(key)
        st, files = W.population(run)
        cols = signals.with_values(files, [c for c in signals.numeric_columns(run.schema(files)) if c != "token_count"])
        col = column if column in cols else ("quality_score" if "quality_score" in cols else (cols[0] if cols else None))
        return run, st, files, cols, col

    @r.get("/run/{key}/whatif", response_class=HTMLResponse)
    def page(request: Request, key: str, column: str | None = None, threshold: str | None = None,
             budget: str | None = None, keep: str = "above") -> HTMLResponse:
        run, st, files, cols, col = setup(key, column)
        keep = "below" if keep == "below" else "above"
        ctx: dict = {"run": run, "active": "whatif", "stage": st, "columns": cols, "column": col, "keep": keep}
        if col is None:
            return ui.page(request, "whatif.html", curve=None, **ctx)
        c = W.curve(run, files, col)
        marks = signals.thresholds(run.manifest, col)
        t = _float(threshold)
        if t is None:
            t = marks[0][1] if marks else (c["lo"] if c["lo"] is not None else 0.0)
        b = _float(budget) or W.budget_default(run) or float(sum(c["tokens"]))
        kept = W.kept_at(c, t, keep)
        reps = b / kept["tokens"] if kept["tokens"] else None
        return ui.page(request, "whatif.html", curve=c, marks=marks, threshold=t, budget=b, kept=kept, reps=reps,
                       total_tokens=sum(c["tokens"]), total_docs=sum(c["docs"]), pools=W.pool_table(c, b),
                       guard=W.MAX_REPETITIONS, plan=W.make_plan(c, b, W.select_config(run)), **ctx)

    @r.get("/run/{key}/whatif/plan.json")
    def plan(key: str, column: str | None = None, threshold: str | None = None, budget: str | None = None,
             keep: str = "above") -> JSONResponse:
        run, _, files, _, col = setup(key, column)
        if col is None:
            return JSONResponse({"available": False, "why": "no numeric signal in this run"})
        c = W.curve(run, files, col)
        t, b = _float(threshold), _float(budget)
        if b is None:
            b = float(sum(c["tokens"]))
        out = {"column": col, "budget": b, "threshold": t, "pools": W.pool_table(c, b),
               **W.make_plan(c, b, W.select_config(run))}
        if t is not None:
            out["kept"] = W.kept_at(c, t, "below" if keep == "below" else "above")
        return JSONResponse(out)

    return r
