"""One web input file (WARC/WET/ARC or an HTML page) to document rows: one row per record, always.

This is the function each Spark task runs on its file (streaming, bounded memory), and what the fuzz
test calls in-process. Every framed record and every damaged region becomes exactly one row: kept,
dropped (non_response, not_html, http_status, blocklisted_url, empty_extraction, pdf_*) or quarantined
(truncated_record, corrupt_gzip, too_large, extract_timeout, ...). PDF payloads come out as rows with
`pdf_content` set; the stage hands them to the PDF path.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa

from curation import schema as S
from curation.ids import doc_id
from curation.io import fs
from curation.io.readers import RecordBuilder, domain_of, parse_date
from curation.stages.ingest.config import IngestConfig
from curation.stages.ingest.web.blocklist import UrlBlocklist
from curation.stages.ingest.web.extract import Extraction
from curation.stages.ingest.web.http import charset_param, parse_response
from curation.stages.ingest.web.sandbox import Extractor, ExtractTimeout
from curation.stages.ingest.web.warc import _ARC_LINE as ARC_LINE
from curation.stages.ingest.web.warc import GZIP_MAGIC, Corrupt, RawRecord, iter_records
from curation.text.tokens import approx_token_count

PDF_CONTENT = "pdf_content"
"""Internal column: PDF bytes found in a WARC record (dropped by the stage after the PDF path ran)."""
HTML_MIMES = {"text/html", "application/xhtml+xml", "application/xml+xhtml", "text/xhtml"}
CONTENT_TYPES = ("response", "resource", "conversion")


@cache
def web_schema() -> pa.Schema:
    """Reader schema + the ingest signal columns + the internal pdf_content column."""
    base = S.decided_schema(S.core_document_schema())
    spec = next((s for s in S.signal_specs() if s["name"] == "ingest"), None)
    extra = S._fields(spec, force_nullable=True) if spec else []
    names = set(base.names)
    fields = [*base, *[f for f in extra if f.name not in names], pa.field(PDF_CONTENT, pa.binary())]
    return pa.schema(fields, metadata=base.metadata)


class _Rows(RecordBuilder):
    def __init__(self, batch_size: int):
        super().__init__(batch_size)
        self.schema = web_schema()


def is_html_path(path: str, cfg: IngestConfig) -> bool:
    return path.lower().endswith(tuple(s.lower() for s in cfg.html_suffixes))


def _looks_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in head[:512]


def _looks_pdf(body: bytes, mime: str) -> bool:
    return mime == "application/pdf" or body[:1024].lstrip().startswith(b"%PDF-")


def _record_id(headers: dict[str, str]) -> str | None:
    rid = headers.get("warc-record-id")
    return rid.strip().strip("<>") if rid else None


@dataclass
class _Job:
    """An HTML page waiting for extraction (rows keep their order: jobs sit in the row queue)."""

    position: str
    source_type: str
    body: bytes
    """The HTML payload as read: the extractor worker detects the charset and decodes it."""
    http_charset: str | None
    fields: dict[str, Any]


class WebReader:
    """Turns records into rows; holds the extractor worker and the blocklist for one file.

    Rows are queued and pages are extracted a window at a time (`WINDOW_PAGES` / `WINDOW_BYTES`) so the
    extractor worker gets them pipelined; memory stays bounded by the window.
    """

    WINDOW_PAGES = 32
    WINDOW_BYTES = 16 << 20

    def __init__(self, path: str, cfg: IngestConfig, batch_size: int, extractor: Extractor):
        self.path = path
        self.cfg = cfg
        self.out = _Rows(batch_size)
        self.extract = extractor
        self.blocklist = UrlBlocklist(cfg.url_blocklist, cfg.url_blocklist_file)
        self.queue: list[dict[str, Any] | _Job] = []
        self.jobs = 0
        self.job_bytes = 0

    def _kwargs(self, position: str, source_type: str, decision: str, reason: str | None, detail: str | None,
                content: bytes | str | None, **fields: Any) -> dict[str, Any]:
        text = fields.get("text")
        url = fields.get("url")
        return dict(
            doc_id=doc_id(self.path, position, text if text is not None else (content if content is not None else reason)),
            source_id=fields.pop("source_id", None) or f"{self.path}@{position}",
            source=self.path,
            source_type=source_type,
            domain=domain_of(url),
            token_count=approx_token_count(text),
            decision=decision,
            reason=reason,
            related_id=None,
            detail=detail[:2000] if detail else None,
            **fields,
        )

    def row(self, position: str, source_type: str, decision: str, reason: str | None, detail: str | None,
            content: bytes | str | None, **fields: Any) -> Iterator[pa.RecordBatch]:
        self.queue.append(self._kwargs(position, source_type, decision, reason, detail, content, **fields))
        yield from self._maybe_flush()

    def _maybe_flush(self) -> Iterator[pa.RecordBatch]:
        if (self.jobs >= self.WINDOW_PAGES or self.job_bytes >= self.WINDOW_BYTES
                or len(self.queue) >= self.out.batch_size):
            yield from self.flush()

    def flush(self) -> Iterator[pa.RecordBatch]:
        queue, self.queue = self.queue, []
        jobs = [q for q in queue if isinstance(q, _Job)]
        self.jobs = self.job_bytes = 0
        results = iter(self.extract.run_window([(j.body, j.fields.get("url"), j.http_charset) for j in jobs])
                       if jobs else ())
        for item in queue:
            if isinstance(item, _Job):
                yield from self.out.add(**self._job_row(item, next(results)))
            else:
                yield from self.out.add(**item)

    # -- HTML payload -> text ---------------------------------------------------------------------
    def html_row(self, position: str, source_type: str, body: bytes, http_charset: str | None,
                 **fields: Any) -> Iterator[pa.RecordBatch]:
        fields["html_bytes"] = len(body)
        if len(body) > self.cfg.max_html_bytes:
            yield from self.row(position, source_type, S.QUARANTINED, "too_large",
                                f"HTML payload of {len(body)} bytes > ingest.max_html_bytes={self.cfg.max_html_bytes}",
                                body[:4096], **fields)
            return
        self.queue.append(_Job(position, source_type, body, http_charset, fields))
        self.jobs += 1
        self.job_bytes += len(body)
        yield from self._maybe_flush()

    def _job_row(self, job: _Job, result: Extraction | Exception) -> dict[str, Any]:
        fields = dict(job.fields)
        note = fields.pop("detail_note", None)
        head = job.body[:4096]
        if isinstance(result, ExtractTimeout):
            return self._kwargs(job.position, job.source_type, S.QUARANTINED, "extract_timeout", str(result), head, **fields)
        if isinstance(result, Exception):
            return self._kwargs(job.position, job.source_type, S.QUARANTINED, "extract_error", str(result), head, **fields)
        fields.update(html_extract_ms=result.ms, html_extractor=result.extractor, html_route_score=result.route_score,
                      html_charset=result.charset, html_charset_source=result.charset_source)
        text = result.text.strip()
        if len(text) < self.cfg.min_text_chars:
            return self._kwargs(job.position, job.source_type, S.DROPPED, "empty_extraction",
                                f"{result.extractor} extracted {len(text)} characters from {len(job.body)} bytes of HTML",
                                head, **fields)
        return self._kwargs(job.position, job.source_type, S.KEPT, None, note, None, text=text, **fields)

    # -- one framed record ------------------------------------------------------------------------
    def record(self, rec: RawRecord) -> Iterator[pa.RecordBatch]:
        h = rec.headers
        rtype = rec.record_type
        source_type = "arc" if rec.kind == "arc" else ("wet" if rtype == "conversion" else "warc")
        url = h.get("warc-target-uri", "").strip().strip("<>") or None
        fields: dict[str, Any] = dict(source_id=_record_id(h), url=url, crawl_date=parse_date(h.get("warc-date")),
                                      warc_type=rtype or None)
        pos = rec.position
        head = f"{rtype or 'untyped'} record at {pos}"
        if rec.problem:
            yield from self.row(pos, source_type, S.QUARANTINED, rec.problem, f"{head}: {rec.detail}",
                                (rec.block or b"")[:4096], **fields)
            return
        block = rec.block or b""
        if rtype not in CONTENT_TYPES:
            yield from self.row(pos, source_type, S.DROPPED, "non_response", f"{head} carries no page", block[:4096], **fields)
            return
        hit = self.blocklist.match(url) if self.blocklist else None
        if hit:
            yield from self.row(pos, source_type, S.DROPPED, "blocklisted_url", f"{url} matches blocklist entry {hit}",
                                block[:4096], **fields)
            return
        if rtype == "conversion":  # WET: Common Crawl's own extracted text
            text = block.decode("utf-8", "replace").strip()
            fields.update(http_content_type=h.get("content-type"), html_extractor="wet")
            if len(text) < self.cfg.min_text_chars:
                yield from self.row(pos, source_type, S.DROPPED, "empty_extraction", f"{head}: empty text", block, **fields)
            else:
                yield from self.row(pos, source_type, S.KEPT, None, None, None, text=text, **fields)
            return
        http_charset = None
        content_type = h.get("content-type", "")
        is_http = rtype == "response" and (rec.kind == "arc" or "application/http" in content_type.lower()
                                           or block.startswith(b"HTTP/"))
        if is_http:
            resp = parse_response(block, self.cfg.max_html_bytes + 1)
            if resp.problem == "bad_http_header":
                yield from self.row(pos, source_type, S.QUARANTINED, "bad_http", f"{head}: no parseable HTTP header",
                                    block[:4096], **fields)
                return
            fields["http_status"] = resp.status
            mime, body, http_charset = resp.mime, resp.body, resp.charset
            if resp.problem in ("bad_content_encoding", "unsupported_content_encoding"):
                yield from self.row(pos, source_type, S.QUARANTINED, resp.problem,
                                    f"{head}: Content-Encoding {resp.headers.get('content-encoding')!r} could not be decoded",
                                    block[:4096], **fields)
                return
            if resp.status is not None and not 200 <= resp.status < 300 and not self.cfg.keep_http_errors:
                yield from self.row(pos, source_type, S.DROPPED, "http_status", f"{head}: HTTP {resp.status}",
                                    block[:4096], **fields)
                return
        else:
            mime = content_type.split(";", 1)[0].strip().lower()
            body = block
            http_charset = charset_param(content_type)
        ident = h.get("warc-identified-payload-type", "").lower()
        fields["http_content_type"] = mime or ident or None
        if _looks_pdf(body, mime):
            fields[PDF_CONTENT] = body
            yield from self.row(pos, source_type, S.KEPT, "pdf", f"{head}: PDF payload for the PDF path", body[:4096],
                                **fields)
            return
        if not (mime in HTML_MIMES or ident in HTML_MIMES or (mime in ("", "application/octet-stream", "text/plain")
                                                              and _looks_html(body))):
            yield from self.row(pos, source_type, S.DROPPED, "not_html", f"{head}: payload is {mime or 'untyped'}",
                                body[:4096], **fields)
            return
        if h.get("warc-truncated"):
            # The crawler cut the payload (Common Crawl: 1 MiB); the start of a page is still text, keep it.
            fields["detail_note"] = f"payload truncated by the crawler (WARC-Truncated: {h['warc-truncated']})"
        yield from self.html_row(pos, source_type, body, http_charset, **fields)

    def corrupt(self, c: Corrupt) -> Iterator[pa.RecordBatch]:
        ids = c.record_ids
        detail = c.detail + (f"; record ids seen in the damaged region: {', '.join(ids[:20])}" if ids else "")
        yield from self.row(c.position, "warc", S.QUARANTINED, c.reason, detail, c.detail,
                            source_id=ids[0].strip("<>") if ids else None)

    # -- files ------------------------------------------------------------------------------------
    def read_archive(self) -> Iterator[pa.RecordBatch]:
        items = 0
        try:
            with _open_random_access(self.path) as raw:
                head = raw.read(1 << 16)
                raw.seek(0)
                if head and not looks_like_archive(head):
                    yield from self.row("file", "unknown", S.QUARANTINED, "unsupported_format",
                                        "not a WARC/WET/ARC file (plain or gzip), HTML page, PDF, JSONL or Parquet: "
                                        f"starts with {head[:40]!r}", head[:4096])
                    return
                for item in iter_records(raw, self.cfg.max_record_bytes):
                    items += 1
                    if isinstance(item, Corrupt):
                        yield from self.corrupt(item)
                        continue
                    try:
                        yield from self.record(item)
                    except Exception as e:  # one record's bug costs one row, never the rest of the archive
                        yield from self.row(item.position, item.kind,
                                            S.QUARANTINED, "record_error", f"{type(e).__name__}: {e}"[:500], None)
        except OSError as e:  # unreadable file: one row says so
            yield from self.row("file", "warc", S.QUARANTINED, "read_error", f"{type(e).__name__}: {e} after {items} records",
                                None)
        if items == 0:
            yield from self.row("file", "warc", S.QUARANTINED, "empty_file", "no WARC/ARC record found in the file", None)

    def read_html(self) -> Iterator[pa.RecordBatch]:
        fields: dict[str, Any] = dict(source_id=self.path, url=None, crawl_date=None)
        try:
            with _open_random_access(self.path) as f:  # raw bytes: pyarrow streams would gunzip by suffix
                data = f.read(self.cfg.max_html_bytes + 1)
            if self.path.lower().endswith(".gz"):
                d = zlib.decompressobj(31)
                data = d.decompress(data, self.cfg.max_html_bytes + 1)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            yield from self.row("file", "html", S.QUARANTINED, "read_error", f"{type(e).__name__}: {e}", None, **fields)
            return
        yield from self.html_row("file", "html", data, None, **fields)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if is_html_path(self.path, self.cfg):
            yield from self.read_html()
        else:
            yield from self.read_archive()
        yield from self.flush()
        yield from self.out.drain()


def looks_like_archive(head: bytes) -> bool:
    """gzip data, or a WARC/ARC header near the start (lenient: damaged files still go to the framing)."""
    return GZIP_MAGIC in head or b"WARC/" in head or bool(ARC_LINE.match(head.split(b"\n", 1)[0] + b"\n"))


class _open_random_access:
    """A seekable binary file for a local path or a Hadoop-style URI (resync needs seeks)."""

    def __init__(self, path: str):
        self.path = path
        self.f: Any = None

    def __enter__(self) -> Any:
        if fs.is_uri(self.path):
            fsys, p = fs.resolve(self.path)
            self.f = fsys.open_input_file(p)
        else:
            self.f = open(self.path, "rb")
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def read_web_file(path: str, cfg: IngestConfig, batch_size: int = 1000,
                  extractor: Extractor | None = None) -> Iterator[pa.RecordBatch]:
    """All rows of one web input file; creates (and reaps) its own extractor worker unless one is given."""
    if extractor is not None:
        yield from WebReader(path, cfg, batch_size, extractor)
        return
    with Extractor(cfg.extractor, cfg.extract_timeout_s, cfg.router_threshold, router_budget=cfg.router_budget) as ex:
        yield from WebReader(path, cfg, batch_size, ex)
