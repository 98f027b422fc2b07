"""Dedup on local Spark: connected components, the stage through the runner (ledger, every drop names
a kept document, deterministic reruns), the incremental index, and the Clough & Stevenson corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from curation.config import load_config
from curation.engine.runner import run_pipeline
from curation.stages.dedup.config import DedupConfig
from tools.planted_dedup import build_corpus, read_text

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[1]


def test_connected_components_large_small_star(spark, tmp_path):
    from curation.stages.dedup.components import connected_components

    edges = [(1, 2), (2, 3), (3, 4), (10, 11), (12, 11), (20, 21), (21, 22), (22, 20), (7, 7), (-5, 30), (30, 4)]
    df = spark.createDataFrame(edges, "a long, b long")
    got = {r["node"]: r["component"] for r in connected_components(spark, df, str(tmp_path)).collect()}
    assert got == {1: -5, 2: -5, 3: -5, 4: -5, 30: -5, -5: -5, 10: 10, 11: 10, 12: 10, 20: 20, 21: 20, 22: 20}


def _write_corpus(path: Path, total: int, bases: int, seed: int = 0) -> tuple[list[dict], list]:
    recs, labels = [], []
    for r, lab in build_corpus(total, ROOT, None, planted_bases=bases, seed=seed, filler_batch=500):
        recs += r
        labels += lab
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    return recs, labels


def _run(tmp: Path, inp: Path | str, *sets: str) -> tuple[dict, dict[str, dict]]:
    cfg = load_config(None, [f"input.paths=[{inp}]", f"output.dir={tmp}", "dedup.detailed_stats=false", *sets])
    from curation.engine.spark import get_spark

    manifest = run_pipeline(cfg, stages=["dedup"], spark=get_spark())
    st = manifest["stages"][-1]
    ledger = ds.dataset(tmp / st["ledger"]).to_table().to_pylist()
    return manifest, {r["source_id"]: r for r in ledger}


@pytest.fixture(scope="module")
def planted_run(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dedup")
    recs, labels = _write_corpus(tmp / "in" / "docs.jsonl", 240, 12)
    manifest, ledger = _run(tmp / "out", tmp / "in" / "docs.jsonl")
    return tmp, recs, labels, manifest, ledger


def test_stage_accounts_for_every_document_and_names_kept_docs(planted_run):
    tmp, recs, labels, manifest, ledger = planted_run
    st = manifest["stages"][-1]
    assert st["name"] == "dedup" and st["docs"]["in"] == len(recs) == len(ledger)
    assert st["docs"]["in"] == st["docs"]["kept"] + st["docs"]["dropped"] + st["docs"]["quarantined"]
    reasons = {r["reason"] for r in ledger.values() if r["decision"] == "dropped"}
    assert reasons == {"exact_duplicate", "near_duplicate", "contained"}
    kept = {s for s, r in ledger.items() if r["decision"] == "kept"}
    for r in ledger.values():
        if r["decision"] == "dropped":
            assert r["related_id"] in kept, r  # every drop names a document that is kept
            assert r["detail"]
    by = {lab.variant_id: lab for lab in labels}
    # planted exact copies and shingle-identical variants are always caught
    for kind in ("exact", "normalised"):
        ids = [v for v, lab in by.items() if lab.kind == kind]
        assert all(ledger[i]["decision"] == "dropped" or ledger[by[i].base_id]["decision"] == "dropped" for i in ids)
    # filler text is not a duplicate of anything
    fill = [r for s, r in ledger.items() if s.startswith("fill/")]
    assert sum(r["decision"] == "dropped" for r in fill) == 0
    docs = ds.dataset(tmp / "out" / "documents").to_table()
    assert {"dup_cluster_id", "containment_score", "jaccard_to_representative"} <= set(docs.column_names)
    rej = ds.dataset(tmp / "out" / st["rejected"]).to_table().to_pylist()
    contained = [r for r in rej if r["reason"] == "contained"]
    assert contained and all(r["containment_score"] >= 0.8 for r in contained)


def test_no_component_drops_all_members_and_reruns_are_identical(planted_run, tmp_path):
    tmp, recs, labels, manifest, ledger = planted_run
    st = manifest["stages"][-1]
    rejected = ds.dataset(tmp / "out" / st["rejected"]).to_table().to_pylist()
    kept = ds.dataset(tmp / "out" / "documents").to_table().to_pylist()
    kept_ids = {r["doc_id"] for r in kept}
    clusters = {r["dup_cluster_id"] for r in rejected if r["dup_cluster_id"]}
    assert clusters and clusters <= kept_ids  # every duplicate cluster keeps its representative
    assert all(r["dup_cluster_id"] == r["doc_id"] for r in kept if r["dup_cluster_id"] in clusters)
    _, again = _run(tmp_path / "again", tmp / "in" / "docs.jsonl")
    assert {s: (r["decision"], r["reason"], r["related_id"]) for s, r in ledger.items()} == \
           {s: (r["decision"], r["reason"], r["related_id"]) for s, r in again.items()}


@pytest.mark.heavy
def test_incremental_index_dedups_new_batches_against_old(spark, tmp_path):
    from curation.stages.dedup.incremental import dedup_against_index

    recs, labels = _write_corpus(tmp_path / "all.jsonl", 120, 6, seed=3)
    base = [r for r in recs if r["kind"] in ("base", "filler")]
    # variants whose measured labels make them unambiguous duplicates / containments of their base
    # (case folding is not an identity for every script, e.g. Greek final sigma, so labels decide)
    clear = {lab.variant_id for lab in labels
             if (lab.kind in ("exact", "normalised") and lab.jaccard >= 0.9)
             or (lab.kind == "excerpt" and lab.containment >= 0.9 and lab.jaccard < 0.8)}
    variants = [r for r in recs if r["id"] in clear and len(r["text"].split()) >= 40]
    assert len(variants) >= 10
    cfg = DedupConfig(detailed_stats=False)
    index = str(tmp_path / "index")

    def df(rows):
        return spark.createDataFrame([{"doc_id": r["id"], "source_id": r["id"], "text": r["text"]} for r in rows])

    first = dedup_against_index(spark, df(base), index, cfg, work_dir=str(tmp_path / "w1"))
    assert first.stats["index_docs"] == 0
    assert first.decisions.where("decision = 'dropped'").count() == 0
    # the same batch again: replaces its own entry, is not deduplicated against itself
    again = dedup_against_index(spark, df(base), index, cfg, work_dir=str(tmp_path / "w2"))
    assert again.stats["index_docs"] == 0 and again.decisions.where("decision = 'dropped'").count() == 0
    second = dedup_against_index(spark, df(variants), index, cfg, work_dir=str(tmp_path / "w3"))
    assert second.stats["index_docs"] == len(base)
    dec = {r["doc_id"]: r for r in second.decisions.collect()}
    base_ids = {r["id"] for r in base}
    for r in variants:
        d = dec[r["id"]]
        assert d["decision"] == "dropped" and d["related_id"] in base_ids, (r["id"], d)
    assert {d["reason"] for d in dec.values()} >= {"exact_duplicate", "contained"}
    with pytest.raises(ValueError, match="other parameters"):
        dedup_against_index(spark, df(variants[:2]), index, DedupConfig(num_perm=128, detailed_stats=False), work_dir=str(tmp_path / "w4"))


@pytest.mark.heavy
def test_clough_stevenson_cut_answers_are_caught_and_independent_ones_kept(spark, ext_dir, tmp_path):
    """Real text reuse: `cut` answers copy from the Wikipedia source, `non` answers do not."""
    import csv

    from curation.stages.dedup.pipeline import run_dedup

    base = ext_dir / "near_dup" / "clough_stevenson_2009"
    labels = {r["file"]: r for r in csv.DictReader((base / "labels.csv").open())}
    rows = [{"doc_id": p.name, "source_id": p.name, "text": read_text(p)} for p in sorted((base / "corpus").glob("*.txt"))]
    res = run_dedup(spark, spark.createDataFrame(rows), DedupConfig(containment_threshold=0.5, detailed_stats=False), str(tmp_path / "w"))
    dec = {r["doc_id"]: r for r in res.decisions.collect()}
    flagged = {f for f, d in dec.items() if d["decision"] == "dropped"}
    non = {f for f, r in labels.items() if r["category"] == "non"}
    cut = {f for f, r in labels.items() if r["category"] == "cut"}
    assert not flagged & non
    assert len(flagged & cut) >= 0.5 * len(cut), sorted(flagged)


def test_same_texts_under_other_paths_and_splits_give_the_same_result(spark, tmp_path):
    """Ties between equally ranked documents fall to content, not to the path-derived doc_id: the same
    texts under other file names, split over other files in another order, get the same decisions."""
    recs, _ = _write_corpus(tmp_path / "all.jsonl", 90, 8, seed=11)
    # exact copies tie with their base on every rank key but content; edits and excerpts ride along
    recs = [r for r in recs if r["kind"] in ("base", "filler", "exact", "edit2", "excerpt")]

    def layout(root: Path, parts: int, reverse: bool) -> list[Path]:
        rows = list(reversed(recs)) if reverse else recs
        paths = [root / f"d{i}" / f"part-{i}.jsonl" for i in range(parts)]
        for i, p in enumerate(paths):
            p.parent.mkdir(parents=True)
            p.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows[i::parts]))
        return paths

    results = []
    for name, parts, rev in (("one", 1, False), ("three", 3, True)):
        paths = layout(tmp_path / name, parts, rev)
        _, ledger = _run(tmp_path / f"out-{name}", ",".join(map(str, paths)))
        results.append({s: (r["decision"], r["reason"], r["related_id"]) for s, r in ledger.items()})
    assert results[0] == results[1]
    assert sum(r[0] == "dropped" for r in results[0].values()) >= 20
