"""Helpers the page modules share: picking a stage, reading one document, summarising cell values."""

from __future__ import annotations

import json
import os
from typing import Any

from curation.ui import query as Q
from curation.ui.runs import Run, StageInfo

TEXT_LIMIT = 200_000


def pick_stage(run: Run, label: str | None, wanted: list[str] | None = None,
               reasons: tuple[str, ...] = (), column: str | None = None) -> StageInfo | None:
    """The stage the request names, else the first that matches by name, by reason code or by column."""
    if label:
        st = run.stage(label)
        if st is not None:
            return st
    for name in wanted or []:
        st = run.stage_named(name)
        if st is not None:
            return st
    for st in run.stages:
        if reasons and any(r in st.reasons for r in reasons):
            return st
    if column:
        for st in reversed(run.stages):
            if column in run.columns(st.kept_files + st.rejected_files):
                return st
    return None


def stage_of_file(run: Run, filename: str) -> StageInfo | None:
    folder = os.path.basename(os.path.dirname(filename))
    return run.stage(folder)


def cell(v: Any) -> Any:
    """A value as it should show in a table: vectors and long strings summarised."""
    if isinstance(v, (list, tuple)):
        head = ", ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in list(v)[:6])
        return f"[{len(v)} values: {head}{', …' if len(v) > 6 else ''}]"
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    if isinstance(v, dict):
        return json.dumps(v, default=str)[:500]
    if isinstance(v, str) and len(v) > 2000:
        return v[:2000] + " …"
    return v


def find_document(run: Run, doc_id: str, history: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The document's row where it last appears: its rejected row, or the kept output of its last stage."""
    places: list[tuple[str, list[str]]] = []
    for h in reversed(history):
        st = run.stage(h["stage_label"]) if h.get("stage_label") else None
        if st is None:
            continue
        if h.get("decision") != "kept":
            places.append((f"rejected by {st.label}", st.rejected_files))
        elif st is run.stages[-1]:
            places.append(("final documents", run.final_files))
        else:
            places.append((f"kept by {st.label}", st.kept_files))
    places.append(("final documents", run.final_files))
    for where, files in places:
        if not files:
            continue
        got = Q.rows(f"SELECT * FROM {Q.source(files)} WHERE doc_id = ? LIMIT 1", [doc_id])
        if got:
            return got[0], where
    return None, ""


def history_of(run: Run, doc_id: str | None = None, source_id: str | None = None) -> list[dict[str, Any]]:
    """Ledger rows of a document across every stage, in stage order."""
    files = run.all_ledger_files
    if not files or not (doc_id or source_id):
        return []
    col, val = ("doc_id", doc_id) if doc_id else ("source_id", source_id)
    got = Q.rows(f"SELECT * FROM {Q.source(files, filename=True)} WHERE {col} = ? LIMIT 500", [val])
    for g in got:
        st = stage_of_file(run, g.pop("filename"))
        g["stage_label"] = st.label if st else g.get("stage")
        g["stage_index"] = st.index if st else 999
    got.sort(key=lambda g: g["stage_index"])
    return got


def rows_by_source_id(files: list[str], source_ids: list[str], select: str = "*") -> list[dict[str, Any]]:
    """Rows whose source_id is in `source_ids`, in two steps: find them reading only the source_id and
    doc_id columns, then read the selected columns of just those rows (doc_id is the sort key of every
    shard, so Parquet statistics skip the rest). Reading wide columns for a filter is what makes large runs slow."""
    if not files or not source_ids:
        return []
    marks = ", ".join("?" * len(source_ids))
    found = Q.rows(f"SELECT doc_id, filename FROM {Q.source(files, filename=True)} WHERE source_id IN ({marks})",
                   list(source_ids))
    by_file: dict[str, list[str]] = {}
    for f in found:
        by_file.setdefault(f["filename"], []).append(f["doc_id"])
    if not by_file:
        return []
    # All matching files in one union_by_name read: `select` names columns of the whole file set, and a
    # column missing from one file (a stage that added it later) must read as NULL, not fail the query.
    ids = [i for v in by_file.values() for i in v]
    return Q.rows(f"SELECT {select} FROM {Q.source(files)} WHERE doc_id IN ({', '.join('?' * len(ids))})", ids)
