"""The foundation end to end on real sample documents: read -> normalize -> export on local Spark."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from curation.config import load_config
from curation.engine.runner import run_pipeline
from curation.io.manifest import Manifest

pytestmark = pytest.mark.spark


def test_sample_run_accounts_for_every_document(spark, sample_dir, tmp_path):
    cfg = load_config(None, [f"input.paths=[{sample_dir / 'jsonl'}]", f"output.dir={tmp_path}"])
    manifest = run_pipeline(cfg, stages=["normalize", "export"], spark=spark)
    n_lines = sum(1 for line in open(sample_dir / "jsonl" / "documents.jsonl") if line.strip())
    read = manifest["stages"][0]
    assert read["name"] == "read" and read["docs"]["in"] == n_lines
    for st in manifest["stages"]:
        d = st["docs"]
        assert d["in"] == d["kept"] + d["dropped"] + d["quarantined"]
        ledger = ds.dataset(tmp_path / st["ledger"]).to_table()
        assert ledger.num_rows == d["in"]
        assert set(ledger.column("stage").to_pylist()) == {st["name"]}
    docs = ds.dataset(tmp_path / "documents").to_table()
    assert docs.num_rows == manifest["stages"][-1]["docs"]["kept"]
    ids = json.loads((tmp_path / "manifest.json").read_text())["shards"]
    assert sum(s["rows"] for s in ids) == docs.num_rows
    assert Manifest.load(str(tmp_path)).data["run_id"] == cfg.hash(["read", "normalize", "export"])
