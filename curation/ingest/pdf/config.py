"""Config of the PDF path of `ingest` (nested as `ingest.pdf`)."""

from __future__ import annotations

from dataclasses import dataclass

from curation.config import opt


@dataclass
class PdfConfig:
    enabled: bool = opt(True, "Parse PDF files and PDF records found inside WARC files.")
