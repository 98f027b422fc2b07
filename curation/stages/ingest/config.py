"""Config of the `ingest` stage (section `ingest`), with the PDF path nested as `ingest.pdf`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from curation.engine.options import opt
from curation.stages.ingest.pdf.config import PdfConfig


@dataclass
class IngestConfig:
    extractor: Literal["resiliparse", "trafilatura", "router"] = opt(
        "resiliparse", "HTML to text: resiliparse (fast main-content, default), trafilatura (accurate, ~10x slower), "
        "or router (resiliparse everywhere; trafilatura for the pages a cheap signal ranks worst, within router_budget).")
    router_budget: float = opt(
        0.2, "Router: at most this share of HTML pages (per window of 32 pages, credit carried over) is re-extracted "
        "with trafilatura, the ones whose resiliparse output looks worst (AdaParse's alpha: bounds the extra cost).")
    router_threshold: float = opt(
        0.05, "Router: a page is eligible for re-extraction only when more than this share of resiliparse's output "
        "characters sit in short lines (< 6 words), i.e. some navigation/boilerplate came through.")
    extract_timeout_s: float = opt(
        10.0, "Per-page time limit for HTML extraction: this many seconds of the extraction worker's CPU time (whole "
        "seconds, rounded up), or 3x it in wall-clock time; the worker is then killed and restarted and the page "
        "quarantined as extract_timeout. 0 extracts in-process with no limit.")
    max_record_bytes: int = opt(
        50_000_000, "WARC/ARC records with a larger block are skipped unread and quarantined as too_large.")
    max_html_bytes: int = opt(
        10_000_000, "HTML payloads (after HTTP decoding) larger than this are quarantined as too_large before extraction.")
    min_text_chars: int = opt(1, "Pages whose extracted text has fewer characters are dropped as empty_extraction.")
    keep_http_errors: bool = opt(False, "Extract non-2xx HTTP responses too (default: dropped as http_status).")
    url_blocklist: list[str] = opt(
        [], "Blocked URLs: a domain (blocks it and its subdomains) or `re:<regex>` matched against the full URL; "
        "blocked records are dropped as blocklisted_url before extraction.")
    url_blocklist_file: str | None = opt(None, "A file with more blocklist entries, one per line (# comments allowed).")
    dedup_urls: bool = opt(True, "Exact URL dedup within a run: of several kept pages with the same URL the latest crawl "
                           "is kept, the others are dropped as duplicate_url with related_id = the kept one's source_id.")
    html_suffixes: list[str] = opt([".html", ".htm", ".xhtml", ".html.gz", ".htm.gz"],
                                   "File suffixes read as single HTML pages.")
    html_files_per_task: int = opt(64, "Single HTML page files are read this many to a Spark task (archives: one per task).")
    pdf: PdfConfig = field(default_factory=PdfConfig, metadata={"doc": "PDF parsing and routing"})

    def validate(self) -> None:
        if not 0.0 <= self.router_budget <= 1.0:
            raise ValueError(f"router_budget must be in [0, 1], got {self.router_budget}")
        if not 0.0 <= self.router_threshold <= 1.0:
            raise ValueError(f"router_threshold must be in [0, 1], got {self.router_threshold}")
        if self.html_files_per_task < 1:
            raise ValueError(f"html_files_per_task must be >= 1, got {self.html_files_per_task}")
        if self.max_record_bytes <= 0 or self.max_html_bytes <= 0:
            raise ValueError("max_record_bytes and max_html_bytes must be positive")
        for entry in self.url_blocklist:
            if entry.startswith("re:"):
                try:
                    re.compile(entry[3:])
                except re.error as e:
                    raise ValueError(f"url_blocklist entry {entry!r} is not a valid regex: {e}") from None
        if self.url_blocklist_file is not None:
            from pathlib import Path

            if not Path(self.url_blocklist_file).is_file():
                raise FileNotFoundError(f"url_blocklist_file not found: {self.url_blocklist_file}")


SECTION = IngestConfig
