"""A run folder with every stage's columns, written with pyarrow, for the UI's tests, screenshots and scale checks.

The real pipeline needs all stages built to produce dedup clusters, PDF routing or rewrites; this writes a
folder in exactly the runner's layout (manifest, documents/, ledger/NN-stage/, rejected/NN-stage/,
stages/NN-stage/documents/) from given texts, so every page of the UI has something to show. The signal
values are synthetic (seeded random numbers), the texts are whatever the caller passes (real sample
documents in the tests). Nothing in the pipeline reads these folders.

    python -m tools.demo_run OUT [--docs N] [--texts sample_data/jsonl/documents.jsonl] [--pdf FILE.pdf]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

XSS_TEXT = ('Harmless looking page <script>window.__xss = 1; alert("xss")</script> and an image '
            '<img src=x onerror="window.__xss = 2"> and a link <a href="javascript:window.__xss=3">click</a>.')
ROWS_PER_SHARD = 250_000
DUP_LINE_MAX = 0.3
QUALITY_THRESHOLD = 0.35


def _id(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def _shards(table: pa.Table, folder: Path) -> list[dict[str, Any]]:
    """Sorted by doc_id and split like the runner does (one file per ROWS_PER_SHARD rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    if table.num_rows and "doc_id" in table.column_names:
        table = table.sort_by("doc_id")
    out = []
    n = max(1, -(-table.num_rows // ROWS_PER_SHARD))
    for i in range(n):
        part = table.slice(i * ROWS_PER_SHARD, ROWS_PER_SHARD)
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(part, path, compression="zstd", row_group_size=50_000)
        out.append({"file": path.name, "rows": part.num_rows, "bytes": path.stat().st_size})
    return out


class _Writer:
    """Writes one stage at a time in the runner's layout and keeps the manifest's funnel."""

    def __init__(self, out: Path, config: dict[str, Any]):
        self.out = out
        self.stages: list[dict[str, Any]] = []
        self.manifest = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), "stages": self.stages,
                         "schema_version": 1, "document_schema_version": 1, "run_id": _id("demo", out.name)[:16],
                         "config_hash": _id("demo", out.name)[:16], "config": config,
                         "inputs": [], "models": {"quality_classifier": {"path": "demo/quality.bin", "sha256": "0" * 64}}}

    def stage(self, name: str, rows: pa.Table, decision: np.ndarray, reason: list | np.ndarray,
              related: list | np.ndarray, detail: list | np.ndarray, last: bool = False,
              extra: dict[str, Any] | None = None) -> pa.Table:
        index = len(self.stages)
        label = f"{index:02d}-{name}"
        n = rows.num_rows
        rows = rows.append_column("decision", pa.array(decision, pa.string()))
        rows = rows.append_column("reason", pa.array(reason, pa.string()))
        rows = rows.append_column("related_id", pa.array(related, pa.string()))
        rows = rows.append_column("detail", pa.array(detail, pa.string()))
        kept_mask = pc.equal(rows["decision"], "kept")
        kept = rows.filter(kept_mask).drop_columns(["decision", "reason", "related_id", "detail"])
        rejected = rows.filter(pc.invert(kept_mask))
        docs_dir = self.out / "documents" if last else self.out / "stages" / label / "documents"
        tokens = np.nan_to_num(rows["token_count"].to_numpy(zero_copy_only=False).astype("float64")).astype("int64")
        counts: dict[str, dict[str, int]] = {"docs": {"in": n}, "tokens": {"in": int(tokens.sum())}}
        reasons: dict[str, dict[str, Any]] = {}
        dec = np.asarray(decision)
        for d in ("kept", "dropped", "quarantined"):
            m = dec == d
            counts["docs"][d] = int(m.sum())
            counts["tokens"][d] = int(tokens[m].sum())
        rs = np.asarray(reason, dtype=object)
        for code in sorted({r for r in rs[dec != "kept"] if r}):
            m = (rs == code) & (dec != "kept")
            reasons[code] = {"decision": str(dec[m][0]), "docs": int(m.sum()), "tokens": int(tokens[m].sum())}
        ledger = pa.table({"doc_id": rows["doc_id"], "source_id": rows["source_id"], "stage": pa.array([name] * n),
                           "decision": rows["decision"], "reason": rows["reason"], "related_id": rows["related_id"],
                           "detail": rows["detail"], "token_count": rows["token_count"].cast(pa.int64()),
                           "run_id": pa.array([self.manifest["run_id"]] * n)})
        entry = {**counts, "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1]["docs"])),
                 "documents": str(docs_dir.relative_to(self.out)), "shards": _shards(kept, docs_dir),
                 "ledger": f"ledger/{label}", "ledger_shards": _shards(ledger, self.out / "ledger" / label),
                 "rejected": f"rejected/{label}" if rejected.num_rows else None,
                 "rejected_shards": _shards(rejected, self.out / "rejected" / label) if rejected.num_rows else [],
                 "index": index, "name": name, "key": _id(label)[:16], "status": "done", "seconds": 0.0,
                 "started_at": self.manifest["created_at"], "finished_at": self.manifest["created_at"],
                 "extra": extra or {}, "models": {}}
        self.stages.append(entry)
        return kept

    def save(self) -> None:
        self.manifest["documents"] = "documents"
        self.manifest["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (self.out / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")


def _with(table: pa.Table, **cols: Any) -> pa.Table:
    for name, values in cols.items():
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    return table


def _kept(n: int) -> tuple[np.ndarray, list, list, list]:
    return np.array(["kept"] * n, dtype=object), [None] * n, [None] * n, [None] * n


def build(out: Path, texts: list[str], pdf: Path | None = None, seed: int = 0) -> Path:
    """Write a demo run folder at `out` from `texts` (plus near-duplicates, containments, an XSS page, a PDF)."""
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = [t for t in texts if t and t.strip()] or ["empty corpus"]
    n0 = len(base)
    # near duplicates (a few words changed) and contained copies (a slice of a longer document)
    k_dup = max(2, n0 // 20)
    dup_of = rng.choice(n0, size=k_dup, replace=n0 < k_dup)
    near = []
    for j, i in enumerate(dup_of):
        words = base[i].split()
        for _ in range(max(1, len(words) // 30)):
            if words:
                words[int(rng.integers(len(words)))] = "CHANGED"
        near.append(" ".join(words) if j % 3 else base[i])  # every third one is an exact copy
    long_docs = [i for i in range(n0) if len(base[i].split()) > 60] or list(range(n0))
    cont_of = rng.choice(long_docs, size=max(1, n0 // 40), replace=len(long_docs) < max(1, n0 // 40))
    contained = [" ".join(base[i].split()[10:50]) for i in cont_of]
    all_texts = base + near + contained + [XSS_TEXT]
    kinds = ["web"] * n0 + ["near"] * len(near) + ["contained"] * len(contained) + ["xss"]
    origin = list(range(n0)) + [int(i) for i in dup_of] + [int(i) for i in cont_of] + [-1]
    n = len(all_texts)
    source_ids = [f"web/{i:07d}" for i in range(n)]
    source_ids[-1] = "web/xss-test"
    tokens = np.array([max(1, int(len(t.split()) * 1.3)) for t in all_texts], dtype="int64")
    table = pa.table({
        "doc_id": pa.array([_id(s, t[:64]) for s, t in zip(source_ids, all_texts, strict=True)]),
        "source_id": pa.array(source_ids), "source": pa.array(["demo/documents.jsonl"] * n),
        "source_type": pa.array(["jsonl"] * n), "url": pa.array([f"https://example{i % 7}.org/p/{i}" for i in range(n)]),
        "domain": pa.array([f"example{i % 7}.org" for i in range(n)]),
        "crawl_date": pa.array([None] * n, pa.timestamp("us", tz="UTC")), "text": pa.array(all_texts),
        "language": pa.array([None] * n, pa.string()), "language_score": pa.array([None] * n, pa.float64()),
        "token_count": pa.array(tokens), "metadata": pa.array(["{}"] * n),
        "pdf_pages_json": pa.array([None] * n, pa.string()),
    })
    if pdf is not None and pdf.is_file():
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(pdf))
        try:
            pages = len(doc)
            ptext = "\n".join(doc[i].get_textpage().get_text_range() for i in range(pages))
        finally:
            doc.close()
        routing = [{"page": p + 1, "parser": "pdfium" if p % 3 else "tesseract", "gate": None,
                    "predicted": {"pdfium": round(float(rng.uniform(0.5, 0.95)), 3),
                                  "tesseract": round(float(rng.uniform(0.4, 0.9)), 3)},
                    "seconds": {"pdfium": 0.002}} for p in range(pages)]
        row = {c: [None] for c in table.column_names}
        row.update(doc_id=[_id("pdf", pdf.name)], source_id=[pdf.name], source=[str(pdf.resolve())], source_type=["pdf"],
                   text=[ptext], token_count=[max(1, int(len(ptext.split()) * 1.3))], metadata=["{}"],
                   pdf_pages_json=[json.dumps(routing)])
        table = pa.concat_tables([table, pa.table(row, schema=table.schema)])
        kinds.append("pdf")
        origin.append(-1)
    n = table.num_rows
    kinds_a = np.array(kinds)
    origin_a = np.array(origin)
    sid = np.array(table["source_id"].to_pylist(), dtype=object)
    config = {"input": {"paths": ["demo/documents.jsonl"]}, "output": {"dir": str(out)},
              "pipeline": {"stages": ["read", "annotate", "dedup", "prune", "select", "rewrite", "export"]},
              "annotate": {"gopher_repetition": {"dup_line_frac": DUP_LINE_MAX}, "min_language_score": 0.5},
              "dedup": {"threshold": 0.8}, "select": {"budget_tokens": 2_000_000, "score_column": "quality_score"}}
    w = _Writer(out, config)
    if pdf is not None and pdf.is_file():
        w.manifest["inputs"] = [str(pdf.resolve().parent)]
    kept = w.stage("read", table, *_kept(n), extra={"files": 2})

    # annotate: language, heuristics, quality; the repetition rule drops a few (never the planted cases)
    m = kept.num_rows
    dup_line = rng.beta(1.2, 8, m)
    planted = np.isin(kinds_a[:m], ["near", "contained", "xss", "pdf"])
    dup_line[planted] = np.minimum(dup_line[planted], DUP_LINE_MAX - 0.05)
    kept = _with(kept, language=["en"] * m, language_score=rng.beta(8, 1.5, m),
                 word_count=pa.array([len(t.split()) for t in kept["text"].to_pylist()], pa.int64()),
                 quality_score=rng.beta(2, 3, m), gopher_repetition__dup_line_frac=dup_line,
                 gopher_quality__mean_word_length=rng.normal(4.8, 0.6, m))
    drop = dup_line > DUP_LINE_MAX
    kept = w.stage("annotate", kept, np.where(drop, "dropped", "kept").astype(object),
                   [("gopher_repetition:dup_line_frac" if d else None) for d in drop], [None] * m,
                   [(f"dup_line_frac {v:.3f} > {DUP_LINE_MAX}" if d else None) for d, v in zip(drop, dup_line, strict=True)])

    # dedup: the planted copies point at their originals
    m = kept.num_rows
    ids = kept["source_id"].to_pylist()
    pos = {s: i for i, s in enumerate(sid)}
    k_of = [kinds_a[pos[s]] for s in ids]
    o_of = [origin_a[pos[s]] for s in ids]
    present = set(ids)
    text_of = dict(zip(ids, kept["text"].to_pylist(), strict=True))
    dec, rea, rel, det, clus, cont = [], [], [], [], [], []
    for s, k, o in zip(ids, k_of, o_of, strict=True):
        target = sid[o] if o >= 0 else None
        if k == "near" and target in present:
            exact = text_of[s] == text_of[target]
            dec.append("dropped")
            rea.append("exact_duplicate" if exact else "near_duplicate")
            rel.append(target)
            det.append("identical text" if exact else "MinHash Jaccard estimate >= 0.8")
            clus.append(int(o))
            cont.append(None)
        elif k == "contained" and target in present:
            dec.append("dropped")
            rea.append("contained")
            rel.append(target)
            det.append("containment 0.97 >= 0.9")
            clus.append(None)
            cont.append(0.97)
        else:
            dec.append("kept")
            rea.append(None)
            rel.append(None)
            det.append(None)
            clus.append(int(o) if o >= 0 and k == "web" else None)
            cont.append(None)
    kept = _with(kept, dup_cluster_id=pa.array(clus, pa.int64()), containment_score=pa.array(cont, pa.float64()))
    kept = w.stage("dedup", kept, np.array(dec, dtype=object), rea, rel, det, extra={"clusters": len(set(clus) - {None})})

    # prune: embeddings, prototype distance; a few semantic duplicates of their cluster's first member
    m = kept.num_rows
    emb = rng.normal(size=(m, 8)).astype("float32")
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cluster = rng.integers(0, max(2, m // 50), m)
    dist = rng.gamma(2.0, 0.12, m)
    first: dict[int, int] = {}
    dec2 = np.array(["kept"] * m, dtype=object)
    rel2: list = [None] * m
    ids = kept["source_id"].to_pylist()
    for i, c in enumerate(cluster):
        if int(c) not in first:
            first[int(c)] = i
        elif dist[i] < 0.05 and ids[i] != "web/xss-test":
            dec2[i] = "dropped"
            rel2[i] = ids[first[int(c)]]
    kept = _with(kept, embedding=pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 8).cast(pa.list_(pa.float32())),
                 cluster_id=pa.array(cluster, pa.int32()), prototype_distance=dist)
    kept = w.stage("prune", kept, dec2, [("semantic_duplicate" if d == "dropped" else None) for d in dec2], rel2,
                   [("cosine similarity 0.97 within cluster" if d == "dropped" else None) for d in dec2],
                   extra={"k": int(cluster.max() + 1)})

    # select: quality threshold; everything below it is recycled (candidate for rewriting)
    m = kept.num_rows
    q = kept["quality_score"].to_numpy(zero_copy_only=False)
    below = (q < QUALITY_THRESHOLD) & (kept["source_id"].to_numpy(zero_copy_only=False) != "web/xss-test")
    kept = _with(kept, quality_bucket=pa.array(np.minimum((q * 10).astype(int), 9), pa.int32()),
                 recycle=pa.array(below))
    sel = w.stage("select", kept, np.where(below, "dropped", "kept").astype(object),
                  [("below_quality_threshold" if b else None) for b in below], [None] * m,
                  [(f"quality_score {v:.3f} < {QUALITY_THRESHOLD}" if b else None) for b, v in zip(below, q, strict=True)],
                  extra={"threshold": QUALITY_THRESHOLD, "pool_fraction": float(1 - below.mean()), "repetitions": 1.0})

    # rewrite: recycled documents come back as new rows pointing at their original
    recycled = kept.filter(pa.array(below))
    r = min(recycled.num_rows, max(1, m // 10))
    rw = recycled.slice(0, r)
    new_text = [f"In short: {t[:400]}\n\nA clearer version of the same content, rewritten for the demo run."
                for t in rw["text"].to_pylist()]
    rw = _with(rw, doc_id=[_id("rewrite", s) for s in rw["source_id"].to_pylist()],
               source_id=[f"{s}#rewrite" for s in rw["source_id"].to_pylist()], source_type=["rewrite"] * r,
               text=new_text, quality_score=rng.beta(4, 2, r),
               word_count=pa.array([len(t.split()) for t in new_text], pa.int64()),
               token_count=pa.array([max(1, int(len(t.split()) * 1.3)) for t in new_text], pa.int64()))
    both = pa.concat_tables([sel, rw])
    related = [None] * sel.num_rows + recycled["source_id"].to_pylist()[:r]
    kept = w.stage("rewrite", both, *[_kept(both.num_rows)[0]], [None] * both.num_rows, related,
                   [None] * sel.num_rows + ["rewrite of a recycled document"] * r, extra={"rewrites": r})
    w.stage("export", kept, *_kept(kept.num_rows), last=True)
    w.save()
    return out


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """n short made-up documents (for scale checks, where the texts' content does not matter)."""
    rng = np.random.default_rng(seed)
    vocab = np.array("the of data model page text web quality score token filter corpus budget run stage".split())
    lens = rng.integers(40, 120, n)
    words = vocab[rng.integers(0, len(vocab), int(lens.sum()))]
    out, i = [], 0
    for k, ln in enumerate(lens):
        out.append(f"doc {k} " + " ".join(words[i:i + ln]))
        i += ln
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.demo_run", description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--texts", help="JSONL file with a `text` field per line (default: synthetic texts)")
    p.add_argument("--docs", type=int, default=2000, help="number of documents when texts are synthetic")
    p.add_argument("--pdf", help="a PDF to include as a routed PDF document")
    a = p.parse_args(argv)
    if a.texts:
        texts = [json.loads(ln).get("text") or "" for ln in Path(a.texts).read_text(encoding="utf-8").splitlines() if ln]
    else:
        texts = synthetic_texts(a.docs)
    build(Path(a.out), texts, Path(a.pdf) if a.pdf else None)
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
