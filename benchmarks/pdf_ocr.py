"""OCR engines and their settings on dense real pages turned into scans: character accuracy and CPU-seconds per page.

    .venv/bin/python benchmarks/pdf_ocr.py                                   # quick: the shipped defaults (~8 min, 2 cores)
    .venv/bin/python benchmarks/pdf_ocr.py --sweep psm --cache runs/ocr.jsonl   # Tesseract page segmentation modes
    .venv/bin/python benchmarks/pdf_ocr.py --sweep dpi --cache runs/ocr.jsonl   # render resolution per source resolution
    .venv/bin/python benchmarks/pdf_ocr.py --sweep rapidocr --cache runs/ocr.jsonl

Data: the born-digital PDFs of the evaluation set (`sample_data_ext/pdf`, 16 real PDFs with pdftotext reference
text). From each, the `--pages-per-pdf` densest pages (most words of two or more letters: small print, two
columns, references) are turned into image-only scans with the project's degrader (tools/pdf/degrade.py,
`make_variant(..., "image")`) at 100, 150, 200 and 300 dpi, as JPEG (quality 80) and as lossless PNG (Flate).
Every page is read by every engine setting; each call is timed in CPU-seconds of its worker process plus its
children (Tesseract runs as a program), with the RapidOCR models loaded before the clock starts.

Metrics: CAR (curation.stages.ingest.pdf.metrics.car: 1 - edit distance / reference length after whitespace
normalisation; it counts reading-order differences against pdftotext's order) and word F1 (order-free).
pages/s is per core (1 / mean CPU-seconds per page). The machine's load (`uptime`) is printed before and after:
results taken while the 1-minute load was above the core count are not comparable.

--cache keeps one JSON line per (page, scan, setting), so a sweep can be stopped and resumed, and several sweeps
share measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics as st
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402

SOURCE_DPIS = (100, 150, 200, 300)
FORMATS = ("jpeg", "png")


@dataclass(frozen=True)
class Setting:
    """One engine with its parser attributes (see curation.stages.ingest.pdf.parsers)."""

    label: str
    engine: str
    attrs: tuple[tuple[str, Any], ...] = ()


def _tess(label: str, **kw: Any) -> Setting:
    return Setting(label, "tesseract", tuple(sorted(kw.items())))


def _rapid(label: str, **kw: Any) -> Setting:
    return Setting(label, "rapidocr", tuple(sorted(kw.items())))


NATIVE = {"dpi_mode": "source", "dpi_floor": 50, "dpi_cap": 600}
"""Render a scan at exactly its own resolution."""

SWEEPS: dict[str, list[Setting]] = {
    "defaults": [_tess("tesseract (defaults)"), _rapid("rapidocr (defaults)")],
    "psm": [_tess(f"tesseract psm {m} @200", psm=m, dpi=200, dpi_mode="fixed") for m in (3, 1, 4, 6)],
    "dpi": [
        _tess("tesseract psm 3 native", psm=3, **NATIVE),
        *[_tess(f"tesseract psm 3 @{d}", psm=3, dpi=d, dpi_mode="fixed") for d in (150, 200, 250, 300, 400)],
    ],
    "rapidocr": [
        _rapid("rapidocr native", **NATIVE),
        _rapid("rapidocr @200", dpi=200, dpi_mode="fixed"),
        _rapid("rapidocr @300 max side 3300", dpi=300, dpi_mode="fixed", max_side_len=3300),
    ],
}
QUICK_PDFS = 8
"""The quick run (no --sweep): the first QUICK_PDFS PDFs by name, one page each, both engines at their defaults."""


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def load1() -> float:
    return os.getloadavg()[0]


_WORD = re.compile(r"[A-Za-z]{2,}")


def dense_pages(truths: list[str], k: int) -> list[int]:
    """1-based numbers of the `k` pages with the most words of two or more letters (dot leaders do not count)."""
    order = sorted(range(len(truths)), key=lambda i: (-len(_WORD.findall(truths[i])), i))
    return sorted(i + 1 for i in order[:k])


def tasks(pdf_dir: Path, pages_per_pdf: int, settings: list[Setting], max_pdfs: int | None,
          source_dpis: tuple[int, ...], formats: tuple[str, ...]) -> list[dict]:
    from tools.pdf.trainset import source_pdfs

    out = []
    for src in source_pdfs(pdf_dir)[:max_pdfs]:
        for page in dense_pages(src.truths, pages_per_pdf):
            for sdpi in source_dpis:
                for fmt in formats:
                    for s in settings:
                        out.append({"pdf": src.stem, "page": page, "source_dpi": sdpi, "format": fmt,
                                    "label": s.label, "engine": s.engine, "attrs": dict(s.attrs)})
    return out


def key(t: dict) -> str:
    return json.dumps([t["pdf"], t["page"], t["source_dpi"], t["format"], t["engine"], sorted(t["attrs"].items())])


_SCANS: dict[tuple, bytes] = {}
_SOURCES: dict[str, Any] = {}


def run_task(t: dict, pdf_dir: str) -> dict:
    """Scan one page (cached per worker), read it with one setting, score it; CPU-seconds of the read only."""
    from curation.stages.ingest.pdf.analysis import cpu_seconds
    from curation.stages.ingest.pdf.metrics import car, word_f1
    from curation.stages.ingest.pdf.parsers import get_parser
    from tools.pdf.degrade import make_variant
    from tools.pdf.trainset import source_pdfs

    os.environ["OMP_THREAD_LIMIT"] = "1"
    if not _SOURCES:
        _SOURCES.update({s.stem: s for s in source_pdfs(pdf_dir)})
    src = _SOURCES[t["pdf"]]
    truth = src.truths[t["page"] - 1]
    sk = (t["pdf"], t["page"], t["source_dpi"], t["format"])
    if sk not in _SCANS:
        _SCANS.clear()
        _SCANS[sk] = make_variant(src.data, "image", [t["page"]], [truth], seed=0, dpi=t["source_dpi"],
                                  image_format=t["format"])
    parser = get_parser(t["engine"])
    for k, v in t["attrs"].items():
        setattr(parser, k, v)
    if t["engine"] == "rapidocr":  # model loading is a per-process cost, not a per-page one
        from curation.stages.ingest.pdf.ocr import rapidocr_engine

        rapidocr_engine(parser.threads, parser.max_side_len, parser.space_boost)
    c0, w0 = cpu_seconds(), time.perf_counter()
    (text,) = parser.parse(_SCANS[sk], [1])
    secs, wall = cpu_seconds() - c0, time.perf_counter() - w0
    return {**t, "car": round(car(text, truth), 4), "word_f1": round(word_f1(text, truth), 4),
            "cpu_s": round(secs, 3), "wall_s": round(wall, 3), "chars": len(text), "load1": round(load1(), 2)}


def table(rows: list[dict], by: tuple[str, ...]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in by)].append(r)
    out = []
    for g, rs in groups.items():
        s = st.mean(r["cpu_s"] for r in rs)
        out.append({**dict(zip(by, g, strict=True)), "n": len(rs), "car": st.mean(r["car"] for r in rs),
                    "car_min": min(r["car"] for r in rs), "word_f1": st.mean(r["word_f1"] for r in rs),
                    "s_page": s, "pages_s": 1 / s if s > 0 else float("inf")})
    return out


def markdown(rows: list[dict], by: tuple[str, ...]) -> str:
    head = [*by, "pages", "CAR mean", "CAR min", "word F1", "s/page (CPU)", "pages/s (1 core)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]) for k in by) + f" | {r['n']} | {r['car']:.3f} | {r['car_min']:.3f} | "
                     f"{r['word_f1']:.3f} | {r['s_page']:.2f} | {r['pages_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", choices=sorted(SWEEPS), default=None,
                    help="settings to compare; default: the quick run of both engines at their shipped defaults")
    ap.add_argument("--pages-per-pdf", type=int, default=1)
    ap.add_argument("--max-pdfs", type=int, default=None, help="only the first N PDFs (by name)")
    ap.add_argument("--source-dpi", default=",".join(map(str, SOURCE_DPIS)), help="scan resolutions, comma-separated")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=None, help="JSONL of measured (page, scan, setting) rows: resume/share")
    ap.add_argument("--out", type=Path, default=None, help="write the tables (markdown) here too")
    ap.add_argument("--max-load", type=float, default=2.5, help="wait while the 1-minute load is above this")
    a = ap.parse_args(argv)
    pdf_dir = eval_data_path("pdf")
    if not (pdf_dir / "files").is_dir():
        print(f"no evaluation PDFs at {pdf_dir} (set CURATION_EVAL_DATA)", file=sys.stderr)
        return 2
    settings = SWEEPS[a.sweep or "defaults"]
    max_pdfs = a.max_pdfs if a.max_pdfs is not None else (None if a.sweep else QUICK_PDFS)
    todo = tasks(pdf_dir, a.pages_per_pdf, settings, max_pdfs, tuple(int(x) for x in a.source_dpi.split(",")),
                 tuple(a.formats.split(",")))
    done: dict[str, dict] = {}
    if a.cache and a.cache.exists():
        for line in a.cache.read_text().splitlines():
            r = json.loads(line)
            done[key(r)] = r
    while load1() > a.max_load:
        print(f"waiting: load {load1():.2f} > {a.max_load}", file=sys.stderr)
        time.sleep(30)
    before = uptime()
    print(f"load before: {before}", file=sys.stderr)
    rows = [done[key(t)] for t in todo if key(t) in done]
    missing = [t for t in todo if key(t) not in done]
    # one scan per group of settings: order so that a worker reuses its cached scan
    missing.sort(key=lambda t: (t["pdf"], t["page"], t["source_dpi"], t["format"]))
    print(f"{len(todo)} measurements, {len(rows)} cached, {len(missing)} to run on {a.workers} workers", file=sys.stderr)
    t0 = time.time()
    cache = a.cache.open("a") if a.cache else None
    try:
        with ProcessPoolExecutor(max_workers=a.workers) as pool:
            chunk = max(1, len(settings))
            for r in pool.map(run_task, missing, [str(pdf_dir)] * len(missing), chunksize=chunk):
                rows.append(r)
                if cache:
                    cache.write(json.dumps(r) + "\n")
                    cache.flush()
                if len(rows) % 20 == 0:
                    print(f"  {len(rows)}/{len(todo)} ({time.time() - t0:.0f} s, load {load1():.2f})", file=sys.stderr)
    finally:
        if cache:
            cache.close()
    after = uptime()
    order = {s.label: i for i, s in enumerate(settings)}
    per = sorted(table(rows, ("label", "source_dpi", "format")),
                 key=lambda r: (order[r["label"]], r["source_dpi"], r["format"]))
    overall = sorted(table(rows, ("label",)), key=lambda r: order[r["label"]])
    by_src = sorted(table(rows, ("label", "source_dpi")), key=lambda r: (order[r["label"]], r["source_dpi"]))
    n_pdfs = len({r["pdf"] for r in rows})
    n_pages = len({(r["pdf"], r["page"]) for r in rows})
    text = "\n\n".join([
        f"{n_pages} dense pages of {n_pdfs} real PDFs x scans at {a.source_dpi} dpi x {a.formats}; "
        f"{len(rows)} measurements, {time.time() - t0:.0f} s wall on {a.workers} workers.\n"
        f"load before: {before}\nload after:  {after}",
        "Per engine setting:\n\n" + markdown(overall, ("label",)),
        "Per source resolution:\n\n" + markdown(by_src, ("label", "source_dpi")),
        "Per source resolution and format:\n\n" + markdown(per, ("label", "source_dpi", "format")),
    ])
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
