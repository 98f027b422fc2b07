"""Exactly once: a corpus batch killed for real (SIGKILL) at every commit-relevant point converges, on retry, to
the corpus an uninterrupted run makes; a run folder and a corpus take one writer at a time.

Each batch runs in a child process (`curation.io.corpus.curate_batch`, the function the Prefect flow calls)
with `CURATION_FAILPOINT` naming where it dies (curation/engine/failpoints.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.heavy, pytest.mark.spark]

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
POINTS = ["after_stage:dedup", "corpus:after_run", "corpus:after_version_file", "corpus:after_commit"]


def _docs(tag: str, start: int, n: int) -> list[dict]:
    """Distinct documents: 80 pseudo-random words each, so only a copy is a duplicate."""
    import random

    out = []
    for i in range(start, start + n):
        rng = random.Random(i)
        words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(80)]
        out.append({"id": f"{tag}{i}", "text": " ".join(words) + "."})
    return out


def _write(path: Path, docs: list[dict]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def _batch(corpus: Path, landing: Path, config: Path, failpoint: str | None = None) -> int:
    code = ("import sys; from curation.io.corpus import curate_batch; "
            f"print(curate_batch([{str(landing)!r}], {str(corpus)!r}, {str(config)!r})['status'])")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    env.pop("CURATION_FAILPOINT", None)
    if failpoint:
        env["CURATION_FAILPOINT"] = failpoint
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if failpoint is None:
        assert r.returncode == 0, r.stderr[-3000:]
    return r.returncode


def _corpus(corpus: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """The committed version and its documents (doc_id, source_id, text), as a reader sees them."""
    m = json.loads((corpus / "manifest.json").read_text())
    rows = []
    for s in m["shards"]:
        rows += [(r["doc_id"], r["source_id"], r["text"]) for r in pq.read_table(corpus / s).to_pylist()]
    return m["version"], sorted(rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("exactly_once")
    landing = base / "landing"
    landing.mkdir()
    config = base / "c.yaml"
    config.write_text(CONFIG)
    a, b, c = _docs("a", 0, 30), _docs("b", 100, 20), _docs("c", 200, 10)
    files = {"a": a, "b": b + [{**d, "id": f"again-{d['id']}"} for d in a[:10]],
             "c": c + [{**d, "id": f"again-{d['id']}"} for d in b[:5]]}
    _write(landing / "a.jsonl", files["a"])
    after_a = base / "after_a"
    _batch(after_a, landing, config)
    _write(landing / "b.jsonl", files["b"])
    ref_split = base / "ref_split"  # a | b | c
    shutil.copytree(after_a, ref_split)
    _batch(ref_split, landing, config)
    _write(landing / "c.jsonl", files["c"])
    _batch(ref_split, landing, config)
    ref_joined = base / "ref_joined"  # a | b+c
    shutil.copytree(after_a, ref_joined)
    _batch(ref_joined, landing, config)
    (landing / "c.jsonl").unlink()
    return {"base": base, "landing": landing, "config": config, "after_a": after_a, "c": files["c"],
            "ref_split": _corpus(ref_split), "ref_joined": _corpus(ref_joined)}


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
    version, _ = _corpus(corpus)
    assert version == (2 if point == "corpus:after_commit" else 1)  # nothing is visible before the commit
    if point == "after_stage:dedup":
        garbage = gc(str(corpus), dry_run=True)  # the dead batch's index folder is garbage, never state
        assert any("batch=" in g for g in garbage) and any(g.endswith("v0002") for g in garbage)
    _write(landing / "c.jsonl", world["c"])  # the retry sees the same files plus a new one
    try:
        _batch(corpus, landing, world["config"])
    finally:
        (landing / "c.jsonl").unlink()
    expected = world["ref_split"] if point == "corpus:after_commit" else world["ref_joined"]
    assert _corpus(corpus) == expected
    gc(str(corpus))
    assert _corpus(corpus) == expected  # gc removes nothing a committed version reads


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
