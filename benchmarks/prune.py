"""Benchmark for the prune stage: embeddings/s, k-means time, SemDeDup time, peak memory.

    .venv/bin/python benchmarks/prune.py                         # defaults: 400 real texts embedded, 100k synthetic
    .venv/bin/python benchmarks/prune.py --embed-docs 100000     # the full-size embedding run (CPU: hours)
    .venv/bin/python benchmarks/prune.py --device cuda --batch-size 256 --embed-docs 20000   # on a GPU
    .venv/bin/python benchmarks/prune.py --spark-docs 300        # also the whole stage on local Spark

Embedding throughput is measured on real text (sample_data documents cut into ~600-character passages,
cycled when more are asked for than exist). k-means and SemDeDup run on synthetic unit vectors with the
model's dimension (clustered, with planted near-duplicates), so the 100k figures do not need 100k CPU
embeddings; the 100k embedding time is an extrapolation from the measured rate and is labelled as such.
Timings on the shared 2-core machine are noisy (other jobs compete for the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def passages(n: int, size: int = 600) -> list[str]:
    out: list[str] = []
    for line in open(ROOT / "sample_data" / "jsonl" / "documents.jsonl"):
        text = json.loads(line)["text"]
        out += [text[i:i + size] for i in range(0, len(text), size) if len(text[i:i + size]) > 100]
    return [out[i % len(out)] for i in range(n)], len(out)


def synthetic(n: int, dim: int, topics: int, dup_share: float, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (anisotropic topics) plus planted near-duplicates (cosine ~0.97-0.99)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((topics, dim)).astype(np.float32)
    labels = rng.integers(0, topics, size=n)
    x = centers[labels] + 1.2 * rng.standard_normal((n, dim)).astype(np.float32)
    n_dup = int(dup_share * n)
    src = rng.choice(n - n_dup, size=n_dup)
    x[n - n_dup:] = x[src] + 0.15 * rng.standard_normal((n_dup, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def bench_embeddings(args: argparse.Namespace) -> dict:
    from curation.stages.prune.config import PruneConfig
    from curation.stages.prune.embed import encode, pick_device

    texts, distinct = passages(args.embed_docs)
    cfg = PruneConfig(batch_size=args.batch_size, max_seq_length=args.max_seq_length, device=args.device,
                      torch_threads=args.threads)
    device = pick_device(cfg.device)
    encode(cfg, texts[:8], device)  # load + warm up outside the timing
    t0 = time.perf_counter()
    x = encode(cfg, texts, device)
    secs = time.perf_counter() - t0
    rate = len(texts) / secs
    return {"device": device, "texts": len(texts), "distinct_passages": distinct, "seconds": round(secs, 2),
            "texts_per_s": round(rate, 1), "dim": int(x.shape[1]), "max_seq_length": args.max_seq_length,
            "batch_size": args.batch_size, "torch_threads": args.threads,
            "extrapolated_100k_s": round(100_000 / rate, 0), "peak_rss_mb": round(peak_rss_mb())}


def bench_cluster_and_dedup(args: argparse.Namespace) -> dict:
    from curation.stages.prune.kmeans import auto_k, centroid_index, fit_spherical_kmeans, nearest_centroid
    from curation.stages.prune.semdedup import max_earlier_similarity, processing_order, resolve_keepers

    n = args.synthetic
    x = synthetic(n, args.dim, args.topics, args.dup_share)
    rss0 = peak_rss_mb()
    k = args.k or auto_k(n)
    sample = x[: min(n, args.sample_size)]
    t0 = time.perf_counter()
    c, info = fit_spherical_kmeans(sample, k, niter=args.iters, seed=1234)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = centroid_index(c)
    ids = np.empty(n, np.int64)
    sims = np.empty(n)
    for s in range(0, n, 2000):  # the per-batch assignment as the Spark transform does it
        ids[s:s + 2000], sims[s:s + 2000] = nearest_centroid(x[s:s + 2000], c, index)
    t_assign = time.perf_counter() - t0
    dist = 1 - sims
    t0 = time.perf_counter()
    removed = 0
    sizes = np.bincount(ids, minlength=k)
    order_all = np.argsort(ids, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for cl in range(k):
        rows = order_all[bounds[cl]:bounds[cl + 1]]
        if len(rows) == 0:
            continue
        order = processing_order(dist[rows], rows.tolist())
        best, nearest = max_earlier_similarity(x[rows][order], args.block_size)
        gone, _ = resolve_keepers(best, nearest, 1 - args.eps)
        removed += int(gone.sum())
    t_dedup = time.perf_counter() - t0
    return {"docs": n, "dim": args.dim, "k": int(info["k"]), "kmeans_sample": len(sample), "kmeans_iters": args.iters,
            "kmeans_fit_s": round(t_fit, 2), "assign_s": round(t_assign, 2), "semdedup_s": round(t_dedup, 2),
            "largest_cluster": int(sizes.max()), "block_size": args.block_size, "eps": args.eps,
            "planted_duplicates": int(args.dup_share * n), "semdedup_removed": removed,
            "embeddings_mb": round(x.nbytes / 2**20), "peak_rss_mb_before": round(rss0), "peak_rss_mb": round(peak_rss_mb()),
            "faiss_threads": _faiss_threads()}


def _faiss_threads() -> int:
    import faiss

    return int(faiss.omp_get_max_threads())


def bench_spark(args: argparse.Namespace) -> dict:
    """The whole stage through the runner on local Spark: real embeddings of every document, then the
    k-means, SemDeDup and policy steps on them. `--corpus` gives real documents (JSONL/Parquet files or
    folders); without it the sample passages are cycled (numbered, so SemDeDup has near-copies to drop)."""
    from benchmarks.harness import PeakRSS
    from curation.config import load_config
    from curation.engine.runner import run_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        if args.corpus:
            inputs = list(args.corpus)
        else:
            texts, _ = passages(args.spark_docs)
            inputs = [str(Path(tmp) / "docs.jsonl")]
            with open(inputs[0], "w") as f:
                for i, t in enumerate(texts):
                    f.write(json.dumps({"id": f"p{i}", "text": f"[{i}] {t}"}) + "\n")
        out = args.spark_out or f"{tmp}/run"
        cfg = load_config(None, [f"input.paths={json.dumps(inputs)}", f"output.dir={out}", "spark.progress=false",
                                 f"spark.master={args.master}", f"prune.max_seq_length={args.max_seq_length}",
                                 f"prune.batch_size={args.batch_size}", "prune.keep_fraction=0.5",
                                 f"prune.device={args.device}", *args.set])
        t0 = time.perf_counter()
        with PeakRSS() as mem:
            manifest = run_pipeline(cfg, stages=["prune"])
        wall = time.perf_counter() - t0
    st = manifest["stages"][-1]
    n = st["docs"]["in"]
    return {"docs": n, "wall_s": round(wall, 1), "stage_s": st["seconds"], "steps_s": st["extra"]["timings_driver_s"],
            "kept": st["docs"]["kept"], "dropped": st["docs"]["dropped"], "docs_per_s": round(n / st["seconds"], 1),
            "kmeans": st["extra"].get("kmeans"), "semdedup": st["extra"].get("semdedup"),
            "policy": st["extra"].get("policy"), "peak_rss_mb_process_tree": round(mem.peak / 2**20),
            "load_avg_end": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--embed-docs", type=int, default=400, help="real passages to embed (0 skips)")
    p.add_argument("--synthetic", type=int, default=100_000, help="synthetic embeddings for k-means + SemDeDup (0 skips)")
    p.add_argument("--spark-docs", type=int, default=0, help="also run the whole stage on local Spark with this many sample passages")
    p.add_argument("--corpus", nargs="*", default=[], help="real documents (JSONL/Parquet files or folders) for the Spark run")
    p.add_argument("--spark-out", default="", help="keep the Spark run folder here (default: a temporary folder)")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--set", nargs="*", default=[], help="extra config overrides for the Spark run (key=value)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=2, help="torch threads for the in-process embedding run")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--dup-share", type=float, default=0.1)
    p.add_argument("--k", type=int, default=0, help="0 = round(sqrt(N))")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--sample-size", type=int, default=200_000)
    p.add_argument("--block-size", type=int, default=2048)
    p.add_argument("--eps", type=float, default=0.05)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = p.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    results: dict = {}
    if args.synthetic:
        results["cluster_dedup"] = bench_cluster_and_dedup(args)
    if args.embed_docs:
        results["embeddings"] = bench_embeddings(args)
    if args.spark_docs or args.corpus:
        results["spark_stage"] = bench_spark(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, res in results.items():
        print(f"\n## {name}\n\n| metric | value |\n|---|---|")
        for k, v in res.items():
            print(f"| {k} | {v} |")
    if "embeddings" in results:
        e = results["embeddings"]
        print(f"\n100k documents at the measured {e['texts_per_s']} texts/s on {e['device']}: "
              f"~{e['extrapolated_100k_s'] / 3600:.1f} h of embedding (EXTRAPOLATED, not measured).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
