"""Router training data: pages with known text, in born-digital and degraded variants, scored per parser.

Truth: the born-digital PDFs of `sample_data_ext/pdf` come with `pdftotext` output (pages split by form feed).
That is a regression reference, not human ground truth (reading order of multi-column pages and math differ
between extractors), which is one reason the router's regression target is BLEU (tolerant of block order)
rather than CAR. Every variant of a page keeps the original page's text as truth.

PDFs listed in HELDOUT are never used for training: the benchmark evaluates on them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curation.ingest.pdf.analysis import analyse, cpu_seconds
from curation.ingest.pdf.degrade import make_variant, mixed_pdf
from curation.ingest.pdf.metrics import page_scores
from curation.ingest.pdf.parsers import get_parser

HELDOUT = ("elstest-5p", "multivar", "paper", "topology-hw-1", "l3news12", "quantum-template")
TRAIN_KINDS = ("digital", "image", "scan", "ocr_layer", "garbled", "garbled")
DEFAULT_PARSERS = ("pdfium", "pypdf", "tesseract")


def reference_pages(path: str | Path) -> list[str]:
    """Page texts of a pdftotext output file (pages end with a form feed)."""
    pages = Path(path).read_text(encoding="utf-8", errors="replace").split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return pages


@dataclass
class SourcePdf:
    stem: str
    data: bytes
    truths: list[str]


def source_pdfs(pdf_dir: str | Path, include: tuple[str, ...] | None = None,
                exclude: tuple[str, ...] = ()) -> list[SourcePdf]:
    """Born-digital PDFs with reference text: `<dir>/files/X.pdf` + `<dir>/reference_text_pdftotext/X.txt`."""
    root = Path(pdf_dir)
    out = []
    for f in sorted((root / "files").glob("*.pdf")):
        ref = root / "reference_text_pdftotext" / f"{f.stem}.txt"
        if not ref.exists() or f.stem in exclude or (include is not None and f.stem not in include):
            continue
        out.append(SourcePdf(f.stem, f.read_bytes(), reference_pages(ref)))
    return out


@dataclass
class PageRecord:
    pdf: str
    kind: str
    page: int
    features: list[float]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    truth: str = ""

    def to_json(self, with_texts: bool = False) -> str:
        d = {"pdf": self.pdf, "kind": self.kind, "page": self.page, "features": [round(x, 5) for x in self.features],
             "scores": {p: {k: round(v, 4) for k, v in s.items()} for p, s in self.scores.items()},
             "seconds": {p: round(v, 4) for p, v in self.seconds.items()}}
        if with_texts:
            d["texts"], d["truth"] = self.texts, self.truth
        return json.dumps(d)


def measure(data: bytes, truths: list[str], name: str, kind: str,
            parsers: tuple[str, ...] = DEFAULT_PARSERS) -> list[PageRecord]:
    """Every page of `data` parsed by every parser, timed (CPU-seconds) and scored against `truths`."""
    a = analyse(data)
    recs = [PageRecord(name, kind, i + 1, a.features[i], truth=truths[i]) for i in range(a.n_pages)]
    cheap_per_page = a.seconds / max(1, a.n_pages)
    for pname in parsers:
        parser = get_parser(pname)
        for r in recs:
            t0 = cpu_seconds()
            text = a.texts[r.page - 1] if pname == "pdfium" else parser.parse(data, [r.page])[0]
            dt = cheap_per_page if pname == "pdfium" else cpu_seconds() - t0
            r.texts[pname], r.seconds[pname] = text, dt
            r.scores[pname] = page_scores(text, r.truth)
    return recs


def variants(src: SourcePdf, pages_per_pdf: int, seed: int,
             kinds: tuple[str, ...] = TRAIN_KINDS) -> Iterator[tuple[str, bytes, list[str]]]:
    """(kind, pdf bytes, page truths) for a spread of pages of one source PDF, one variant per kind."""
    rng = random.Random(f"{src.stem}:{seed}")
    n = len(src.truths)
    for k, kind in enumerate(kinds):
        pages = sorted(rng.sample(range(1, n + 1), min(pages_per_pdf, n)))
        truths = [src.truths[p - 1] for p in pages]
        if kind == "mixed":
            yield kind, mixed_pdf(src.data, pages, truths, seed=seed + k), truths
        else:
            yield kind, make_variant(src.data, kind, pages, truths, seed=rng.randrange(1 << 30)), truths


def build_training_rows(pdf_dir: str | Path, out_path: str | Path, pages_per_pdf: int = 3, seed: int = 0,
                        exclude: tuple[str, ...] = HELDOUT, log=print) -> int:
    """Write one JSON line per (source page, variant) with features, per-parser scores and seconds."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w") as fh:
        for src in source_pdfs(pdf_dir, exclude=exclude):
            for kind, data, truths in variants(src, pages_per_pdf, seed):
                for r in measure(data, truths, src.stem, kind):
                    fh.write(r.to_json() + "\n")
                    n += 1
                fh.flush()
                log(f"{src.stem} {kind}: {n} pages so far")
    return n
