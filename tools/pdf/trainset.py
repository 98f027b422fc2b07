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

from curation.stages.ingest.pdf.analysis import analyse, cpu_seconds
from curation.stages.ingest.pdf.metrics import page_scores, reference_pages
from curation.stages.ingest.pdf.parsers import get_parser
from tools.pdf.degrade import make_variant, mixed_pdf

HELDOUT = ("elstest-5p", "multivar", "paper", "topology-hw-1", "l3news12", "quantum-template")
TRAIN_KINDS = ("digital", "image", "scan", "ocr_layer", "garbled", "garbled")
DEFAULT_PARSERS = ("pdfium", "pypdf", "tesseract")


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
    origin: str = "real"
    """"real": a page of a real PDF (truth = pdftotext reference); "synth": typeset by synth.py (exact truth)."""

    def to_json(self, with_texts: bool = False) -> str:
        d = {"pdf": self.pdf, "kind": self.kind, "page": self.page, "origin": self.origin,
             "features": [round(x, 5) for x in self.features],
             "scores": {p: {k: round(v, 4) for k, v in s.items()} for p, s in self.scores.items()},
             "seconds": {p: round(v, 4) for p, v in self.seconds.items()}}
        if with_texts:
            d["texts"], d["truth"] = self.texts, self.truth
        return json.dumps(d)


def measure(data: bytes, truths: list[str], name: str, kind: str,
            parsers: tuple[str, ...] = DEFAULT_PARSERS, origin: str = "real") -> list[PageRecord]:
    """Every page of `data` parsed by every parser, timed (CPU-seconds) and scored against `truths`."""
    a = analyse(data)
    recs = [PageRecord(name, kind, i + 1, a.features[i], truth=truths[i], origin=origin) for i in range(a.n_pages)]
    for r, s in zip(recs, a.structures, strict=True):
        r.structure = s  # type: ignore[attr-defined]
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


def _rematch(by_key: dict[tuple, list[dict]], seen: dict[tuple, int], key: tuple, feats: list[float],
             seconds: float) -> bool:
    """Give the next measured row with `key` the recomputed features, after checking the shared prefix agrees."""
    k = seen.get(key, 0)
    seen[key] = k + 1
    old = by_key.get(key, [])
    if k >= len(old):
        return False
    row = old[k]
    diff = identity_diff(row["features"], feats)
    if diff > 1e-3:
        raise ValueError(f"{key}: rebuilt variant differs from the measured one (feature diff {diff:.4f})")
    row["features"] = [round(x, 5) for x in feats]
    row["seconds"]["pdfium"] = round(seconds, 4)
    return True


def identity_diff(old: list[float], new: list[float]) -> float:
    """Largest difference between two feature vectors of (supposedly) the same page over the features that
    identify it — text statistics and structure, not the image-quality estimates (whose implementation may be
    what changed). Vectors of an older, shorter feature list are compared on their common prefix."""
    from curation.stages.ingest.pdf.features import FEATURES

    n = min(len(old), len(new))
    return max((abs(old[i] - new[i]) for i in range(n) if not FEATURES[i].startswith("img_")), default=0.0)


def refeature_rows(pdf_dir: str | Path, rows_path: str | Path, out_path: str | Path, pages_per_pdf: int = 3,
                   seed: int = 0, exclude: tuple[str, ...] = HELDOUT, synth_texts: int = 0, synth_pages: int = 2,
                   log=print) -> int:
    """Recompute the features (and the cheap pass's CPU-seconds) of rows written by `build_training_rows` and
    `build_synth_rows` (called with the same arguments).

    The variants are deterministic given the arguments, so they are rebuilt in the same order and only the
    cheap pass runs again; the measured per-parser scores and the expensive parsers' seconds are kept. Rows
    are matched by (pdf, kind, page, occurrence) and the shared leading features must agree, so a row can
    never get another page's features. Rows that were not rebuilt keep their old features (and are then
    skipped by training when the feature count changed).
    """
    rows = [json.loads(ln) for ln in Path(rows_path).read_text().splitlines() if ln.strip()]
    by_key: dict[str, dict[tuple, list[dict]]] = {"real": {}, "synth": {}}
    for r in rows:
        r.setdefault("origin", "real")
        by_key[r["origin"]].setdefault((r["pdf"], r["kind"], r["page"]), []).append(r)
    seen: dict[tuple, int] = {}
    done = 0
    for src in source_pdfs(pdf_dir, exclude=exclude):
        for kind, data, _ in variants(src, pages_per_pdf, seed):
            a = analyse(data)
            for i, feats in enumerate(a.features):
                done += _rematch(by_key["real"], seen, (src.stem, kind, i + 1), feats, a.seconds / max(1, a.n_pages))
            log(f"{src.stem} {kind}: {done} rows re-featured")
    seen = {}
    for text_id, kind, data, _ in synth_documents(synth_texts, synth_pages, seed, exclude):
        a = analyse(data)
        for i, feats in enumerate(a.features):
            done += _rematch(by_key["synth"], seen, (synth_group(text_id), kind, i + 1), feats,
                             a.seconds / max(1, a.n_pages))
        log(f"synth {text_id} {kind}: {done} rows re-featured")
    Path(out_path).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return done


SYNTH_KINDS = ("digital", "image", "scan", "ocr_layer", "garbled", "garbled", "mixed")


def synth_variant(text: str, kind: str, rng: random.Random, max_pages: int) -> tuple[bytes, list[str]]:
    """A typeset born-digital PDF of `text` (synth.py) turned into variant `kind`, with exact page truths."""
    from tools.pdf.synth import synth_pdf

    data, truths = synth_pdf(text, rng, max_pages=max_pages)
    pages = list(range(1, len(truths) + 1))
    if kind == "digital":
        return data, truths
    if kind == "mixed":
        return mixed_pdf(data, pages, truths, seed=rng.randrange(1 << 30)), truths
    return make_variant(data, kind, pages, truths, seed=rng.randrange(1 << 30)), truths


def synth_group(source_id: str) -> str:
    """Cross-validation group of a source text: texts cut from the same real PDF form one group."""
    import re

    m = re.match(r"pdftext/(.+?)\.pdf#", source_id)
    return m.group(1) if m else source_id


def synth_documents(n_sources: int, max_pages: int, seed: int, heldout: tuple[str, ...],
                    texts_path: str | Path | None = None) -> Iterator[tuple[str, str, bytes, list[str]]]:
    """(text id, kind, pdf bytes, page truths) for typeset PDFs of training-split texts, one kind per text."""
    from tools.pdf.synth import DEFAULT_TEXTS, load_texts, split_of

    texts = [t for t in load_texts(texts_path or DEFAULT_TEXTS) if split_of(t.id, heldout) == "train"]
    rng = random.Random(seed)
    rng.shuffle(texts)
    for i, t in enumerate(texts[:n_sources]):
        kind = SYNTH_KINDS[i % len(SYNTH_KINDS)]
        data, truths = synth_variant(t.text, kind, rng, max_pages)
        yield t.id, kind, data, truths


def build_synth_rows(out_path: str | Path, n_sources: int = 177, max_pages: int = 2, seed: int = 0,
                     heldout: tuple[str, ...] = HELDOUT, texts_path: str | Path | None = None, log=print,
                     skip: int = 0) -> int:
    """Append rows for typeset PDFs of training-split texts (synth.split_of), one variant kind per text.

    `skip`: the first `skip` documents are generated but not measured (they are already in `out_path` from a
    run with a smaller `n_sources`); the rest is then identical to a full run with `n_sources`."""
    n = 0
    with Path(out_path).open("a") as fh:
        for i, (text_id, kind, data, truths) in enumerate(synth_documents(n_sources, max_pages, seed, heldout,
                                                                          texts_path)):
            if i < skip:
                continue
            for r in measure(data, truths, synth_group(text_id), kind, origin="synth"):
                fh.write(r.to_json() + "\n")
                n += 1
            fh.flush()
            log(f"synth {text_id} {kind}: {n} pages so far")
    return n
