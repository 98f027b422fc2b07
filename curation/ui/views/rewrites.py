"""Rewrites: each rewritten document next to its original, with both documents' scores."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation.ui import query as Q
from curation.ui import signals
from curation.ui.context import UI, page_number
from curation.ui.runs import Run, StageInfo
from curation.ui.views.common import pick_stage, rows_by_source_id

PREVIEW = 3000
PAGE = 10  # pairs per page: each original is a point read of a wide row


def rewrite_stage(run: Run, label: str | None) -> StageInfo | None:
    st = pick_stage(run, label, wanted=["rewrite"])
    if st is not None:
        return st
    for s in run.stages:  # any stage that emitted rewrite rows
        files = s.kept_files + s.rejected_files
        if files and "source_type" in run.columns(files) and Q.scalar(
                f"SELECT count(*) FROM (SELECT 1 FROM {Q.source(files)} WHERE source_type = 'rewrite' LIMIT 1)"):
            return s
    return None


def scores(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {n: row.get(n) for n in names if row.get(n) is not None}


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    @r.get("/run/{key}/rewrites", response_class=HTMLResponse)
    def rewrites(request: Request, key: str, stage: str | None = None, page: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        st = rewrite_stage(run, stage)
        p = page_number(page)
        pairs: list[dict[str, Any]] = []
        has_next = False
        if st is not None:
            files = st.kept_files + st.rejected_files
            cols = run.columns(files)
            if "source_type" in cols:
                numeric = signals.numeric_columns(run.schema(files))
                want = [c for c in ("doc_id", "source_id", "decision", "reason", "related_id", "detail", *numeric)
                        if c in cols]
                got, has_next = Q.page(f"SELECT {Q.select_list(want)}, left(text, {PREVIEW}) AS text, "
                                       f"length(text) AS chars FROM {Q.source(files)} WHERE source_type = 'rewrite'", p, PAGE)
                # kept rows carry no related_id: the stage's ledger has it
                ids = [g["doc_id"] for g in got if not g.get("related_id")]
                if ids and st.ledger_files:
                    led = Q.rows(f"SELECT doc_id, related_id, decision, reason FROM {Q.source(st.ledger_files)} "
                                 f"WHERE doc_id IN (SELECT unnest(?))", [ids])
                    by = {x["doc_id"]: x for x in led}
                    for g in got:
                        g.update({k: v for k, v in by.get(g["doc_id"], {}).items() if v is not None})
                originals: dict[str, dict[str, Any]] = {}
                rel = sorted({g["related_id"] for g in got if g.get("related_id")})
                # the original entered this stage, or was dropped earlier (e.g. recycled by select)
                src = run.input_files(st) + [f for s in run.stages if s.index <= st.index for f in s.rejected_files]
                if rel and src:
                    ocols = run.columns(src)
                    onum = [c for c in signals.numeric_columns(run.schema(src))]
                    ow = [c for c in ("doc_id", "source_id", *onum) if c in ocols]
                    for o in rows_by_source_id(src, rel, f"{Q.select_list(ow)}, left(text, {PREVIEW}) AS text, "
                                                         f"length(text) AS chars"):
                        originals.setdefault(o["source_id"], o)
                for g in got:
                    o = originals.get(g.get("related_id") or "")
                    pairs.append({"rewrite": g, "original": o, "rewrite_scores": scores(g, numeric),
                                  "original_scores": scores(o or {}, numeric)})
        return ui.page(request, "rewrites.html", run=run, active="rewrites", stage=st, pairs=pairs, page=p,
                       has_next=has_next, base={"stage": st.label if st else None}, preview=PREVIEW)

    return r
