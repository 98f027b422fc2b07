"""annotate end to end on local Spark: real sample documents plus hostile ones, every drop in the ledger."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest

from curation.config import load_config
from curation.engine.runner import run_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.heavy]

ENGLISH = ("The river flows through the old town, past the market square and the cathedral. In the summer the "
           "banks are full of people who come to swim, to fish and to watch the boats. The town has grown slowly "
           "over the centuries, and many of its houses are more than three hundred years old. Visitors often say "
           "that the best time to see it is early in the morning, when the streets are still quiet and the light "
           "is soft. There is a small museum near the bridge that tells the story of the people who lived here.")


def test_annotate_on_spark_accounts_for_every_document(spark, sample_dir, tmp_path):
    extra = tmp_path / "in" / "extra.jsonl"
    extra.parent.mkdir()
    rows = [
        {"id": "english", "text": ENGLISH},
        {"id": "bullets", "text": "\n".join(f"- The shop sells item number {i} at a very good price today" for i in range(60))},
        {"id": "blank", "text": "   "},
        {"id": "binary", "text": "".join(chr(c) for c in range(33, 1500)) * 3},
        {"id": "repeated", "text": (ENGLISH + "\n") * 50},
    ]
    extra.write_text("".join(json.dumps(r) + "\n" for r in rows))
    inputs = [str(sample_dir / "jsonl"), str(extra.parent)]
    cfg = load_config(None, [f"output.dir={tmp_path / 'run'}", "spark.progress=false"])
    manifest = run_pipeline(cfg, stages=["annotate"], inputs=inputs, spark=spark)
    st = manifest["stages"][-1]
    assert st["name"] == "annotate"
    d = st["docs"]
    assert d["in"] == d["kept"] + d["dropped"] + d["quarantined"] == 326 + len(rows)
    reasons = st["reasons"]
    assert any(r.startswith("language:") for r in reasons)
    assert any(r.startswith("gopher_quality:") for r in reasons)
    assert reasons.get("empty", {}).get("docs") == 1
    assert set(manifest["models"]) >= {"language_id", "quality_classifier", "tokenizer"}
    assert all("sha256" in m for m in manifest["models"].values())

    ledger = ds.dataset(tmp_path / "run" / st["ledger"]).to_table().to_pylist()
    assert len(ledger) == d["in"]
    by_id = {r["source_id"]: r for r in ledger}
    assert by_id["english"]["decision"] == "kept"
    assert by_id["bullets"]["reason"].startswith(("gopher_quality:", "gopher_repetition:"))
    assert by_id["repeated"]["reason"].startswith("gopher_repetition:")
    assert by_id["binary"]["decision"] == "dropped"
    for r in ledger:
        if r["decision"] != "kept":
            assert r["reason"] and r["detail"], r

    docs = ds.dataset(tmp_path / "run" / "documents").to_table()
    assert docs.num_rows == d["kept"]
    row = [r for r in docs.to_pylist() if r["source_id"] == "english"][0]
    assert row["language"] == "en" and row["language_score"] > 0.65
    assert 0 <= row["quality_score"] <= 1 and row["word_count"] == len(ENGLISH.split())
    assert 80 < row["token_count"] < 200
    assert row["gopher_repetition__dup_line_frac"] == 0.0
