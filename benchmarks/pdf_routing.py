"""Benchmark of AdaParse-style PDF routing on a mixed set built from held-out real PDFs.

    .venv/bin/python benchmarks/pdf_routing.py                       # 20 documents x <= 3 pages (a few minutes)
    .venv/bin/python benchmarks/pdf_routing.py --docs 200 --pages-per-doc 6 --out runs/pdf_bench.json

The set: documents cut from the PDFs in trainset.HELDOUT (never used to train the shipped router), in kinds
born-digital, image-only (exactly --image-share of the documents), mixed (digital + scanned pages), scans
with an OCR text layer, and garbled text layers. Every page is parsed once by every parser and timed in
CPU-seconds (OCR includes the Tesseract process); strategies are then evaluated on those measured outputs
and costs, so they are compared on identical work:
  cheap-only (pdfium), pypdf-only, expensive-only (tesseract), the router at several alpha (the real gate,
  predictor and budget rule of curation.ingest.pdf.router over the whole set as one batch), and an oracle
  router that knows the measured BLEU and gets the same alpha.
Accuracy per document: CAR, BLEU, word F1 against the pdftotext reference of the original pages.
Throughput: documents per CPU-second of parsing (one core), and CPU-seconds per page.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics as st
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.ingest.pdf.degrade import make_variant, mixed_pdf  # noqa: E402
from curation.ingest.pdf.features import PageStructure, TextStats, text_stats  # noqa: E402
from curation.ingest.pdf.metrics import bleu, car, word_f1  # noqa: E402
from curation.ingest.pdf.predictor import load_model, r2  # noqa: E402
from curation.ingest.pdf.router import BudgetRouter, GateThresholds, validity_gate  # noqa: E402
from curation.ingest.pdf.trainset import HELDOUT, measure, source_pdfs  # noqa: E402

PARSERS = ("pdfium", "pypdf", "tesseract")
MIX = (("digital", 0.65), ("mixed", 0.1), ("ocr_layer", 0.1), ("garbled", 0.15))


@dataclass
class Doc:
    name: str
    kind: str
    pages: list  # PageRecord


def build_set(pdf_dir: str, n_docs: int, pages_per_doc: int, image_share: float, seed: int) -> list[tuple[str, str, bytes, list[str]]]:
    rng = random.Random(seed)
    sources = source_pdfs(pdf_dir, include=HELDOUT)
    if not sources:
        raise SystemExit(f"no held-out PDFs with reference text under {pdf_dir}")
    n_image = round(image_share * n_docs)
    kinds = ["image"] * n_image
    rest = n_docs - n_image
    total_w = sum(w for _, w in MIX)
    for k, w in MIX:
        kinds += [k] * round(rest * w / total_w)
    kinds = (kinds + ["digital"] * n_docs)[:n_docs]
    rng.shuffle(kinds)
    out = []
    for i, kind in enumerate(kinds):
        src = sources[i % len(sources)]
        n = len(src.truths)
        k = min(pages_per_doc, n)
        start = rng.randrange(0, n - k + 1)
        pages = list(range(start + 1, start + k + 1))
        truths = [src.truths[p - 1] for p in pages]
        s = rng.randrange(1 << 30)
        data = mixed_pdf(src.data, pages, truths, seed=s) if kind == "mixed" else make_variant(src.data, kind, pages, truths, seed=s)
        out.append((f"{src.stem}[{pages[0]}-{pages[-1]}]", kind, data, truths))
    return out


def doc_scores(texts: list[str], truths: list[str]) -> dict[str, float]:
    t, g = "\n\n".join(texts), "\n\n".join(truths)
    return {"car": car(t, g), "bleu": bleu(t, g), "word_f1": word_f1(t, g)}


def evaluate(docs: list[Doc], choice: dict[tuple[int, int], str]) -> dict:
    """choice[(doc, page)] = parser; cost = cheap pass on every page + the chosen extra parsers."""
    scores, seconds, pages = [], 0.0, 0
    for di, d in enumerate(docs):
        texts = []
        for r in d.pages:
            p = choice[(di, r.page)]
            texts.append(r.texts[p])
            seconds += r.seconds["pdfium"] + (r.seconds[p] if p != "pdfium" else 0.0)
            pages += 1
        scores.append(doc_scores(texts, [r.truth for r in d.pages]))
    return {k: st.mean(s[k] for s in scores) for k in ("car", "bleu", "word_f1")} | {
        "cpu_s": seconds, "cpu_s_per_page": seconds / max(1, pages), "docs_per_cpu_s": len(docs) / max(1e-9, seconds),
        "expensive_pages": sum(1 for v in choice.values() if v == "tesseract")}


def single(docs: list[Doc], parser: str) -> dict:
    res = evaluate(docs, {(di, r.page): parser for di, d in enumerate(docs) for r in d.pages})
    if parser != "pdfium":  # a single parser does not need the cheap pass: take its cost out again
        cheap = sum(r.seconds["pdfium"] for d in docs for r in d.pages)
        res["cpu_s"] -= cheap
        n = sum(len(d.pages) for d in docs)
        res["cpu_s_per_page"] = res["cpu_s"] / n
        res["docs_per_cpu_s"] = len(docs) / max(1e-9, res["cpu_s"])
    return res


def _stats_struct(r) -> tuple[TextStats, PageStructure]:
    return text_stats(r.texts["pdfium"]), r.structure


def route(docs: list[Doc], alpha: float, model) -> dict[tuple[int, int], str]:
    th = GateThresholds()
    units = [(di, r) for di, d in enumerate(docs) for r in d.pages]
    X = np.array([r.features for _, r in units])
    raw = model.predict(X)
    names = list(PARSERS)
    pred = np.column_stack([raw[:, model.parsers.index(n)] for n in names])
    gates = [validity_gate(*_stats_struct(r), th) for _, r in units]
    router = BudgetRouter(cheap=["pdfium", "pypdf"], expensive="tesseract", alpha=alpha)
    decisions = router.route(pred, names, gates)
    return {(di, r.page): d.parser for (di, r), d in zip(units, decisions, strict=True)}


def oracle(docs: list[Doc], alpha: float) -> dict[tuple[int, int], str]:
    units = [(di, r) for di, d in enumerate(docs) for r in d.pages]
    choice, gains = {}, []
    for di, r in units:
        best_cheap = max(("pdfium", "pypdf"), key=lambda p: r.scores[p]["bleu"])
        choice[(di, r.page)] = best_cheap
        gains.append((r.scores["tesseract"]["bleu"] - r.scores[best_cheap]["bleu"], di, r.page))
    budget = math.floor(alpha * len(units) + 1e-9)
    for g, di, p in sorted(gains, reverse=True)[:budget]:
        if g > 0:
            choice[(di, p)] = "tesseract"
    return choice


def _cache_key(a: argparse.Namespace) -> dict:
    return {"docs": a.docs, "pages_per_doc": a.pages_per_doc, "image_share": a.image_share, "seed": a.seed}


def load_cache(path: str, a: argparse.Namespace) -> list[Doc] | None:
    """Measured pages from an earlier run with the same set parameters (routing is re-evaluated, OCR is not)."""
    from curation.ingest.pdf.trainset import PageRecord

    p = Path(path)
    if not p.exists():
        return None
    d = json.loads(p.read_text())
    if d.get("key") != _cache_key(a):
        return None
    docs = []
    for doc in d["docs"]:
        recs = []
        for r in doc["pages"]:
            rec = PageRecord(doc["name"], doc["kind"], r["page"], r["features"], r["scores"], r["seconds"], r["texts"], r["truth"])
            rec.structure = PageStructure(**r["structure"])
            recs.append(rec)
        docs.append(Doc(doc["name"], doc["kind"], recs))
    print(f"loaded {len(docs)} measured documents from {path}", file=sys.stderr)
    return docs


def save_cache(path: str, a: argparse.Namespace, docs: list[Doc]) -> None:
    from dataclasses import asdict

    out = {"key": _cache_key(a), "docs": [{"name": d.name, "kind": d.kind, "pages": [
        {"page": r.page, "features": r.features, "scores": r.scores, "seconds": r.seconds, "texts": r.texts,
         "truth": r.truth, "structure": asdict(r.structure)} for r in d.pages]} for d in docs]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out))


def measure_set(a: argparse.Namespace, t0: float) -> list[Doc]:
    from curation.ingest.pdf.analysis import analyse

    raw = build_set(a.pdf_dir, a.docs, a.pages_per_doc, a.image_share, a.seed)
    docs = []
    for i, (name, kind, data, truths) in enumerate(raw):
        recs = measure(data, truths, name, kind, PARSERS)
        an = analyse(data)
        for r, s in zip(recs, an.structures, strict=True):
            r.structure = s
        docs.append(Doc(name, kind, recs))
        print(f"[{i + 1}/{len(raw)}] {name} {kind}: {len(recs)} pages measured ({time.time() - t0:.0f} s)", file=sys.stderr)
    return docs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdf-dir", default=str(ROOT.parent / "shared" / "sample_data_ext" / "pdf"))
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--pages-per-doc", type=int, default=3)
    ap.add_argument("--image-share", type=float, default=0.1)
    ap.add_argument("--alphas", default="0.05,0.1,0.2,0.3,0.4")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write all figures as JSON here")
    ap.add_argument("--cache", default=None, help="measured pages (JSON): reused when the set parameters match, "
                    "so another model or alpha is evaluated without OCR-ing again")
    a = ap.parse_args(argv)
    t0 = time.time()
    model = load_model(a.model)
    docs = load_cache(a.cache, a) if a.cache else None
    if docs is None:
        docs = measure_set(a, t0)
        if a.cache:
            save_cache(a.cache, a, docs)
    n_pages = sum(len(d.pages) for d in docs)
    kinds = {k: sum(1 for d in docs if d.kind == k) for k in sorted({d.kind for d in docs})}
    rows = {"cheap-only (pdfium)": single(docs, "pdfium"), "pypdf-only": single(docs, "pypdf"),
            "expensive-only (tesseract)": single(docs, "tesseract")}
    image_reach = {}
    for alpha in [float(x) for x in a.alphas.split(",")]:
        ch = route(docs, alpha, model)
        rows[f"router alpha={alpha:g}"] = evaluate(docs, ch)
        rows[f"oracle alpha={alpha:g}"] = evaluate(docs, oracle(docs, alpha))
        img = [(di, r.page) for di, d in enumerate(docs) if d.kind == "image" for r in d.pages]
        image_reach[alpha] = sum(ch[u] == "tesseract" for u in img) / len(img) if img else float("nan")
    exp = rows["expensive-only (tesseract)"]
    best_single = max(("cheap-only (pdfium)", "pypdf-only", "expensive-only (tesseract)"), key=lambda k: rows[k]["bleu"])
    # predictor quality on these held-out pages
    X = np.array([r.features for d in docs for r in d.pages])
    Y = np.array([[r.scores[p]["bleu"] for p in model.parsers] for d in docs for r in d.pages])
    heldout_r2 = dict(zip(model.parsers, [round(v, 3) for v in r2(model.predict(X), Y)], strict=True))
    per_kind = {}
    main_alpha = 0.2 if 0.2 in image_reach else list(image_reach)[0]
    ch = route(docs, main_alpha, model)
    for k in kinds:
        sub = [i for i, d in enumerate(docs) if d.kind == k]
        sel = [docs[i] for i in sub]
        sub_choice = {(j, p): ch[(i, p)] for j, i in enumerate(sub) for p in [r.page for r in docs[i].pages]}
        per_kind[k] = {"router": evaluate(sel, sub_choice)["bleu"],
                       "pdfium": single(sel, "pdfium")["bleu"], "tesseract": single(sel, "tesseract")["bleu"]}

    print(f"\nPDF routing benchmark: {len(docs)} documents, {n_pages} pages, kinds {kinds}; "
          f"held-out PDFs {', '.join(HELDOUT)}; wall {time.time() - t0:.0f} s (shared machine: timings are noisy)\n")
    print("| strategy | CAR | BLEU | word F1 | OCR pages | CPU-s/page | docs/CPU-s | x expensive-only |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['car']:.3f} | {r['bleu']:.3f} | {r['word_f1']:.3f} | {r['expensive_pages']} | "
              f"{r['cpu_s_per_page']:.3f} | {r['docs_per_cpu_s']:.2f} | {r['docs_per_cpu_s'] / exp['docs_per_cpu_s']:.1f}x |")
    print("\nimage-only pages routed to OCR: " + ", ".join(f"alpha={k:g}: {v:.0%}" for k, v in image_reach.items()))
    print(f"best single parser by BLEU: {best_single} ({rows[best_single]['bleu']:.3f})")
    print(f"predictor R^2 on these held-out pages (BLEU): {heldout_r2}")
    print(f"\nBLEU per kind at alpha={main_alpha:g}: " + "; ".join(
        f"{k}: router {v['router']:.3f} / pdfium {v['pdfium']:.3f} / tesseract {v['tesseract']:.3f}" for k, v in per_kind.items()))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps({"rows": rows, "image_reach": image_reach, "kinds": kinds, "pages": n_pages,
                                           "heldout_r2": heldout_r2, "per_kind": per_kind}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
