"""Runs: every run with its date, config and models, and the funnel of documents and tokens per stage."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation.ui import charts
from curation.ui.context import UI


def funnel_rows(run) -> list[dict]:
    return [{"label": s.label, "docs": s.counts("docs"), "tokens": s.counts("tokens"), "reasons": s.reasons,
             "status": s.entry.get("status"), "seconds": s.entry.get("seconds")} for s in run.stages]


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return ui.page(request, "runs.html", items=list(ui.runs.values()))

    @r.get("/run/{key}", response_class=HTMLResponse)
    def run_page(request: Request, key: str) -> HTMLResponse:
        run = ui.run(key)
        rows = funnel_rows(run)
        return ui.page(request, "run.html", run=run, active="run", rows=rows,
                       funnel_docs=charts.funnel(rows, "docs"), funnel_tokens=charts.funnel(rows, "tokens"),
                       config=json.dumps(run.manifest.get("config") or {}, indent=2, sort_keys=True, default=str),
                       models=run.manifest.get("models") or {})

    return r
