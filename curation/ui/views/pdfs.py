"""PDF routing (which parser ran on which page, predicted accuracies) and the blinded A/B labelling view.

Every page count, page text and page image comes from the sandbox child (curation.ui.sandbox), never from
this process; a job that fails or passes its limits becomes a message on the page. The label POST's body
is capped and, on a public server, its token checked, by the request guard before it is read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from curation.ui import pdf as P
from curation.ui import query as Q
from curation.ui import sandbox as S
from curation.ui.context import PAGE_SIZE, UI, NotFound, page_number
from curation.ui.runs import Run

_bytes_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_bytes_lock = threading.Lock()
CACHE_BYTES = 128 * 1024 * 1024  # PDF bytes kept between the A/B page and its image request
_png_cache: OrderedDict[str, bytes] = OrderedDict()  # task id -> page image rendered with the A/B page
PNG_CACHE_BYTES = 64 * 1024 * 1024


def pdf_files(run: Run) -> list[str]:
    """Rows of the source stage (kept and quarantined): where every PDF document first appears."""
    if not run.stages:
        return []
    first = run.stages[0]
    files = first.kept_files + first.rejected_files
    return files if "source_type" in run.columns(files) else []


def pdf_count(run: Run, files: list[str]) -> int:
    return Q.cached("pdf_count", files, lambda: int(Q.scalar(
        f"SELECT count(*) FROM {Q.source(files)} WHERE source_type = 'pdf'") or 0))


def pdf_row(run: Run, doc_id: str) -> dict[str, Any]:
    files = pdf_files(run)
    got = Q.rows(f"SELECT * FROM {Q.source(files)} WHERE doc_id = ? AND source_type = 'pdf' LIMIT 1",
                 [doc_id]) if files else []
    if not got:
        raise NotFound("no such PDF document in this run")
    return got[0]


def cached_bytes(ui: UI, run: Run, row: dict[str, Any]) -> bytes:
    """The PDF's bytes, from a small cache bounded in total size (CACHE_BYTES)."""
    key = (run.key, str(row.get("doc_id")))
    with _bytes_lock:
        if key in _bytes_cache:
            _bytes_cache.move_to_end(key)
            return _bytes_cache[key]
    data = P.pdf_bytes(run, row, ui.roots)
    with _bytes_lock:
        _remember(_bytes_cache, key, data, CACHE_BYTES)
    return data


def _remember(cache: OrderedDict[Any, bytes], key: Any, data: bytes, budget: int) -> None:
    """Put `data` in an LRU cache whose values together stay within `budget` bytes."""
    if len(data) > budget:
        return
    cache[key] = data
    cache.move_to_end(key)
    while sum(len(v) for v in cache.values()) > budget:
        cache.popitem(last=False)


def page_jobs(ui: UI, data: bytes, page: int, parsers: list[str]) -> tuple[list[str], bytes | None, str | None]:
    """The parsers' texts of `page` and its image, made in sandbox children side by side.

    Returns (texts, png or None, why the image failed or None); a parser that fails gives a bracketed note.
    """
    limits = ui.pdf_limits
    with ThreadPoolExecutor(max_workers=len(parsers) + 1) as pool:
        texts = [pool.submit(S.page_text, name, data, page, limits) for name in parsers]
        image = pool.submit(S.page_png, data, page, limits)
        outputs = []
        for fut in texts:
            try:
                outputs.append(P.normalise(fut.result()))
            except S.PdfWorkError as e:  # a parser failing on a page is itself worth labelling
                outputs.append(f"[this parser failed on the page: {e.brief}]")
        try:
            return outputs, image.result(), None
        except S.PdfWorkError as e:
            return outputs, None, str(e)


def router(ui: UI) -> APIRouter:
    r = APIRouter()

    @r.get("/run/{key}/pdf", response_class=HTMLResponse)
    def routing(request: Request, key: str, page: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        files = pdf_files(run)
        p = page_number(page)
        docs, has_next, total = [], False, 0
        if files:
            total = pdf_count(run, files)
            cols = run.columns(files)
            want = [c for c in ("doc_id", "source_id", "decision", "reason", "detail", "token_count", "pdf_pages_json")
                    if c in cols]
            docs, has_next = Q.page(f"SELECT {Q.select_list(want)} FROM {Q.source(files)} WHERE source_type = 'pdf'",
                                    p, PAGE_SIZE)
            for d in docs:
                d["pages"] = P.pages_info(d.pop("pdf_pages_json", None))
                d["score_names"] = sorted({n for pg in d["pages"] for n in pg["scores"]})
        n_labels, recent = P.read_labels(run)
        return ui.page(request, "pdf.html", run=run, active="pdf", docs=docs, total=total, page=p, has_next=has_next,
                       base={}, n_labels=n_labels, recent=recent, parsers=P.parser_names())

    @r.get("/run/{key}/pdf/ab", response_class=HTMLResponse)
    def ab(request: Request, key: str, doc: str | None = None, page: int | None = None,
           saved: str | None = None) -> HTMLResponse:
        run = ui.run(key)
        files = pdf_files(run)
        total = pdf_count(run, files) if files else 0
        if not total:
            return ui.page(request, "ab.html", run=run, active="pdf", task=None, why="no PDF documents in this run")
        if doc:
            row = pdf_row(run, doc)
        else:
            offset = P.rng.randrange(total)
            row = Q.rows(f"SELECT * FROM {Q.source(files)} WHERE source_type = 'pdf' LIMIT 1 OFFSET {offset}")[0]
        try:
            data = cached_bytes(ui, run, row)
            pages = P.pages_info(row.get("pdf_pages_json"))
            n_pages = len(pages) or S.page_count(data, ui.pdf_limits)
        except (OSError, ValueError, RuntimeError, S.PdfWorkError) as e:
            return ui.page(request, "ab.html", run=run, active="pdf", task=None,
                           why=f"{row.get('source_id')}: {e}")
        page_no = page if page and 1 <= page <= n_pages else P.rng.randrange(n_pages) + 1
        used = next((pg["parser"] for pg in pages if pg["page"] == page_no), None)
        tid, task = ui.tasks.new(run.key, str(row.get("source_id")), str(row.get("doc_id")), page_no,
                                 P.parser_names(), used)
        outputs, png, render_error = page_jobs(ui, data, page_no, [task.left, task.right])
        if png is not None:
            with _bytes_lock:
                _remember(_png_cache, tid, png, PNG_CACHE_BYTES)
        n_labels, _ = P.read_labels(run, 0)
        need_token = ui.token is not None and not ui.may_write(request, None)
        return ui.page(request, "ab.html", run=run, active="pdf", task=task, tid=tid, outputs=outputs,
                       n_pages=n_pages, need_token=need_token, saved=saved, n_labels=n_labels, why=None,
                       render_error=render_error)

    @r.get("/run/{key}/pdf/ab/page.png")
    def page_png(request: Request, key: str, task: str) -> Response:
        run = ui.run(key)
        t = ui.tasks.get(task)
        if t is None or t.run != run.key:
            raise NotFound("unknown or finished labelling task")
        with _bytes_lock:
            png = _png_cache.get(task)
        if png is None:
            data = cached_bytes(ui, run, pdf_row(run, t.doc_id))
            try:
                png = S.page_png(data, t.page, ui.pdf_limits)
            except S.PdfWorkError as e:
                return ui.page(request, "error.html", status_code=422, status=422,
                               message=f"this page could not be rendered: {e}")
        return Response(png, media_type="image/png")

    @r.post("/run/{key}/pdf/ab")
    async def record(request: Request, key: str) -> Response:
        run = ui.run(key)
        body = await request.body()  # capped while streaming by the request guard (security.MAX_BODY)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        task, choice, reviewer = form.get("task", ""), form.get("choice", ""), form.get("reviewer")
        if not ui.may_write(request, form.get("token")):
            return ui.page(request, "error.html", status_code=403, status=403,
                           message="writing labels needs the server's token (--token)")
        t = ui.tasks.get(task)
        if t is None or t.run != run.key:
            return ui.page(request, "error.html", status_code=409, status=409,
                           message="this labelling task is unknown or was already answered; load a new one")
        try:
            rec = P.label_record(t, choice, reviewer)
        except ValueError as e:
            return ui.page(request, "error.html", status_code=400, status=400, message=str(e))
        ui.tasks.pop(task)
        with _bytes_lock:
            _png_cache.pop(task, None)
        P.append_label(run, rec)
        return RedirectResponse(f"/run/{run.key}/pdf/ab?saved=1", status_code=303)

    return r
