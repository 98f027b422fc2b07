"""Buckets, the plan (Python, CLI --json) and the select stage on Spark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.engine.histogram import histogram_files, histogram_from_arrays, quality_buckets
from curation.stages.select.config import SelectConfig
from curation.stages.select.fit import BucketFit, Laws
from curation.stages.select.plan import make_plan

B = [-0.30, -0.25, -0.21, -0.18, -0.16]


def _docs(n: int = 1000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    tokens = rng.integers(50, 500, n)
    ids = [f"d{i}" for i in range(n)]
    return pa.table({
        "doc_id": ids, "source_id": ids, "source": ["t"] * n, "source_type": ["jsonl"] * n,
        "text": [f"document {i} " * 5 for i in range(n)],
        "token_count": pa.array(tokens, pa.int64()), "quality_score": pa.array(scores, pa.float64()),
    })


def _laws(pool_tokens_unit: float = 1.0) -> Laws:
    return Laws(form="paper", a=0.022, d=0.1, unit_tokens=1.0,
                buckets=[BucketFit(i + 1, b, 3.0, 5, 0.0, 1.0, 0.0) for i, b in enumerate(B)],
                sse=0.0, rmse=0.0, r2=1.0, points=25)


def test_equal_token_buckets():
    t = _docs(5000)
    hist = histogram_from_arrays([(t["quality_score"].to_numpy(), t["token_count"].to_numpy().astype(float))], 10_000)
    buckets = quality_buckets(hist, 10)
    total = sum(b.tokens for b in buckets)
    assert total == int(t["token_count"].to_numpy().sum())
    for b in buckets:
        assert abs(b.tokens - total / 10) < 0.01 * total  # equal tokens to within a few documents
    assert [b.threshold for b in buckets] == sorted([b.threshold for b in buckets], reverse=True)
    scores = t["quality_score"].to_numpy()
    top = t["token_count"].to_numpy()[scores >= buckets[0].threshold].sum()
    assert top == buckets[0].tokens


def test_heavy_ties_leave_empty_buckets_not_errors():
    scores = np.array([1.0] * 90 + list(np.linspace(0, 0.5, 10)))
    hist = histogram_from_arrays([(scores, np.ones(100) * 10)], 1000)
    buckets = quality_buckets(hist, 10)
    assert sum(b.tokens for b in buckets) == 1000
    assert buckets[0].tokens == 900 and all(b.tokens == 0 for b in buckets[1:9])


def test_plan_widens_with_budget_on_worked_example():
    """Ten equal buckets of 128 units; the laws of docs/PAPERS.md 4e.2; the pool never narrows as N grows."""
    hist = histogram_from_arrays([(np.linspace(0.0005, 0.9995, 1000), np.full(1000, 1.28))], 1000)
    cfg = SelectConfig(tau_scaling="pools", max_repetitions=1000)
    ks = []
    for m in (1, 2, 4, 8, 16, 32, 64):
        plan = make_plan(int(m * 128), histogram=hist, laws=_laws(), cfg=cfg)
        ks.append(plan["k"])
        for key in ("pool_fraction", "threshold", "repetitions", "predicted_loss"):
            assert plan[key] is not None
    assert ks == [1, 1, 1, 2, 2, 2, 3]
    assert ks == sorted(ks)


def test_plan_guard_rails_and_fallback():
    hist = histogram_from_arrays([(np.linspace(0, 1, 1000), np.full(1000, 100.0))], 1000)
    small = make_plan(5_000, histogram=hist, cfg=SelectConfig())
    assert small["k"] == 1 and small["method"] == "budget_fits_best_bucket"
    big = make_plan(200_000, histogram=hist, cfg=SelectConfig(fallback_repetitions=4))
    assert big["method"] == "repetition_cap" and big["passes"] <= 4 and big["predicted_loss"] is None
    assert big["recycle"]["buckets"] == [big["k"] + 1]
    capped = make_plan(10_000 * 40, histogram=hist, cfg=SelectConfig(max_repetitions=16, candidates=2))
    assert capped["candidates"][0]["allowed"] is False and "max_repetitions" in capped["candidates"][0]["excluded_because"]
    with pytest.raises(ValueError, match="budget"):
        make_plan(0, histogram=hist)


def test_plan_cli_json_and_plot(tmp_path, capsys):
    from curation.stages.select.plan import main

    pq.write_table(_docs(800), tmp_path / "docs.parquet")
    laws_path = _laws().save(tmp_path / "laws.json")
    plot = tmp_path / "plan.svg"
    assert main(["--input", str(tmp_path / "docs.parquet"), "--budget-tokens", "2e5", "--json",
                 "--laws", str(laws_path), "--plot", str(plot)]) == 0
    plan = json.loads(capsys.readouterr().out)
    for key in ("pool_fraction", "threshold", "repetitions", "predicted_loss"):
        assert key in plan
    assert plot.read_text().startswith("<svg") and "top 10%" in plot.read_text()
    hist = histogram_files([str(tmp_path / "docs.parquet")], bins=1000)
    assert hist.docs.sum() == 800


def test_plan_refuses_documents_without_scores(tmp_path):
    t = _docs(10).drop(["quality_score"])
    pq.write_table(t, tmp_path / "d.parquet")
    with pytest.raises(ValueError, match="quality_score"):
        make_plan(100, inputs=[str(tmp_path / "d.parquet")])


@pytest.mark.spark
def test_select_stage_keeps_pool_and_marks_recycling(spark, tmp_path, make_config):
    from curation.engine.runner import run_pipeline

    t = _docs(600, seed=3)
    scores = t["quality_score"].to_pylist()
    scores[5] = None  # an unscored document is dropped with its own reason, never lost
    t = t.set_column(t.schema.get_field_index("quality_score"), "quality_score", pa.array(scores, pa.float64()))
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(t, src / "docs.parquet")
    budget = int(sum(t["token_count"].to_pylist()) * 0.35)
    cfg = make_config(**{"select.budget_tokens": budget, "select.histogram_bins": 10_000})
    out = tmp_path / "run"
    manifest = run_pipeline(cfg, stages=["select"], inputs=[str(src)], out_dir=str(out), spark=spark)
    st = manifest["stages"][-1]
    assert st["docs"]["in"] == 600 == st["docs"]["kept"] + st["docs"]["dropped"] + st["docs"]["quarantined"]
    plan = st["extra"]["plan"]
    assert plan["method"] == "repetition_cap" and plan["passes"] <= 4
    rejected = pq.read_table(out / st["rejected"]).to_pylist()
    kept = pq.read_table(out / "documents").to_pylist()
    assert {r["reason"] for r in rejected} == {"below_quality_threshold", "no_quality_score"}
    low = [r for r in rejected if r["reason"] == "below_quality_threshold"]
    assert all(r["quality_score"] < plan["threshold"] for r in low)
    assert all(f"threshold {plan['threshold']:.6g}" in r["detail"] for r in low)
    assert all(r["quality_score"] >= plan["threshold"] for r in kept)
    assert sum(r["token_count"] for r in kept) == plan["pool_tokens"]
    recycle = [r for r in low if r["recycle"]]
    assert recycle and all(r["quality_bucket"] == plan["k"] + 1 for r in recycle)
    assert not any(r["recycle"] for r in kept)
    assert {r["quality_bucket"] for r in kept} == set(range(1, plan["k"] + 1))
    assert Path(out / "stages" / "00-select" / "side" / "plan.json").exists() or any(
        p.name == "plan.json" for p in out.rglob("plan.json"))


def test_proxy_runs_write_curves_that_fit(tmp_path, sample_dir):
    """A tiny proxy run per bucket on real sample text (scores made up: this tests the machinery)."""
    import json as _json

    from curation.stages.select.config import ProxyConfig
    from curation.stages.select.fit import fit_laws, read_curves
    from curation.stages.select.proxy import run_proxies

    rows = [_json.loads(line) for line in (sample_dir / "jsonl" / "documents.jsonl").read_text().splitlines()][:120]
    rng = np.random.default_rng(0)
    texts = [r["text"] for r in rows]
    t = pa.table({"doc_id": [r["id"] for r in rows], "text": texts,
                  "token_count": pa.array([max(1, len(x) // 4) for x in texts], pa.int64()),
                  "quality_score": pa.array(rng.random(len(rows)), pa.float64())})
    pq.write_table(t, tmp_path / "docs.parquet")
    cfg = SelectConfig(histogram_bins=1000, proxy=ProxyConfig(buckets=2, multiples=[1.0, 2.0], max_pool_tokens=400,
                                                              reference_docs=4, context=32, batch_size=4, threads=1))
    out, points = run_proxies([str(tmp_path / "docs.parquet")], cfg, tmp_path / "curves.csv")
    assert sorted({p.bucket for p in points}) == [1, 2] and len(points) == 4
    assert read_curves(out) == points
    for b in (1, 2):
        curve = sorted((p for p in points if p.bucket == b), key=lambda p: p.tokens_seen)
        assert curve[1].tokens_seen == pytest.approx(2 * curve[0].tokens_seen, rel=0.05)
        assert all(0 < p.loss < 10 for p in curve)
    summary = _json.loads((tmp_path / "curves.json").read_text())
    assert summary["model"] == "byte-tiny" and summary["reference_docs"] >= 1
    laws = fit_laws(points, d=0.0, polish=False, a_steps=10)
    assert len(laws.buckets) == 2
