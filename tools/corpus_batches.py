"""Corpus batches for the exactly-once tests and the soak benchmark: distinct documents, a small config, a
batch run in a child process that a failpoint can kill, and the committed documents as a reader sees them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """pipeline:
  stages: [normalize, dedup]
dedup:
  containment: false
spark:
  master: local[1]
  progress: false
  shuffle_partitions: 2
  driver_memory: 1g
"""


def distinct_docs(tag: str, start: int, n: int) -> list[dict]:
    """Documents of 80 pseudo-random words each, so that only a copy is a duplicate."""
    out = []
    for i in range(start, start + n):
        rng = random.Random(i)
        words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(80)]
        out.append({"id": f"{tag}{i}", "text": " ".join(words) + "."})
    return out


def write_jsonl(path: Path, docs: list[dict]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def batch_in_child(corpus: Path, landing: list[str], config: Path, failpoint: str | None = None) -> tuple[int, str]:
    """`curate_batch` in a fresh process (killed at `failpoint` if given); (return code, stderr tail)."""
    code = ("from curation.io.corpus import curate_batch; "
            f"curate_batch({[str(x) for x in landing]!r}, {str(corpus)!r}, {str(config)!r})")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    env.pop("CURATION_FAILPOINT", None)
    if failpoint:
        env["CURATION_FAILPOINT"] = failpoint
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return r.returncode, r.stderr[-3000:]


def committed_rows(corpus: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """The committed version and its documents (doc_id, source_id, text), sorted."""
    import pyarrow.parquet as pq

    m = json.loads((corpus / "manifest.json").read_text())
    rows = []
    for s in m["shards"]:
        rows += [(r["doc_id"], r["source_id"], r["text"]) for r in pq.read_table(corpus / s).to_pylist()]
    return m["version"], sorted(rows)
