"""Render PDF pages to images (PDFium): input of the OCR parser and of the web UI's side-by-side view."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def render_page_image(data: bytes, page: int, dpi: int = 150, grey: bool = False) -> Image.Image:
    """Page `page` (1-based) of the PDF as a PIL image at `dpi`."""
    from curation.stages.ingest.pdf.document import open_pdf, page_indices

    pdf = open_pdf(data)
    try:
        (i,) = page_indices(len(pdf), [page])
        p = pdf[i]
        bitmap = p.render(scale=dpi / 72.0, grayscale=grey)
        img = bitmap.to_pil()
        p.close()
        return img.convert("L" if grey else "RGB")
    finally:
        pdf.close()


def render_page_png(data: bytes, page: int, dpi: int = 100) -> bytes:
    """Page `page` (1-based) as PNG bytes (what the UI shows next to two parsers' texts)."""
    buf = io.BytesIO()
    render_page_image(data, page, dpi=dpi).save(buf, format="PNG", optimize=False)
    return buf.getvalue()
