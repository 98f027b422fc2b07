"""Benchmark harness: run a stage over N documents in-process and through Spark local; print figures.

    python benchmarks/harness.py normalize --docs 100000

Prints docs/s, MB/s and peak RSS (this process and all its children: the JVM and Python workers) for
(a) the stage's batch transform called in-process on Arrow batches and (b) the same stage through the
runner on Spark local (read + stage + shard/ledger writes), so the Spark overhead is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class PeakRSS:
    """Samples the RSS of this process tree (JVM and Python workers included) every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRSS:
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def make_corpus(path: Path, n: int, seed: int = 0) -> int:
    """n documents of real text (sample_data), shuffled paragraphs with messy whitespace; returns bytes."""
    rng = random.Random(seed)
    docs = [json.loads(line)["text"] for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").open()]
    paras = [p for d in docs for p in d.split("\n\n") if p.strip()]
    size = 0
    with path.open("w") as fh:
        for i in range(n):
            k = rng.randint(1, 6)
            text = "\n\n\n".join(rng.sample(paras, k)).replace(" ", "  ", rng.randint(0, 3))
            line = json.dumps({"id": f"bench-{i}", "text": text}, ensure_ascii=False) + "\n"
            size += len(line.encode())
            fh.write(line)
    return size


def bench_in_process(stage: str, path: Path, batch: int) -> tuple[float, int]:
    from curation.config import load_config
    from curation.io.readers import read_file
    from curation.stages.normalize.stage import NormalizeTransform

    if stage != "normalize":
        raise SystemExit("the in-process comparison is wired for normalize only")
    cfg = load_config(None)
    transform = NormalizeTransform(cfg.normalize)
    start = time.perf_counter()
    rows = 0
    for b in read_file(str(path), cfg.input, batch):
        rows += transform(b).num_rows
    return time.perf_counter() - start, rows


def bench_spark(stage: str, path: Path, out: Path, master: str) -> tuple[float, float, int]:
    from curation.config import load_config
    from curation.engine.runner import run_pipeline
    from curation.engine.spark import get_spark

    cfg = load_config(None, [f"spark.master={master}", "spark.progress=false"])
    t0 = time.perf_counter()
    spark = get_spark(cfg.spark)
    startup = time.perf_counter() - t0
    start = time.perf_counter()
    manifest = run_pipeline(cfg, stages=[stage], inputs=[str(path)], out_dir=str(out), spark=spark)
    return time.perf_counter() - start, startup, manifest["stages"][-1]["docs"]["in"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", nargs="?", default="normalize")
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=4, help="input files (Spark reads one task per file)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--batch", type=int, default=2000)
    a = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory(prefix="curation-bench-") as tmp:
        tmpd = Path(tmp)
        inputs = tmpd / "in"
        inputs.mkdir()
        size = 0
        per = a.docs // a.files
        for f in range(a.files):
            size += make_corpus(inputs / f"part-{f}.jsonl", per + (a.docs % a.files if f == 0 else 0), seed=f)
        mb = size / 1e6
        with PeakRSS() as rss_a:
            secs_a, n_a = 0.0, 0
            for f in sorted(inputs.iterdir()):
                s, n = bench_in_process(a.stage, f, a.batch)
                secs_a += s
                n_a += n
        with PeakRSS() as rss_b:
            secs_b, startup, n_b = bench_spark(a.stage, inputs, tmpd / "out", a.master)
        cores = os.cpu_count()
        print(f"stage={a.stage} docs={a.docs} input={mb:.1f} MB files={a.files} cores={cores} load={os.getloadavg()[0]:.1f}")
        print(f"{'mode':<34}{'seconds':>9}{'docs/s':>10}{'MB/s':>8}{'peak RSS MB':>13}")
        print(f"{'in-process (read+transform, 1 core)':<34}{secs_a:>9.1f}{n_a / secs_a:>10.0f}{mb / secs_a:>8.1f}"
              f"{rss_a.peak / 1e6:>13.0f}")
        label = f"Spark {a.master} (read+stage+write)"
        print(f"{label:<34}{secs_b:>9.1f}{n_b / secs_b:>10.0f}{mb / secs_b:>8.1f}{rss_b.peak / 1e6:>13.0f}")
        print(f"Spark session start-up: {startup:.1f} s (not included above); "
              f"Spark/in-process time ratio: {secs_b / secs_a:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
