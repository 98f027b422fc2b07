"""Opening a PDF: PDFium with failures mapped to stable quarantine reasons, and page selection.

Parsers, the page renderer and the UI all open PDFs through here (1-based page numbers everywhere).
"""

from __future__ import annotations

import io


class PdfOpenError(Exception):
    """The PDF cannot be opened at all; `reason` is a stable quarantine code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _classify_failure(data: bytes) -> str:
    """Why PDFium refused a file. PDFium's last-error code is process-global and goes stale, and it refuses
    zero-page files outright, so a second opinion from pypdf decides between encrypted, zero pages, corrupt."""
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return "pdf_encrypted"
            except Exception:
                return "pdf_encrypted"
        if len(reader.pages) == 0:
            return "pdf_zero_pages"
    except Exception:
        pass
    return "pdf_corrupt"


def open_pdf(data: bytes):
    """Open PDF bytes with PDFium, mapping failures to quarantine reasons (encrypted, corrupt, zero pages)."""
    import pypdfium2 as pdfium

    if not data:
        raise PdfOpenError("pdf_empty_file", "no bytes")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise PdfOpenError(_classify_failure(data), str(e)) from e
    if len(pdf) == 0:
        pdf.close()
        raise PdfOpenError("pdf_zero_pages", "the document has no pages")
    return pdf


def page_indices(n_pages: int, pages: list[int] | None) -> list[int]:
    """0-based indices for 1-based `pages` (all when None); out-of-range pages are an error, not a skip."""
    if pages is None:
        return list(range(n_pages))
    bad = [p for p in pages if not 1 <= p <= n_pages]
    if bad:
        raise ValueError(f"page(s) {bad} out of range 1..{n_pages}")
    return [p - 1 for p in pages]
