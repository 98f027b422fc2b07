"""Bad input at scale: the same real corpus clean and with 1% corrupted records, through the CLI.

    .venv/bin/python benchmarks/bad_input.py                  # 100,000 documents (a few minutes on 2 cores)
    .venv/bin/python benchmarks/bad_input.py --docs 20000

The documents are windows of real prose (the repo's sample documents and the Language Reference and
standard-library docstrings every CPython ships), written as JSONL files (plain, gzip, zstd). The corrupted
copy replaces 1% of the records with every kind of bad record the readers know (invalid JSON, invalid UTF-8,
deep nesting, NaN and out-of-range dates, a 2**70 token count, a 5,000-digit number, a spoofed doc_id and
provenance, over-long lines), cuts one gzip file short and adds an empty file. Both corpora run through
`curation run` with the default config (read, normalize, export); the table gives wall time and peak RSS of
the whole process tree (Spark JVM and Python workers included), records lost (written but without a ledger
row) and funnel problems (`curation inspect`'s accounting check). Goal: corrupted within 10% of clean, 0
lost, 0 unaccounted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import PeakRSS  # noqa: E402

FILES = 20
WIDTH = 1200
BAD_KINDS = ["invalid_json", "invalid_utf8", "deep", "nan_date", "far_date", "huge_tokens", "digits", "spoofed_ids",
             "too_large"]
MAX_RECORD = 1 << 20  # input.max_record_bytes for both runs, so the over-long lines stay small enough to write


def real_windows() -> list[str]:
    from tools.quality_data import python_reference_topics, stdlib_docstrings

    texts = [json.loads(line)["text"] for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").open()]
    texts += python_reference_topics() + stdlib_docstrings()
    out = []
    for t in texts:
        t = " ".join(t.split())
        out += [t[s:s + WIDTH] for s in range(0, max(len(t) - WIDTH // 2, 1), WIDTH)]
    return [w for w in out if len(w) > 200]


def bad_record(kind: str, i: int, text: str) -> bytes:
    if kind == "invalid_json":
        return json.dumps({"id": f"b{i}", "text": text}).encode()[:-7]
    if kind == "invalid_utf8":
        return b'{"id": "b%d", "text": "' % i + text[:200].encode() + b'\xff\xfe"}'
    if kind == "deep":
        return b'{"id": "b%d", "text": "t", "m": ' % i + b"[" * 3000 + b"]" * 3000 + b"}"
    if kind == "nan_date":
        return b'{"id": "b%d", "text": "t", "crawl_date": NaN}' % i
    if kind == "far_date":
        return json.dumps({"id": f"b{i}", "text": text, "crawl_date": 1e20}).encode()
    if kind == "huge_tokens":
        return json.dumps({"id": f"b{i}", "text": text, "token_count": 2**70}).encode()
    if kind == "digits":
        return b'{"id": "b%d", "text": "t", "n": ' % i + b"7" * 5000 + b"}"
    if kind == "spoofed_ids":  # not bad: kept, but its identity is the reader's (counted as good)
        return json.dumps({"id": f"s{i}", "text": text, "doc_id": "same", "source": "/etc/passwd",
                           "source_type": "pdf"}).encode()
    if kind == "too_large":
        return b'{"id": "b%d", "text": "' % i + b"x" * (MAX_RECORD + 1000) + b'"}'
    raise ValueError(kind)


def write_corpus(out: Path, n: int, corrupt: bool) -> dict:
    """The corpus files; returns what was written (records, good records, bad records, extra file rows)."""
    out.mkdir(parents=True)
    windows = real_windows()
    per_file = (n + FILES - 1) // FILES
    stats = {"records": 0, "good": 0, "bad": 0, "bytes": 0, "cut_file": None}
    bad_every = 100
    bad_i = 0
    for f in range(FILES):
        lines, good_flags = [], []
        for j in range(f * per_file, min(n, (f + 1) * per_file)):
            text = windows[j % len(windows)]
            if corrupt and j % bad_every == 50:
                kind = BAD_KINDS[bad_i % len(BAD_KINDS)]
                if kind == "too_large" and bad_i // len(BAD_KINDS) >= 10:  # a few over-long lines are enough
                    kind = "invalid_json"
                bad_i += 1
                lines.append(bad_record(kind, j, text))
                good_flags.append(kind == "spoofed_ids")
            else:
                lines.append(json.dumps({"id": f"d{j}", "text": text}).encode())
                good_flags.append(True)
        data = b"\n".join(lines) + b"\n"
        suffix = ".jsonl.gz" if f % 7 == 3 else ".jsonl.zst" if f % 7 == 5 else ".jsonl"
        if suffix == ".jsonl.gz":
            data = gzip.compress(data, compresslevel=3)
        elif suffix == ".jsonl.zst":
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        path = out / f"part-{f:03d}{suffix}"
        stats["records"] += len(lines)
        if corrupt and f == 3:  # cut the first gzip file short: the lines after the cut cannot be read
            data = data[: len(data) * 3 // 4]
            readable = zlib.decompressobj(wbits=31).decompress(data).count(b"\n")
            stats["cut_file"] = {"file": path.name, "lines": len(lines), "readable": readable}
            good_flags = good_flags[:readable]  # the good records past the cut are gone with their bytes
        path.write_bytes(data)
        stats["bytes"] += len(data)
        stats["good"] += sum(good_flags)
        stats["bad"] += len(good_flags) - sum(good_flags)
    if corrupt:
        (out / "part-999-empty.jsonl").write_bytes(b"")
    return stats


def run(inputs: Path, out: Path) -> dict:
    cmd = [str(ROOT / ".venv" / "bin" / "curation"), "run", "--input", str(inputs), "--output", str(out),
           "--set", f"input.max_record_bytes={MAX_RECORD}", "--set", "spark.progress=false"]
    env = {**os.environ, "PYSPARK_PYTHON": str(ROOT / ".venv" / "bin" / "python")}
    start = time.time()
    with PeakRSS() as rss:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit(f"curation run failed:\n{proc.stderr[-3000:]}")
    return {"wall_s": round(wall, 1), "peak_rss_gb": round(rss.peak / 1e9, 2)}


def account(stats: dict, out: Path, corrupt: bool) -> dict:
    from curation.io.manifest import Manifest, funnel_problems

    m = Manifest.load(str(out))
    read = m.stages[0]
    expected = stats["records"]
    if stats["cut_file"]:
        cut = stats["cut_file"]
        expected += -cut["lines"] + cut["readable"] + 1  # unreadable lines are gone with the bytes; one row says so
    expected += 1 if corrupt else 0  # the empty file's row
    return {"rows": read["docs"]["in"], "expected_rows": expected, "lost": expected - read["docs"]["in"],
            "kept": read["docs"]["kept"], "good_expected": stats["good"],
            "quarantined": read["docs"]["quarantined"], "reasons": {k: v["docs"] for k, v in read["reasons"].items()},
            "unaccounted": len(funnel_problems(m.data))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="bad_input_"))
    results = {}
    for name, corrupt in (("clean", False), ("corrupted", True)):
        stats = write_corpus(work / f"{name}-in", a.docs, corrupt)
        fig = run(work / f"{name}-in", work / f"{name}-out")
        fig.update(account(stats, work / f"{name}-out", corrupt), input_mb=round(stats["bytes"] / 1e6, 1),
                   bad_records=stats["bad"])
        results[name] = fig
    c, b = results["clean"], results["corrupted"]
    print(f"\n{a.docs:,} documents, {FILES} files; load {os.getloadavg()[0]:.1f}")
    print(f"{'':12}{'wall s':>9}{'peak RSS GB':>13}{'input MB':>10}{'rows':>9}{'kept':>9}{'quar.':>7}{'lost':>6}{'unacc.':>8}")
    for name, r in results.items():
        print(f"{name:12}{r['wall_s']:>9}{r['peak_rss_gb']:>13}{r['input_mb']:>10}{r['rows']:>9}{r['kept']:>9}"
              f"{r['quarantined']:>7}{r['lost']:>6}{r['unaccounted']:>8}")
    print(f"corrupted / clean: wall {b['wall_s'] / c['wall_s']:.2f}x, peak RSS {b['peak_rss_gb'] / c['peak_rss_gb']:.2f}x; "
          f"good records kept {b['kept']} of {b['good_expected']}")
    print("reasons (corrupted):", json.dumps(b["reasons"]))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if b["lost"] == 0 and b["unaccounted"] == 0 and c["lost"] == 0 and b["kept"] == b["good_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
