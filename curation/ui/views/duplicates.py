"""Duplicates: cluster browser (members side by side, differences highlighted) and containment pairs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from curation.ui import diff
from curation.ui import query as Q
from curation.ui.context import PAGE_SIZE, UI, NotFound, page_number
from curation.ui.runs import Run, StageInfo
from curation.ui.views.common import pick_stage, rows_by_source_id

CLUSTER_REASONS = ("exact_duplicate", "near_duplicate", "semantic_duplicate")
CONTAINED = "contained"
ALL_REASONS = (*CLUSTER_REASONS, CONTAINED)
MAX_CLUSTERS = 20_000
MAX_MEMBERS = 8


def _in(codes: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + c + "'" for c in codes) + ")"


def clusters(run: Run, st: StageInfo) -> list[dict[str, Any]]:
    """Duplicate groups of a stage (one per kept document), largest first; one grouped scan, cached."""
    files = st.rejected_files
    if not files:
        return []
    cols = run.columns(files)
    if "related_id" not in cols or "reason" not in cols:
        return []
    tokens = "sum(coalesce(token_count, 0))" if "token_count" in cols else "0"
    cid = "string_agg(DISTINCT CAST(dup_cluster_id AS VARCHAR), ', ')" if "dup_cluster_id" in cols else "NULL"

    def compute() -> list[dict[str, Any]]:
        return Q.rows(f"SELECT related_id AS kept, count(*) AS members, string_agg(DISTINCT reason, ', ') AS reasons, "
                      f"{tokens} AS tokens, {cid} AS cluster_ids FROM {Q.source(files)} "
                      f"WHERE reason IN {_in(CLUSTER_REASONS)} AND related_id IS NOT NULL "
                      f"GROUP BY related_id ORDER BY members DESC, kept LIMIT {MAX_CLUSTERS}")

    return Q.cached("clusters", files, compute)


def lookup_source(run: Run, st: StageInfo, source_id: str) -> dict[str, Any] | None:
    """A document by source_id among those that entered the stage (where the kept copy is)."""
    for files in (run.input_files(st), st.kept_files, run.final_files):
        got = rows_by_source_id(files, [source_id])
        if got:
            return got[0]
    return None


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    def stage_for(run: Run, stage: str | None) -> tuple[StageInfo | None, list[StageInfo]]:
        choices = [s for s in run.stages if s.name in ("dedup", "prune") or any(x in s.reasons for x in ALL_REASONS)]
        return pick_stage(run, stage, wanted=["dedup"], reasons=ALL_REASONS), choices

    @r.get("/run/{key}/duplicates", response_class=HTMLResponse)
    def duplicates(request: Request, key: str, stage: str | None = None, page: str | None = None,
                   ppage: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        st, choices = stage_for(run, stage)
        p, pp = page_number(page), page_number(ppage)
        groups, pairs, has_next_pairs = [], [], False
        total_groups = 0
        if st is not None:
            allg = clusters(run, st)
            total_groups = len(allg)
            groups = allg[(p - 1) * PAGE_SIZE: p * PAGE_SIZE]
            files = st.rejected_files
            cols = run.columns(files)
            if files and "reason" in cols:
                want = [c for c in ("doc_id", "source_id", "related_id", "containment_score", "token_count", "detail")
                        if c in cols]
                pairs, has_next_pairs = Q.page(f"SELECT {Q.select_list(want + (['text'] if 'text' in cols else []), 160)} "
                                               f"FROM {Q.source(files)} WHERE reason = '{CONTAINED}'", pp, PAGE_SIZE)
        base = {"stage": st.label if st else None}
        return ui.page(request, "duplicates.html", run=run, active="dups", stage=st, stages=choices, groups=groups,
                       total_groups=total_groups, page=p, has_next=p * PAGE_SIZE < total_groups, pairs=pairs,
                       ppage=pp, has_next_pairs=has_next_pairs, base=base)

    @r.get("/run/{key}/duplicates/cluster", response_class=HTMLResponse)
    def cluster(request: Request, key: str, kept: str, stage: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        st, _ = stage_for(run, stage)
        if st is None or not st.rejected_files:
            raise NotFound("no duplicate data in this run")
        members = Q.rows(f"SELECT * EXCLUDE (text), text FROM {Q.source(st.rejected_files)} "
                         f"WHERE related_id = ? AND reason IN {_in(CLUSTER_REASONS)} LIMIT {MAX_MEMBERS + 1}", [kept])
        if not members:
            raise NotFound("no such duplicate group")
        more = len(members) > MAX_MEMBERS
        members = members[:MAX_MEMBERS]
        keeper = lookup_source(run, st, kept)
        keeper_text = (keeper or {}).get("text") or ""
        columns = []
        for i, mem in enumerate(members):
            left, right, ratio = diff.word_diff(keeper_text, mem.get("text") or "")
            if i == 0:
                columns.append({"title": "kept", "row": keeper or {"source_id": kept}, "segments": left, "ratio": None})
            columns.append({"title": mem.get("reason"), "row": mem, "segments": right, "ratio": ratio})
        return ui.page(request, "cluster.html", run=run, active="dups", stage=st, kept=kept, columns=columns,
                       more=more, keeper_missing=keeper is None,
                       cut=diff.truncated(keeper_text) or any(diff.truncated(m.get("text")) for m in members))

    @r.get("/run/{key}/duplicates/pair", response_class=HTMLResponse)
    def pair(request: Request, key: str, id: str, stage: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        st, _ = stage_for(run, stage)
        if st is None or not st.rejected_files:
            raise NotFound("no containment data in this run")
        got = Q.rows(f"SELECT * FROM {Q.source(st.rejected_files)} WHERE doc_id = ? AND reason = '{CONTAINED}' LIMIT 1",
                     [id])
        if not got:
            raise NotFound("no such contained document")
        inner = got[0]
        container = lookup_source(run, st, inner.get("related_id") or "") if inner.get("related_id") else None
        segs, covered = diff.containment((container or {}).get("text") or "", inner.get("text") or "")
        return ui.page(request, "pair.html", run=run, active="dups", stage=st, inner=inner, container=container,
                       segments=segs, covered=covered)

    return r
