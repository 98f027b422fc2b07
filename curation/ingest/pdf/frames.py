"""Entry point the `ingest` stage calls for PDFs (files, and PDF payloads found inside WARC records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from curation.ingest.pdf.config import PdfConfig
    from curation.stages.base import StageContext


def pdf_documents(ctx: StageContext, cfg: PdfConfig, frame: DataFrame) -> DataFrame:
    """Parse PDFs into documents.

    `frame` has one row per PDF with columns: source (string), source_id (string), url (string, nullable),
    crawl_date (timestamp, nullable), path (string, nullable: a PDF file to read) and content (binary,
    nullable: the PDF bytes, for PDFs from WARC records). Returns rows in the reader schema
    (curation.io.readers.reader_schema(): core document columns + decision columns) plus the PDF signal
    columns declared in schemas/signals/pdf.json; every input PDF yields exactly one row (kept, or
    quarantined with a reason).
    """
    raise NotImplementedError("PDF ingestion is not built yet")
