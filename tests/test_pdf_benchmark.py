"""benchmarks/pdf_routing.py: the damaged-share sweep (budgets, oracle bound, page classes) and the ranking comparison."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import pdf_routing as bench  # noqa: E402

from curation.stages.ingest.pdf.features import FEATURES, PageStructure  # noqa: E402
from tools.pdf.trainset import PageRecord  # noqa: E402


def test_knapsack_bound_is_an_upper_bound_of_every_subset():
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 8))
        gain, cost = rng.normal(0.2, 0.4, n), rng.uniform(0.1, 2.0, n)
        room = float(rng.uniform(-0.5, 4.0))
        best = max((sum(gain[list(c)]) for r in range(n + 1) for c in itertools.combinations(range(n), r)
                    if sum(cost[list(c)]) <= room), default=0.0)
        assert bench._knapsack_bound(gain, cost, room) >= best - 1e-9
    assert bench._knapsack_bound(np.array([0.5, 0.2]), np.array([1.0, 1.0]), 5.0) == pytest.approx(0.7)
    assert bench._knapsack_bound(np.array([0.5]), np.array([2.0]), 1.0) == pytest.approx(0.25)
    assert bench._knapsack_bound(np.array([0.5]), np.array([1.0]), 0.0) == 0.0


def _draw_inputs(n_digital: int = 30, n_damaged: int = 10):
    n = n_digital + n_damaged
    pred = np.array([[0.95, 0.9, 0.85]] * n_digital + [[0.0, 0.0, 0.8]] * n_damaged)
    gates = [None] * n_digital + ["no_text_layer"] * n_damaged
    sc = np.array([[1.0, 1.0, 0.9]] * n_digital + [[0.0, 0.0, 0.8]] * n_damaged)
    sec = np.array([[0.01, 0.02, 1.0]] * n)
    return pred, gates, {m: sc for m, _ in bench.METRICS}, sec


def test_sweep_draw_budgets_by_pages_and_by_measured_seconds():
    pred, gates, score, sec = _draw_inputs()
    got = bench.sweep_draw(pred, gates, score, sec, alpha=0.1, budget_fraction=0.1, ranking="tiered")
    exp_acc = (30 * 0.9 + 10 * 0.8) / 40
    # alpha: floor(0.1 * 40) = 4 scans OCRed, the router and the oracle agree
    a = got["alpha"]
    assert a["router_bleu"] == pytest.approx(100 * ((30 + 4 * 0.8) / 40 - exp_acc))
    assert a["oracle_bleu"] == pytest.approx(a["router_bleu"])
    assert a["x_router"] == pytest.approx(40.0 / (0.4 + 4.0))
    # seconds: 4.0 s allowed, 0.4 s cheap pass -> 3 whole OCR pages for the router, 3.6 pages' worth for the bound
    s = got["seconds"]
    assert s["x_router"] >= 10.0 and s["x_router"] == pytest.approx(40.0 / 3.4)
    assert s["router_car"] == pytest.approx(100 * ((30 + 3 * 0.8) / 40 - exp_acc))
    assert s["oracle_car"] == pytest.approx(100 * ((30 + 3.6 * 0.8) / 40 - exp_acc))
    for budget in ("alpha", "seconds"):
        for m, _ in bench.METRICS:
            assert got[budget][f"oracle_{m}"] >= got[budget][f"router_{m}"] - 1e-9


def test_page_class_tells_scanned_pages_of_mixed_documents_apart():
    def rec(area):
        return SimpleNamespace(structure=PageStructure(image_area_frac=area))

    mixed = SimpleNamespace(kind="mixed")
    assert bench.page_class(mixed, rec(1.0)) == "mixed_scan"
    assert bench.page_class(mixed, rec(0.1)) == "digital"
    assert bench.page_class(SimpleNamespace(kind="garbled"), rec(1.0)) == "garbled"
    assert bench.page_class(SimpleNamespace(kind="digital"), rec(0.6)) == "digital"


class _Model:
    """Predicts from the first feature: 1 = a scan (no text layer, OCR helps), 0 = born-digital."""

    parsers = ["pdfium", "pypdf", "tesseract"]

    def align(self, X, names):
        assert list(names) == list(FEATURES)
        return X

    def predict(self, X):
        scan = X[:, :1]
        return np.hstack([1 - scan, 1 - scan, 0.8 + 0 * scan])


def _doc(name: str, kind: str, scan: bool) -> bench.Doc:
    feats = [1.0 if scan else 0.0] + [0.0] * (len(FEATURES) - 1)
    s = {"pdfium": 0.0 if scan else 1.0, "pypdf": 0.0 if scan else 1.0, "tesseract": 0.8 if scan else 0.9}
    r = PageRecord(name, kind, 1, feats, {p: {"car": v, "bleu": v, "word_f1": v} for p, v in s.items()},
                   {"pdfium": 0.01, "pypdf": 0.02, "tesseract": 1.0},
                   {"pdfium": "" if scan else "born digital text " * 20, "pypdf": "", "tesseract": "x"}, "truth")
    r.structure = PageStructure(image_area_frac=1.0 if scan else 0.0, n_image_objects=int(scan))
    return bench.Doc(name, kind, [r])


def test_damage_sweep_marks_the_default_mix_and_finds_where_the_target_breaks(capsys):
    docs = [_doc(f"d{i}", "digital", False) for i in range(7)] + [_doc(f"s{i}", "image", True) for i in range(3)]
    out = bench.damage_sweep(docs, "toy", _Model(), alpha=0.1, budget_fraction=0.1, shares=[0.0, 0.1, 0.4],
                             n_pages=100, draws=2, seed=0)
    assert out["default_share"] == pytest.approx(0.3)
    assert sorted(out["shares"]) == [0.0, 0.1, 0.3, 0.4]
    text = capsys.readouterr().out
    assert "| 30.0% (default) |" in text and "the row marked 'default'" in text
    # no damaged pages: the router keeps the perfect text layers and beats OCR by 10 points
    assert out["shares"][0.0]["alpha"]["router_bleu"]["mean"] == pytest.approx(10.0)
    # 40 % scans, 10 % budget: 30 % of the pages stay empty, no router can make that up
    assert out["shares"][0.4]["alpha"]["oracle_bleu"]["mean"] < -1.0
    holds = out["holds_up_to"]["alpha"]
    assert holds["router_bleu"] == 0.1  # 10 % scans all fit the budget (+9 points), 30 % do not (-9)
    assert holds["router_bleu"] <= holds["oracle_bleu"]
    for v in out["shares"].values():
        assert v["seconds"]["x_router"]["min"] >= 10.0 - 1e-9


def test_compare_rankings_reports_both_rules_and_the_oracle(capsys):
    docs = [_doc(f"d{i}", "digital", False) for i in range(8)] + [_doc(f"s{i}", "image", True) for i in range(2)]
    out = bench.compare_rankings(docs, "toy", _Model(), [0.1, 0.2])
    for alpha in (0.1, 0.2):
        assert set(out["alphas"][alpha]) == {"tiered", "improvement", "oracle"}
    assert out["alphas"][0.2]["tiered"]["image_reach"] == 1.0
    assert out["alphas"][0.1]["tiered"]["image_reach"] == 0.5
    assert "| 0.2 | improvement |" in capsys.readouterr().out


def test_sweep_draw_budget_in_predicted_seconds():
    """The router's own seconds accounting: OCR pages in rank order while their predicted seconds fit; the oracle is
    the knapsack bound at the measured seconds the router spent (the same throughput)."""
    pred, gates, score, sec = _draw_inputs()
    costs = np.array([1.0] * 30 + [2.0] * 10)  # the scans are predicted twice as slow as they measure
    got = bench.sweep_draw(pred, gates, score, sec, alpha=0.1, budget_fraction=0.1, ranking="tiered_per_second",
                           costs=costs, seconds_per_page=0.1)
    exp_acc = (30 * 0.9 + 10 * 0.8) / 40
    p = got["predicted"]  # 4.0 predicted seconds -> 2 scans of 2.0 s
    assert p["router_bleu"] == pytest.approx(100 * ((30 + 2 * 0.8) / 40 - exp_acc))
    assert p["x_router"] == pytest.approx(40.0 / (0.4 + 2.0))
    assert p["oracle_bleu"] == pytest.approx(p["router_bleu"])  # 2 measured OCR seconds buy 2 scans at best
    assert set(got) == {"alpha", "seconds", "predicted"}
    assert set(bench.sweep_draw(pred, gates, score, sec, 0.1, 0.1, "tiered")) == {"alpha", "seconds"}


def test_route_with_a_seconds_budget_uses_the_models_cost_model():
    class _CostModel(_Model):
        costs = {"pdfium": 0.0, "tesseract": 1.0}
        expensive_cost = {"stub": True}

        def predict_seconds(self, X):
            return np.where(X[:, 0] > 0, 1.0, 0.5)

    docs = [_doc(f"d{i}", "digital", False) for i in range(8)] + [_doc(f"s{i}", "image", True) for i in range(2)]
    assert bench.seconds_for_alpha(_CostModel(), 0.2) == pytest.approx(0.2)
    ch = bench.route(docs, 0.2, _CostModel(), "tiered_per_second", "seconds")  # 2.0 s: both scans of 1.0 s
    assert sum(v == "tesseract" for v in ch.values()) == 2
    ch = bench.route(docs, 0.15, _CostModel(), "tiered_per_second", "seconds")  # 1.5 s: one scan
    assert sum(v == "tesseract" for v in ch.values()) == 1
    with pytest.raises(SystemExit, match="cost model"):
        bench.route(docs, 0.2, _Model(), "per_second")
    out = bench.compare_rankings(docs, "toy", _CostModel(), [0.2], ("pages", "seconds"))
    assert {"tiered", "per_second", "tiered_per_second/seconds", "oracle"} <= set(out["alphas"][0.2])
