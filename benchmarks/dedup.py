"""Dedup benchmark: quality and speed on a labelled corpus of planted variants of real documents.

    .venv/bin/python benchmarks/dedup.py --docs 20000            # default-size run
    .venv/bin/python benchmarks/dedup.py --docs 1000000 --no-peers   # the full-size run (hours on 2 cores)

What it does:
1. builds the corpus (tools.planted_dedup): `--bases` real base documents with 11 planted variants
   each (labels = measured Jaccard / containment), plus real-word Markov filler up to `--docs`;
   writes JSONL shards to OUT/corpus;
2. runs OUR dedup stage end to end through the real runner on Spark (read -> dedup -> Parquet
   shards, ledger, manifest), sampling CPU time and RSS of the whole process tree;
3. runs datatrove's 4-stage MinHash (signatures -> buckets -> cluster -> filter) on the same JSONL in
   its own venv (.bench/datatrove-venv; see benchmarks/dedup_datatrove.py for how to build it),
   once at its default 14x8 and once at the bands x rows our threshold gives;
4. runs datasketch's MinHashLSHEnsemble for containment (in-memory, one process) on the same docs;
5. prints near-duplicate precision/recall/F1, containment recall/precision, MB/core-hour, docs/s and
   peak memory side by side, and writes OUT/results.json.

Throughput is given two ways: per *allocated* core-hour (wall time x cores of the Spark master) and
per *used* CPU-hour (CPU seconds of the process tree). On a shared machine the first understates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402
from tools.planted_dedup import Label, build_corpus  # noqa: E402

PEER_VENV = ROOT / ".bench" / "datatrove-venv"


class TreeMonitor:
    """Samples CPU seconds and RSS of this process and all its descendants (JVM, Python workers)."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak_rss, self.cpu = interval, 0, {}
        self.timeline: list[tuple[float, int]] = []  # (seconds, RSS MB) every ~30 s: shows whether memory stays flat
        self.t0 = time.time()
        self._stop = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.page = os.sysconf("SC_PAGE_SIZE")

    def _tree(self) -> list[int]:
        kids: dict[int, list[int]] = defaultdict(list)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
                    kids[ppid].append(int(d))
                except (OSError, IndexError, ValueError):
                    pass
        out, todo = [], [os.getpid()]
        while todo:
            p = todo.pop()
            out.append(p)
            todo += kids.get(p, [])
        return out

    def sample(self) -> None:
        rss = 0
        for p in self._tree():
            try:
                f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                self.cpu[p] = max(self.cpu.get(p, 0), (int(f[11]) + int(f[12])) / self.tick)
                rss += int(f[21]) * self.page
            except (OSError, IndexError, ValueError):
                pass
        self.peak_rss = max(self.peak_rss, rss)
        now = time.time() - self.t0
        if not self.timeline or now - self.timeline[-1][0] >= 30:
            self.timeline.append((round(now), rss // 2**20))

    def __enter__(self) -> TreeMonitor:
        self.sample()
        self.cpu0 = sum(self.cpu.values())
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __exit__(self, *a: object) -> None:
        self.sample()
        self._stop.set()
        self.cpu_s = sum(self.cpu.values()) - self.cpu0


def write_corpus(out: Path, docs: int, bases: int, seed: int, jump: float) -> tuple[list[Label], int, dict[str, str]]:
    cdir = out / "corpus"
    cdir.mkdir(parents=True, exist_ok=True)
    for f in cdir.glob("*.jsonl"):
        f.unlink()
    labels: list[Label] = []
    nbytes, n, part = 0, 0, 0
    kinds: dict[str, str] = {}
    ext = eval_data_path()
    for recs, labs in build_corpus(docs, ROOT, ext if ext.exists() else None, planted_bases=bases, seed=seed,
                                   filler_jump=jump):
        labels += labs
        with (cdir / f"part-{part:05d}.jsonl").open("w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
                nbytes += len(r["text"].encode("utf-8"))
                if r["kind"] != "filler":
                    kinds[r["id"]] = r["kind"]
        n += len(recs)
        part += 1
    return labels, nbytes, kinds


def run_ours(out: Path, args: argparse.Namespace) -> dict:
    from curation.config import load_config
    from curation.engine.runner import run_pipeline
    from curation.engine.spark import get_spark

    sets = [f"input.paths=[{out / 'corpus'}]", f"output.dir={out / 'ours'}", f"spark.master={args.master}",
            f"spark.driver_memory={args.driver_memory}", f"spark.shuffle_partitions={args.partitions}",
            f"dedup.threshold={args.threshold}", f"dedup.num_perm={args.num_perm}", "output.write_rejected=false",
            f"dedup.containment={'false' if args.no_containment else 'true'}", "spark.progress=false", *args.set]
    cfg = load_config(None, sets)
    import shutil

    shutil.rmtree(out / "ours", ignore_errors=True)
    spark = get_spark(cfg.spark)
    t0 = time.time()
    with TreeMonitor() as mon:
        manifest = run_pipeline(cfg, stages=["dedup"], spark=spark)
    wall = time.time() - t0
    import pyarrow.dataset as ds

    st = manifest["stages"][-1]
    ledger = ds.dataset(out / "ours" / st["ledger"]).to_table(columns=["source_id", "decision", "reason", "related_id"])
    rows = {r["source_id"]: r for r in ledger.to_pylist() if r["decision"] != "kept"}
    spark.stop()
    return {"wall_s": round(wall, 1), "cpu_s": round(mon.cpu_s, 1), "peak_rss_mb": round(mon.peak_rss / 2**20),
            "rss_timeline_mb": mon.timeline,
            "stage_s": {s["name"]: s["seconds"] for s in manifest["stages"]}, "dedup_stats": st.get("extra", {}).get("dedup", {}),
            "dropped": rows}


def run_datatrove(out: Path, buckets: int, rows: int, workers: int) -> dict | None:
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        print(f"datatrove venv missing at {PEER_VENV}: see benchmarks/dedup_datatrove.py to build it", file=sys.stderr)
        return None
    t0 = time.time()
    with TreeMonitor() as mon:
        proc = subprocess.run([str(py), str(ROOT / "benchmarks" / "dedup_datatrove.py"), str(out / "corpus"),
                               str(out / f"datatrove-{buckets}x{rows}"), "--buckets", str(buckets), "--rows", str(rows),
                               "--workers", str(workers), "--tasks", str(workers)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return None
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # its own rusage misses the executor's forkserver workers; the sampled process tree sees them
    res.update(wall_total_s=round(time.time() - t0, 1), peak_rss_mb=round(mon.peak_rss / 2**20),
               cpu_self_reported_s=res.pop("cpu_s"), cpu_s=round(mon.cpu_s, 1))
    return res


def near_metrics(removed: set[str], labels: list[Label], t: float) -> dict:
    """Doc-level: each group {base} ∪ {variants with Jaccard >= t to it} should lose exactly k-1 docs."""
    groups: dict[str, set[str]] = defaultdict(set)
    for lab in labels:
        if lab.kind in ("merged_part", "wrapped_base"):
            continue
        groups[lab.base_id].add(lab.base_id)
        if lab.jaccard >= t:
            groups[lab.base_id].add(lab.variant_id)
    member = {d for g in groups.values() for d in g if len(g) > 1}
    tp = fp = fn = 0
    for g in groups.values():
        k = len(g)
        if k < 2:
            continue
        r = len(removed & g)
        tp += min(r, k - 1)
        fp += max(0, r - (k - 1))
        fn += (k - 1) - min(r, k - 1)
    fp += len(removed - member)
    p = tp / (tp + fp) if tp + fp else 1.0
    rc = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(rc, 4),
            "f1": round(2 * p * rc / (p + rc), 4) if p + rc else 0.0}


def load_texts(out: Path, keep: set[str]) -> dict[str, str]:
    texts = {}
    for f in sorted((out / "corpus").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            r = json.loads(line)
            if r["id"] in keep:
                texts[r["id"]] = r["text"]
    return texts


def containment_metrics(out: Path, dropped: dict[str, dict], labels: list[Label], t: float) -> dict:
    """Recall: planted excerpts/truncations (C >= t to their base) that were dropped (any reason) naming a
    document that really contains them (C >= t, measured). Precision: share of `contained` drops whose
    measured containment in the named document is >= t (chained drops name the final kept document)."""
    from curation.stages.dedup.shingles import containment, shingle_set

    want = [lab for lab in labels if lab.kind in ("excerpt", "truncation") and lab.containment >= t]
    contained = {s: r for s, r in dropped.items() if r["reason"] == "contained"}
    need = {lab.variant_id for lab in want} | set(contained)
    need |= {dropped[s]["related_id"] for s in need if s in dropped}
    texts = load_texts(out, need)
    cache: dict[str, object] = {}

    def sh(d: str):
        if d not in cache:
            cache[d] = shingle_set(texts.get(d, ""))
        return cache[d]

    def ok(s: str) -> bool:
        r = dropped.get(s)
        return bool(r) and containment(sh(s), sh(r["related_id"])) >= t

    hit = sum(ok(lab.variant_id) for lab in want)
    good = sum(ok(s) for s in contained)
    return {"planted_pairs": len(want), "recall": round(hit / len(want), 4) if want else None,
            "contained_drops": len(contained), "precision": round(good / len(contained), 4) if contained else None,
            "contained_drops_outside_planted": sum(1 for s in contained if s.startswith("fill/"))}


def run_ensemble(out: Path, labels: list[Label], args: argparse.Namespace) -> dict:
    """datasketch MinHashLSHEnsemble on the same shingles/signatures (our values = datasketch affine32)."""
    import pyarrow as pa
    from datasketch import LeanMinHash, MinHash, MinHashLSHEnsemble

    from curation.stages.dedup.features import FeatureTransform
    from curation.stages.dedup.shingles import containment

    texts, ids = [], []
    for f in sorted((out / "corpus").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            r = json.loads(line)
            ids.append(r["id"])
            texts.append(r["text"])
            if len(ids) >= args.ensemble_docs:
                break
        if len(ids) >= args.ensemble_docs:
            break
    nperm = 128
    fn = FeatureTransform(nperm, 1, 5)
    t0 = time.time()
    feats = [fn(pa.RecordBatch.from_pydict({"doc_id": ids[i:i + 2000], "text": texts[i:i + 2000]}))
             for i in range(0, len(ids), 2000)]
    sig = [np.frombuffer(b, "<u4") for f in feats for b in f.column("sig_min").to_pylist()]
    sizes = [s for f in feats for s in f.column("n_shingles").to_pylist()]
    shs = [np.frombuffer(b, "<u8") for f in feats for b in f.column("shingles").to_pylist()]
    t_feat = time.time() - t0
    mh = [LeanMinHash(MinHash(num_perm=nperm, hashvalues=s, scheme="affine32")) for s in sig]
    ok = [i for i, s in enumerate(sizes) if s >= 20]
    t0 = time.time()
    ens = MinHashLSHEnsemble(threshold=args.containment_threshold, num_perm=nperm, num_part=16, m=8)
    ens.index([(i, mh[i], sizes[i]) for i in ok])
    t_index = time.time() - t0
    pos = {d: i for i, d in enumerate(ids)}
    want = [lab for lab in labels if lab.kind in ("excerpt", "truncation") and lab.containment >= args.containment_threshold
            and lab.variant_id in pos and lab.base_id in pos]
    t0 = time.time()
    n_c = n_true = 0
    found = 0
    wanted = {(pos[lab.variant_id], pos[lab.base_id]) for lab in want}
    for q in ok:
        for x in ens.query(mh[q], sizes[q]):
            if x == q or sizes[x] < sizes[q]:
                continue
            n_c += 1
            n_true += containment(shs[q], shs[x]) >= args.containment_threshold
            found += (q, x) in wanted
    t_query = time.time() - t0
    return {"docs": len(ids), "feature_s": round(t_feat, 1), "index_s": round(t_index, 1), "query_s": round(t_query, 1),
            "candidates": n_c, "candidate_precision": round(n_true / n_c, 4) if n_c else None,
            "recall_planted": round(found / len(wanted), 4) if wanted else None, "planted_pairs": len(wanted)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--bases", type=int, default=200)
    ap.add_argument("--out", default="/tmp/dedup-bench")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--filler-jump", type=float, default=0.25,
                    help="Markov filler: chance per word of a unigram jump (0 = the pure bigram chain of earlier runs; "
                         "see tools.planted_dedup.MarkovFiller)")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--containment-threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--no-containment", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--ensemble-docs", type=int, default=20000)
    ap.add_argument("--skip-corpus", action="store_true", help="reuse OUT/corpus and OUT/labels.json")
    ap.add_argument("--set", nargs="*", default=[], help="extra config overrides for our run (key=value)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.skip_corpus:
        meta = json.loads((out / "labels.json").read_text())
        labels, nbytes = [Label(**x) for x in meta["labels"]], meta["bytes"]
    else:
        labels, nbytes, _ = write_corpus(out, args.docs, args.bases, args.seed, args.filler_jump)
        (out / "labels.json").write_text(json.dumps({"bytes": nbytes, "labels": [vars(x) for x in labels]}))
    mb = nbytes / 1e6
    cores = int(args.master.split("[")[1].rstrip("]")) if "[" in args.master and args.master[-2] != "*" else os.cpu_count()
    print(f"corpus: {args.docs} docs, {mb:.1f} MB text, {len(labels)} labelled pairs ({time.time() - t0:.0f}s to build)")
    results: dict = {"docs": args.docs, "mb": round(mb, 2), "cores": cores, "machine_load": os.getloadavg()}

    ours = run_ours(out, args)
    removed_near = {s for s, r in ours["dropped"].items() if r["reason"] in ("exact_duplicate", "near_duplicate")}
    ours_row = {"system": "ours (Spark)", "wall_s": ours["wall_s"], "cpu_s": ours["cpu_s"], "peak_rss_mb": ours["peak_rss_mb"],
                **near_metrics(removed_near, labels, args.threshold)}
    rows = [ours_row]
    results["ours"] = {k: v for k, v in ours.items() if k != "dropped"}
    results["ours"]["containment"] = containment_metrics(out, ours["dropped"], labels, args.containment_threshold)
    if not args.no_peers:
        from curation.stages.dedup.config import DedupConfig

        b, r = DedupConfig(threshold=args.threshold, num_perm=args.num_perm).band_rows()
        for bb, rr in [(14, 8), (b, r)]:
            dt = run_datatrove(out, bb, rr, cores)
            if dt:
                rows.append({"system": f"datatrove {bb}x{rr}", "wall_s": dt["wall_s"], "cpu_s": dt["cpu_s"],
                             "peak_rss_mb": dt["peak_rss_mb"], **near_metrics(set(dt["removed"]), labels, args.threshold)})
                results[f"datatrove_{bb}x{rr}"] = {k: v for k, v in dt.items() if k != "removed"}
        results["datasketch_ensemble"] = run_ensemble(out, labels, args)
    for row in rows:
        row["docs_per_s"] = round(args.docs / row["wall_s"], 1)
        row["MB_per_alloc_core_h"] = round(mb / (row["wall_s"] * cores / 3600), 1)
        row["MB_per_cpu_h"] = round(mb / (row["cpu_s"] / 3600), 1) if row["cpu_s"] else None
    results["near_table"] = rows
    print(f"\nnear-duplicates (Jaccard >= {args.threshold}), {args.docs} docs, {mb:.1f} MB, master {args.master}, "
          f"load avg {os.getloadavg()[0]:.1f}")
    cols = ["system", "precision", "recall", "f1", "wall_s", "cpu_s", "docs_per_s", "MB_per_alloc_core_h", "MB_per_cpu_h", "peak_rss_mb"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row.get(c)) for c in cols) + " |")
    c = results["ours"]["containment"]
    print(f"\ncontainment (C >= {args.containment_threshold}), ours: recall on planted excerpts/truncations {c['recall']} "
          f"({c['planted_pairs']} pairs); {c['contained_drops']} `contained` drops, precision (measured C to the named "
          f"kept doc >= t) {c['precision']}, drops among filler {c['contained_drops_outside_planted']}")
    if "datasketch_ensemble" in results:
        print(f"datasketch MinHashLSHEnsemble (in memory, one process): {results['datasketch_ensemble']}")
    st = results["ours"]["dedup_stats"]
    print(f"ours, stage facts: {json.dumps({k: v for k, v in st.items() if k != 'containment_plan'})}")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
