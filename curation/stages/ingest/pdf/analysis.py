"""The cheap pass over one PDF: text of every page from the cheap parser, page structure, router features.

Shared by routing, training and the benchmark so the three see exactly the same features.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field

from curation.stages.ingest.pdf.document import open_pdf
from curation.stages.ingest.pdf.features import (
    FEATURES,
    PageStructure,
    feature_dict,
    page_structure,
    text_stats,
)
from curation.stages.ingest.pdf.image_quality import ImageQuality, page_image_quality
from curation.stages.ingest.pdf.parsers import clean_text


def cpu_seconds() -> float:
    """CPU time of this process plus its finished children (Tesseract runs as a child program)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


@dataclass
class DocAnalysis:
    n_pages: int
    producer: str | None
    metadata: dict[str, str]
    texts: list[str]
    structures: list[PageStructure]
    images: list[ImageQuality] = field(default_factory=list)
    """Image-quality features (rendered only for image-dominated pages, see image_quality.py)."""
    features: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0
    """CPU-seconds of the cheap pass (text + structure + features) for the whole document."""

    @classmethod
    def from_dict(cls, d: dict) -> DocAnalysis:
        """Rebuild from `dataclasses.asdict` output (what the sandbox sends back)."""
        return cls(**{**d, "structures": [PageStructure(**s) for s in d["structures"]],
                      "images": [ImageQuality(**i) for i in d.get("images", [])]})

    def gate_inputs(self):
        return [text_stats(t) for t in self.texts]


def analyse(data: bytes, max_pages: int | None = None) -> DocAnalysis:
    """Cheap parse (PDFium text layer) + structure + feature vectors for every page (or the first `max_pages`)."""
    t0 = cpu_seconds()
    pdf = open_pdf(data)
    try:
        n = len(pdf)
        try:
            meta = {k: str(v) for k, v in pdf.get_metadata_dict().items() if v}
        except Exception:
            meta = {}
        producer = meta.get("Producer")
        texts, structures, images = [], [], []
        for i in range(n if max_pages is None else min(n, max_pages)):
            page = pdf[i]
            tp = page.get_textpage()
            texts.append(clean_text(tp.get_text_bounded()))
            tp.close()
            page.close()
            structures.append(page_structure(pdf, i))
            images.append(page_image_quality(pdf, i, structures[-1].image_area_frac))
    finally:
        pdf.close()
    feats = []
    for text, st, im in zip(texts, structures, images, strict=True):
        d = feature_dict(text_stats(text), st, producer, n, im)
        feats.append([d[k] for k in FEATURES])
    return DocAnalysis(n, producer, meta, texts, structures, images, feats, seconds=cpu_seconds() - t0)
