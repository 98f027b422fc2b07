"""Exactly once: a corpus batch killed for real (SIGKILL) at every commit-relevant point converges, on retry, to
the corpus an uninterrupted run makes; a run folder and a corpus take one writer at a time.

Each batch runs in a child process (`curation.io.corpus.curate_batch`, the function the Prefect flow calls)
with `CURATION_FAILPOINT` naming where it dies (curation/engine/failpoints.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.corpus_batches import CONFIG, batch_in_child, committed_rows, distinct_docs, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.heavy, pytest.mark.spark]

POINTS = ["after_stage:dedup", "corpus:after_run", "corpus:after_version_file", "corpus:after_commit"]


def _batch(corpus: Path, landing: Path, config: Path, failpoint: str | None = None) -> int:
    rc, err = batch_in_child(corpus, [str(landing)], config, failpoint)
    if failpoint is None:
        assert rc == 0, err
    return rc


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("exactly_once")
    landing = base / "landing"
    landing.mkdir()
    config = base / "c.yaml"
    config.write_text(CONFIG)
    a, b, c = distinct_docs("a", 0, 30), distinct_docs("b", 100, 20), distinct_docs("c", 200, 10)
    files = {"a": a, "b": b + [{**d, "id": f"again-{d['id']}"} for d in a[:10]],
             "c": c + [{**d, "id": f"again-{d['id']}"} for d in b[:5]]}
    write_jsonl(landing / "a.jsonl", files["a"])
    after_a = base / "after_a"
    _batch(after_a, landing, config)
    write_jsonl(landing / "b.jsonl", files["b"])
    ref_split = base / "ref_split"  # a | b | c
    shutil.copytree(after_a, ref_split)
    _batch(ref_split, landing, config)
    write_jsonl(landing / "c.jsonl", files["c"])
    _batch(ref_split, landing, config)
    ref_joined = base / "ref_joined"  # a | b+c
    shutil.copytree(after_a, ref_joined)
    _batch(ref_joined, landing, config)
    (landing / "c.jsonl").unlink()
    return {"base": base, "landing": landing, "config": config, "after_a": after_a, "c": files["c"],
            "ref_split": committed_rows(ref_split), "ref_joined": committed_rows(ref_joined)}


def test_the_references_deduplicate_across_batches(world):
    version, rows = world["ref_joined"]
    ids = [r[1] for r in rows]
    assert version == 2 and len(ids) == len(set(ids)) == 30 + 20 + 10  # every "again-" copy was dropped
    # the batch split changes which copy of a duplicate is kept (the committed one wins), never the content
    assert world["ref_split"][0] == 3 and sorted(r[2] for r in world["ref_split"][1]) == sorted(r[2] for r in rows)


@pytest.mark.parametrize("point", POINTS)
def test_a_batch_killed_at_any_point_converges_on_retry(world, point):
    from curation.io.corpus import gc

    corpus = world["base"] / f"case-{point.replace(':', '_')}"
    shutil.copytree(world["after_a"], corpus)
    landing = world["landing"]
    assert _batch(corpus, landing, world["config"], failpoint=point) == -9  # SIGKILL, no cleanup ran
    version, _ = committed_rows(corpus)
    assert version == (2 if point == "corpus:after_commit" else 1)  # nothing is visible before the commit
    if point == "after_stage:dedup":
        garbage = gc(str(corpus), dry_run=True)  # the dead batch's index folder is garbage, never state
        assert any("batch=" in g for g in garbage) and any(g.endswith("v0002") for g in garbage)
    write_jsonl(landing / "c.jsonl", world["c"])  # the retry sees the same files plus a new one
    try:
        _batch(corpus, landing, world["config"])
    finally:
        (landing / "c.jsonl").unlink()
    expected = world["ref_split"] if point == "corpus:after_commit" else world["ref_joined"]
    assert committed_rows(corpus) == expected
    gc(str(corpus))
    assert committed_rows(corpus) == expected  # gc removes nothing a committed version reads


def test_one_writer_per_run_folder_and_per_corpus(tmp_path):
    from curation.config import load_config
    from curation.engine.runner import run_pipeline
    from curation.io import run_folder as RF
    from curation.io.corpus import CorpusLocked, curate_batch
    from curation.io.locks import Locked, exclusive

    out = tmp_path / "run"
    with exclusive(RF.lock_path_of_run(str(out)), "test"):
        with pytest.raises(Locked, match="is locked by .*pid"):
            run_pipeline(load_config(None), inputs=[str(ROOT / "sample_data" / "jsonl")], out_dir=str(out))
    with exclusive(RF.lock_path(str(tmp_path / "corpus")), "test"):
        with pytest.raises(CorpusLocked):
            curate_batch([str(tmp_path)], str(tmp_path / "corpus"))
