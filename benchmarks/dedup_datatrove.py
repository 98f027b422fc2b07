"""Peer run: datatrove's 4-stage MinHash dedup (signatures -> buckets -> cluster -> filter).

Runs inside the datatrove virtual environment (NOT the project's), e.g.:
    .bench/datatrove-venv/bin/python benchmarks/dedup_datatrove.py IN_DIR WORK_DIR --buckets 14 --rows 8 --workers 2
If that venv is missing, build it with:
    python3 -m venv .bench/datatrove-venv && .bench/datatrove-venv/bin/pip install "datatrove[processing]" orjson spacy
Prints one JSON line: removed ids, wall seconds, CPU seconds (this process and its children).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("work")
    ap.add_argument("--buckets", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=2)
    a = ap.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    cfg = MinhashConfig(n_grams=5, num_buckets=a.buckets, hashes_per_bucket=a.rows)
    reader = JsonlReader(a.input, glob_pattern="*.jsonl")
    t0 = time.time()
    stages = [
        [reader, MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg)],
        [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=cfg)],
        [MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove_ids"), config=cfg)],
        [JsonlReader(a.input, glob_pattern="*.jsonl"), MinhashDedupFilter(input_folder=str(work / "remove_ids"),
                                                                           exclusion_writer=JsonlWriter(str(work / "removed"))),
         JsonlWriter(str(work / "kept"))],
    ]
    tasks = [a.tasks, cfg.num_buckets, 1, a.tasks]
    times = []
    for i, (steps, n) in enumerate(zip(stages, tasks, strict=True)):
        t = time.time()
        LocalPipelineExecutor(pipeline=steps, tasks=n, workers=min(a.workers, n),
                              logging_dir=str(work / f"logs{i}")).run()
        times.append(round(time.time() - t, 2))
    wall = time.time() - t0
    import gzip

    removed = []
    for f in sorted((work / "removed").glob("*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt") as fh:
            removed += [json.loads(line)["id"] for line in fh if line.strip()]
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"removed": removed, "wall_s": round(wall, 2), "stage_s": times,
                      "cpu_s": round(me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime, 2),
                      "peak_rss_mb_max_process": round(max(me.ru_maxrss, ch.ru_maxrss) / 1024, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
