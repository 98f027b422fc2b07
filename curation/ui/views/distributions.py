"""Distributions: a histogram of every numeric signal of a stage's rows, with its configured thresholds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation.ui import charts, signals
from curation.ui.context import UI

MAX_CHARTS = 60


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    @r.get("/run/{key}/distributions", response_class=HTMLResponse)
    def distributions(request: Request, key: str, stage: str | None = None, weight: str = "docs") -> HTMLResponse:
        run = ui.run(key)
        weight = "tokens" if weight == "tokens" else "docs"
        st = run.stage(stage) if stage else None
        if st is None:
            scored = [s for s in run.stages
                      if set(signals.numeric_columns(run.schema(s.kept_files + s.rejected_files))) - {"token_count"}]
            st = scored[-1] if scored else (run.stages[-1] if run.stages else None)
        charts_out = []
        if st is not None:
            files = st.kept_files + st.rejected_files
            schema = run.schema(files)
            has_tokens = "token_count" in schema.names
            for col in signals.numeric_columns(schema)[:MAX_CHARTS]:
                hist = signals.histogram(files, col, bins=40, has_tokens=has_tokens)
                marks = signals.thresholds(run.manifest, col)
                charts_out.append({"column": col, "hist": hist, "marks": marks,
                                   "svg": charts.histogram(hist, marks, weight=weight)})
        base = {"stage": st.label if st else None, "weight": weight}
        return ui.page(request, "distributions.html", run=run, active="dist", stage=st, charts=charts_out,
                       stages=run.stages, base=base, weight=weight)

    return r
