"""The two units of parser work that run inside the sandbox process (see sandbox.py).

Kept in their own small module so the child imports little; both return their own CPU-seconds, which
include Tesseract's child processes (that is where OCR spends its time).
"""

from __future__ import annotations

import dataclasses

from curation.stages.ingest.pdf.analysis import analyse, cpu_seconds
from curation.stages.ingest.pdf.parsers import get_parser


def cheap_job(data: bytes, max_pages: int) -> dict:
    """Cheap parse + structure + features of a whole PDF as a plain dict (`DocAnalysis.from_dict` rebuilds it; the
    sandbox passes data, not objects); raises PdfOpenError with a reason code."""
    from curation.stages.ingest.pdf.document import open_pdf

    pdf = open_pdf(data)
    n = len(pdf)
    pdf.close()
    if n > max_pages:
        from curation.stages.ingest.pdf.document import PdfOpenError

        raise PdfOpenError("pdf_too_many_pages", f"{n} pages > ingest.pdf.max_pages={max_pages}")
    return dataclasses.asdict(analyse(data))


def parse_job(name: str, options: dict, data: bytes, pages: list[int]) -> tuple[list[str], float]:
    """Parse `pages` (1-based) with parser `name`; `options` holds http endpoints, costs and OCR settings."""
    t0 = cpu_seconds()
    parser = get_parser(name, options.get("http_parsers"), options.get("costs"))
    for key in ("dpi", "lang"):
        if key in options and hasattr(parser, key):
            setattr(parser, key, options[key])
    texts = parser.parse(data, pages)
    return texts, cpu_seconds() - t0
