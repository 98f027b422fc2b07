"""PII benchmark: precision and recall per kind on real text with planted personal data, and what PII
detection costs annotate.

    .venv/bin/python benchmarks/pii.py                      # 5,000 planted documents, speed on 2,000
    .venv/bin/python benchmarks/pii.py --docs 1000 --speed-docs 500 --repeat 1   # quick look

The corpus is tools/pii_planted.py: the sample documents (sample_data/jsonl: texts in ~120 languages and
PDF pages full of numbers), round robin, each with two planted values (kinds in turn) and two look-alikes
(versions, dates, ISBNs, private IPs, order numbers, Luhn and IBAN failures, invalid SSNs, counts). All kinds
are switched on for the accuracy part (national ids US and GB included).

Speed: the whole annotate batch transform (language id, every rule set, quality classifier, SmolLM2 token
counts: the default config) with `annotate.pii.mode` off, annotate and redact, on the same documents, in
batches of 1,000, timed in CPU seconds of this one process (tokenizers pinned to one thread) after a warm-up
batch; the modes alternate `--repeat` times and the median counts. Two corpora: the planted one (two PII
values per document, a worst case) and the sample documents as they are. The load average is printed with
the table: check it before trusting a ratio (the script refuses to start above --max-load unless --force).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> float:
    return os.getloadavg()[0]


def accuracy(docs, P) -> dict:
    import pyarrow as pa

    from curation.stages.annotate.pii import Detector

    det = Detector(kinds=("email", "ip", "iban", "card", "national_id", "phone"), national_ids=("US", "GB"))
    t = time.process_time()
    found = det.scan(pa.array([d.text for d in docs], pa.string()))
    res = P.evaluate(docs, found)
    res["scan_cpu_s"] = time.process_time() - t
    return res


def speed(texts: list[str], repeat: int, batch: int = 1000) -> dict[str, float]:
    """docs per CPU-second of the default annotate transform with PII off, annotate, redact (median)."""
    import pyarrow as pa

    from curation.stages.annotate.config import AnnotateConfig
    from curation.stages.annotate.stage import AnnotateTransform

    def rb(chunk: list[str]) -> pa.RecordBatch:
        n = len(chunk)
        return pa.RecordBatch.from_pydict({
            "text": pa.array(chunk, pa.string()), "decision": ["kept"] * n, "reason": pa.nulls(n, pa.string()),
            "related_id": pa.nulls(n, pa.string()), "detail": pa.nulls(n, pa.string()),
            "token_count": pa.nulls(n, pa.int64())})

    batches = [rb(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    transforms = {}
    for mode in ("off", "annotate", "redact"):
        cfg = AnnotateConfig()
        cfg.pii.mode = mode
        transforms[mode] = AnnotateTransform(cfg)
        transforms[mode](rb(texts[:50]))  # warm-up: models, regexes, phone metadata
    times: dict[str, list[float]] = {m: [] for m in transforms}
    for _ in range(repeat):
        for mode, tr in transforms.items():
            from curation.text.tokenizer import piece_counter

            counter = piece_counter()
            if counter is not None:
                counter.cache.clear()  # every mode starts with a cold token cache
            t = time.process_time()
            for b in batches:
                tr(b)
            times[mode].append(time.process_time() - t)
    return {m: len(texts) / statistics.median(v) for m, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=5000, help="planted documents for precision/recall")
    p.add_argument("--speed-docs", type=int, default=2000, help="documents per corpus for the speed part")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-load", type=float, default=2.5)
    p.add_argument("--force", action="store_true", help="run even when the load average is above --max-load")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args(argv)
    if load() > a.max_load and not a.force:
        print(f"load average {load():.2f} > {a.max_load}: wait, or --force", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    from tools import pii_planted as P
    docs = P.generate(a.docs, seed=a.seed)
    acc = accuracy(docs, P)
    print(f"\nPrecision / recall per kind: {a.docs} planted documents (seed {a.seed}), "
          f"{sum(len(d.truth) for d in docs)} planted values, {sum(len(d.decoys) for d in docs)} look-alikes")
    print(f"{'kind':<12} {'planted':>8} {'found':>7} {'false+':>7} {'missed':>7} {'precision':>10} {'recall':>8}")
    for kind in P.KINDS:
        s = acc["kinds"][kind]
        print(f"{kind:<12} {s['tp'] + s['fn']:>8} {s['tp']:>7} {s['fp']:>7} {s['fn']:>7} "
              f"{s['precision']:>10.4f} {s['recall']:>8.4f}")
    print(f"look-alikes touched by a detection: {len(acc['decoy_hits'])} {acc['decoy_hits'][:5]}")
    print(f"personal data already in the sample documents (reviewed, tests/data/pii/natural.json) found: "
          f"{acc['natural_hits']}")
    print(f"detector scan: {a.docs / acc['scan_cpu_s']:.0f} docs/CPU-s (all kinds)")
    for e in acc["fp_examples"][:10]:
        print("  false positive:", e)

    planted_texts = [d.text for d in P.generate(a.speed_docs, seed=a.seed + 1)]
    sample = [d["text"] for d in P.base_documents()]
    sample_texts = (sample * (a.speed_docs // len(sample) + 1))[:a.speed_docs]
    rows = []
    for name, texts in (("planted (2 PII per doc)", planted_texts), ("sample documents as they are", sample_texts)):
        r = speed(texts, a.repeat)
        rows.append((name, r))
    print(f"\nannotate (default config) docs per CPU-second, {a.speed_docs} docs per corpus, median of {a.repeat}")
    print(f"{'corpus':<30} {'pii off':>9} {'annotate':>9} {'redact':>9} {'redact/off':>11} {'slower by':>10}")
    for name, r in rows:
        ratio = r["redact"] / r["off"]
        print(f"{name:<30} {r['off']:>9.1f} {r['annotate']:>9.1f} {r['redact']:>9.1f} {ratio:>11.3f} "
              f"{(1 / ratio - 1) * 100:>9.1f}%")
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} ({os.cpu_count()} cores)")
    if a.json:
        a.json.write_text(json.dumps({"accuracy": {k: v for k, v in acc["kinds"].items()},
                                      "decoy_hits": len(acc["decoy_hits"]), "natural_hits": acc["natural_hits"],
                                      "speed": dict(rows), "load_before": load_before, "load_after": load_after},
                                     indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
