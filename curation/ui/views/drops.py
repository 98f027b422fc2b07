"""Drops by reason with a paged, filterable sample, and the document view (text, signals, history)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation.ui import query as Q
from curation.ui.context import PAGE_SIZE, UI, NotFound, page_number
from curation.ui.views.common import TEXT_LIMIT, cell, find_document, history_of

#: pii__ columns that are totals, not a kind.
PII_TOTALS = {"pii__spans", "pii__density"}
SAMPLE_COLUMNS = ["doc_id", "source_id", "decision", "reason", "related_id", "detail", "token_count",
                  "source_type", "domain", "url", "text"]


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    @r.get("/run/{key}/drops", response_class=HTMLResponse)
    def drops(request: Request, key: str, stage: str | None = None, reason: str | None = None,
              decision: str | None = None, q: str | None = None, page: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        reasons = [(s, reason_code, v) for s in run.stages for reason_code, v in s.reasons.items()]
        with_rejects = [s for s in run.stages if s.rejected_files]
        st = run.stage(stage) if stage else None
        if st is None and reason:
            st = next((s for s, code, _ in reasons if code == reason), None)
        if st is None and with_rejects:
            st = with_rejects[0]
        p = page_number(page)
        sample, has_next = [], False
        if st is not None and st.rejected_files:
            files = st.rejected_files
            cols = [c for c in SAMPLE_COLUMNS if c in run.columns(files)]
            where, params = [], []
            if reason:
                where.append("reason = ?")
                params.append(reason)
            if decision in ("dropped", "quarantined"):
                where.append("decision = ?")
                params.append(decision)
            if q and "text" in cols:
                where.append("contains(lower(text), lower(?))")
                params.append(q[:200])
            sql = (f"SELECT {Q.select_list(cols, 240)} FROM {Q.source(files)}"
                   f"{' WHERE ' + ' AND '.join(where) if where else ''}")
            sample, has_next = Q.page(sql, p, PAGE_SIZE, params)
        base = {"stage": st.label if st else None, "reason": reason, "decision": decision, "q": q}
        return ui.page(request, "drops.html", run=run, active="drops", reasons=reasons, stage=st,
                       stages=with_rejects, sample=sample, page=p, has_next=has_next, base=base)

    @r.get("/run/{key}/doc", response_class=HTMLResponse)
    def document(request: Request, key: str, id: str | None = None, source_id: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        if not id and not source_id:
            raise NotFound("give ?id=<doc_id> or ?source_id=<source id>")
        history = history_of(run, doc_id=id, source_id=None if id else source_id)
        doc_id = id or (history[-1]["doc_id"] if history else None)
        row, where = (find_document(run, doc_id, history) if doc_id else (None, ""))
        if row is None and not history:
            raise NotFound("no such document in this run")
        text = (row or {}).get("text")
        text_cut = isinstance(text, str) and len(text) > TEXT_LIMIT
        sid = (row or {}).get("source_id") or (history[0]["source_id"] if history else source_id)
        related = []
        if sid and run.all_ledger_files:
            related = Q.rows(f"SELECT doc_id, source_id, stage, decision, reason, detail FROM "
                             f"{Q.source(run.all_ledger_files)} WHERE related_id = ? LIMIT 50", [sid])
        signals = {k: cell(v) for k, v in (row or {}).items() if k != "text"}
        return ui.page(request, "doc.html", run=run, active="drops", doc_id=doc_id, source_id=sid, where=where,
                       pii=pii_counts(row or {}), pii_mode=_pii_mode(run),
                       text=(text[:TEXT_LIMIT] if text_cut else text), text_cut=text_cut,
                       text_chars=len(text) if isinstance(text, str) else 0,
                       signals=signals, history=history, related=related)

    return r


def pii_counts(row: dict) -> dict[str, int]:
    """Personal-data spans per kind found in a document by annotate (kinds with none left out)."""
    out = {}
    for k, v in row.items():
        if k.startswith("pii__") and k not in PII_TOTALS and isinstance(v, int | float) and v == v and v > 0:
            out[k.removeprefix("pii__")] = int(v)
    return out


def _pii_mode(run) -> str | None:
    """annotate.pii.mode of the run (redact: the text shows tokens where the spans were)."""
    annotate = ((run.manifest.get("config") or {}).get("annotate") or {})
    pii = annotate.get("pii") if isinstance(annotate, dict) else None
    return pii.get("mode") if isinstance(pii, dict) else None
