"""The prune stage end to end on local Spark: real text with planted duplicates, every row accounted for."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from curation.config import load_config
from curation.engine.runner import run_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.heavy]


def corpus(sample_dir, path, n_real: int = 36, n_variants: int = 6) -> dict[str, str]:
    """Real PDF pages from sample_data plus planted near-duplicates.

    A variant differs from its original only after the 64-token truncation, so the pair's embeddings are
    identical: this test is about plumbing and accounting; test_prune_text measures paraphrase-level recall.
    """
    docs = [json.loads(line) for line in open(sample_dir / "jsonl" / "documents.jsonl")]
    real = [d for d in docs if d["id"].startswith("pdftext/")][:n_real]
    rows = [{"id": d["id"], "text": d["text"][:700]} for d in real]
    for i, d in enumerate(real[:n_variants]):
        rows.append({"id": f"variant/{i}", "text": d["text"][:700] + " Copied from an archive in Lisbon."})
    rows.append({"id": "empty-ish", "text": "x"})
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return {r["id"]: r["text"] for r in rows}


def run(spark, tmp_path, src, **sets):
    overrides = [f"input.paths=[{src}]", f"output.dir={tmp_path / 'run'}", "prune.max_seq_length=64",
                 "spark.progress=false", *[f"prune.{k}={v}" for k, v in sets.items()]]
    cfg = load_config(None, overrides)
    manifest = run_pipeline(cfg, stages=["prune"], spark=spark)
    return manifest, tmp_path / "run"


def test_prune_stage_drops_planted_duplicates_and_applies_policy(spark, sample_dir, tmp_path):
    src = tmp_path / "docs.jsonl"
    texts = corpus(sample_dir, src, n_real=24, n_variants=4)
    # D4 composition (docs/PAPERS.md 3e.4): SemDeDup to R_dedup = 0.75, then prototype pruning to R = 0.5 overall
    manifest, out = run(spark, tmp_path, src, keep_fraction=0.5, dedup_keep_fraction=0.75, k=4)
    print(manifest["stages"][-1]["extra"]["timings_driver_s"], manifest["stages"][-1]["seconds"])
    st = manifest["stages"][-1]
    assert st["name"] == "prune"
    d = st["docs"]
    assert d["in"] == len(texts) == d["kept"] + d["dropped"] + d["quarantined"]
    ledger = ds.dataset(out / st["ledger"]).to_table().to_pylist()
    assert len(ledger) == d["in"]
    by_id = {r["source_id"]: r for r in ledger}
    dups = [r for r in ledger if r["reason"] == "semantic_duplicate"]
    # every planted pair loses at least one member (both only when the original itself duplicates an earlier page)
    for i in range(4):
        pair = [by_id[f"variant/{i}"], by_id[list(texts)[i]]]
        assert any(r["reason"] == "semantic_duplicate" for r in pair), pair
    for r in dups:
        assert by_id[r["related_id"]]["reason"] != "semantic_duplicate"
    assert abs(len(dups) - 0.25 * d["in"]) <= 1
    # policy: exactly floor(0.5 n) kept, the rest pruned by prototype distance
    assert d["kept"] == d["in"] // 2
    extra = st["extra"]
    assert extra["policy"]["keep_fraction"] == 0.5 and extra["policy"]["strategy"] == "hard"
    assert extra["semdedup"]["eps_chosen_for_target"] is True
    assert extra["semdedup"]["duplicates"] == len(dups)
    assert extra["kmeans"]["k"] == 4
    assert "prune.embedding" in manifest["models"] and "sha256" in manifest["models"]["prune.embedding"]
    kept = ds.dataset(out / "documents").to_table()
    for col in ("embedding", "cluster_id", "prototype_distance", "semdedup_max_cos"):
        assert col in kept.column_names
    assert kept.column("prototype_distance").null_count == 0
    assert len(kept.column("embedding")[0].as_py()) == 384
    rejected = ds.dataset(out / st["rejected"]).to_table()
    assert set(rejected.column("reason").to_pylist()) <= {"semantic_duplicate", "prototype_pruned"}
    assert rejected.column("prototype_distance").null_count == 0


def test_prune_stage_score_only_keeps_everything_with_scores(spark, sample_dir, tmp_path):
    src = tmp_path / "docs.jsonl"
    texts = corpus(sample_dir, src, n_real=16, n_variants=3)
    manifest, out = run(spark, tmp_path, src, action="score", keep_fraction=0.5, dtype="float16", k=3)
    print(manifest["stages"][-1]["extra"]["timings_driver_s"], manifest["stages"][-1]["seconds"])
    d = manifest["stages"][-1]["docs"]
    assert d["in"] == d["kept"] == len(texts)
    kept = ds.dataset(out / "documents").to_table()
    assert "embedding_f16" in kept.column_names and "embedding" not in kept.column_names
    assert kept.column("prototype_distance").null_count == 0
    scores = dict(zip(kept.column("source_id").to_pylist(), kept.column("semdedup_max_cos").to_pylist(), strict=True))
    assert sum(1 for i in range(3) if max(scores[f"variant/{i}"] or 0, scores[list(texts)[i]] or 0) > 0.99) == 3
    extra = manifest["stages"][-1]["extra"]
    assert extra["policy"]["applied"] is False and extra["semdedup"]["applied"] is False
