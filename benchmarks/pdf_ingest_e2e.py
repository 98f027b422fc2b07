"""End-to-end check: the real PDFs of sample_data_ext/pdf plus image-only versions of them through
`curation ingest` on Spark, then a per-document summary (pages, parsers per page, measured BLEU, CPU-s).

    .venv/bin/python benchmarks/pdf_ingest_e2e.py [--image-pages 2] [--alpha 0.2] [--work /tmp/pdf_e2e]

Image-only versions are made of the first --image-pages pages of every PDF (named <stem>.image.pdf, with the
matching reference pages written next to the other references), so every document has a known text.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402
from tools.pdf.degrade import make_variant  # noqa: E402
from tools.pdf.trainset import source_pdfs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdf-dir", default=str(eval_data_path("pdf")))
    ap.add_argument("--image-pages", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=0.2)
    ap.add_argument("--work", default="/tmp/pdf_e2e")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra ingest.pdf setting, e.g. expensive_concurrency=1 on a shared machine")
    a = ap.parse_args(argv)
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    (work / "in").mkdir(parents=True)
    refs = work / "refs"
    refs.mkdir()
    for src in source_pdfs(a.pdf_dir):
        (work / "in" / f"{src.stem}.pdf").write_bytes(src.data)
        (refs / f"{src.stem}.txt").write_text("\f".join(src.truths) + "\f")
        pages = list(range(1, min(a.image_pages, len(src.truths)) + 1))
        truths = [src.truths[p - 1] for p in pages]
        (work / "in" / f"{src.stem}.image.pdf").write_bytes(make_variant(src.data, "image", pages, truths, seed=1))
        (refs / f"{src.stem}.image.txt").write_text("\f".join(truths) + "\f")
    t0 = time.time()
    cmd = [str(ROOT / ".venv" / "bin" / "curation"), "ingest", "--input", str(work / "in"), "--output", str(work / "run"),
           "--set", f"ingest.pdf.alpha={a.alpha}", "--set", f"ingest.pdf.reference_dir={refs}"]
    for kv in a.set:
        cmd += ["--set", f"ingest.pdf.{kv}"]
    print(" ".join(cmd), file=sys.stderr)
    rc = subprocess.call(cmd)
    wall = time.time() - t0
    if rc:
        return rc
    import pyarrow.parquet as pq

    t = pq.read_table(sorted(str(p) for p in (work / "run" / "documents").glob("*.parquet")))
    rows = sorted(t.to_pylist(), key=lambda r: r["source_id"])
    manifest = json.loads((work / "run" / "manifest.json").read_text())
    print(f"\n{len(rows)} documents kept; stage docs {manifest['stages'][0]['docs']}; wall {wall:.0f} s (shared machine)\n")
    print("| document | pages | parsers (pages) | OCR pages | gate flags | measured BLEU | CPU-s |")
    print("|---|---|---|---|---|---|---|")
    missing = 0
    for r in rows:
        pages = json.loads(r["pdf_pages_json"])
        missing += sum(1 for p in pages if not p.get("parser"))
        counts: dict[str, int] = {}
        for p in pages:
            counts[p["parser"]] = counts.get(p["parser"], 0) + 1
        gates = sum(1 for p in pages if p.get("gate"))
        m = r["pdf_measured_accuracy"]
        print(f"| {Path(r['source_id']).name} | {r['pdf_pages']} | {', '.join(f'{k} {v}' for k, v in counts.items())} | "
              f"{r['pdf_expensive_pages']} | {gates} | {m:.3f} | {r['pdf_seconds']:.2f} |" if m is not None else
              f"| {Path(r['source_id']).name} | {r['pdf_pages']} | {counts} | {r['pdf_expensive_pages']} | {gates} | - | {r['pdf_seconds']:.2f} |")
    print(f"\npages without a recorded parser: {missing}")
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
