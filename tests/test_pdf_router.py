"""Router: budget invariants (docs/PAPERS.md 1c.1-1c.2), validity gate, predictor training/IO, preference alignment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curation.stages.ingest.pdf.features import PageStructure, text_stats
from curation.stages.ingest.pdf.predictor import RouterModel, load_model, r2, train_regression
from curation.stages.ingest.pdf.preferences import (
    Preference,
    align,
    append_preference,
    pairwise_accuracy,
    read_preferences,
)
from curation.stages.ingest.pdf.router import (
    PER_SECOND,
    RANKINGS,
    BudgetRouter,
    Decision,
    GateThresholds,
    alpha_from_budget,
    prefix_within_seconds,
    priority,
    seconds_budget_per_unit,
    validity_gate,
)

NAMES = ["pdfium", "pypdf", "tesseract"]
ROWS = Path(__file__).resolve().parents[1] / "data" / "pdf_router" / "train_pages.jsonl"


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.15, 1.0])
@pytest.mark.parametrize("k", [1, 7, 256])
def test_budget_invariant(alpha, k):
    rng = np.random.default_rng(int(alpha * 100) + k)
    router = BudgetRouter(cheap=["pdfium", "pypdf"], expensive="tesseract", alpha=alpha)
    pred = rng.random((k, 3))
    decisions = router.route(pred, NAMES, [None] * k)
    n_exp = sum(d.parser == "tesseract" for d in decisions)
    proposed = sum(d.proposed_expensive for d in decisions)
    assert n_exp <= math.floor(alpha * k)
    if proposed >= math.floor(alpha * k):
        assert n_exp == math.floor(alpha * k)
    if alpha == 0:
        assert n_exp == 0
    # the chosen ones are those with the largest expected improvement
    chosen = [d.improvement for d in decisions if d.parser == "tesseract"]
    rest = [d.improvement for d in decisions if d.proposed_expensive and d.parser != "tesseract"]
    if chosen and rest:
        assert min(chosen) >= max(rest)


def test_budget_carries_over_batches_and_never_exceeds_alpha():
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.2)
    rng = np.random.default_rng(1)
    total = used = 0
    for k in [3, 1, 4, 2, 10, 5]:
        pred = np.column_stack([rng.random(k) * 0.2, rng.random(k), 0.9 + rng.random(k) * 0.1])
        d = router.route(pred, NAMES, [None] * k)
        total += k
        used += sum(x.parser == "tesseract" for x in d)
        assert used <= math.floor(0.2 * total)
    assert used == math.floor(0.2 * total)  # everything proposed: the allowance is used up exactly


def test_gated_pages_go_first():
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.25)
    pred = np.array([[0.1, 0.1, 0.99]] * 3 + [[0.9, 0.9, 0.5]])
    d = router.route(pred, NAMES, [None, None, None, "no_text_layer"])
    assert d[3].parser == "tesseract" and d[3].predicted["pdfium"] == 0.0
    assert sum(x.parser == "tesseract" for x in d) == 1


def test_alpha_from_budget_keeps_total_time_under_budget():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(10, 500))
        tc, te = float(rng.uniform(0.001, 0.05)), float(rng.uniform(0.5, 3))
        budget = float(rng.uniform(0, 2)) * n
        alpha = alpha_from_budget(budget / n, tc, te)
        assert 0 <= alpha <= 1
        n_exp = math.floor(alpha * n)
        total = n * tc + n_exp * (te - tc)
        assert total <= budget + te or alpha == 0  # within one document's cost (1c.2)
    assert alpha_from_budget(10, 0.01, 1.0) == 1.0
    assert alpha_from_budget(0.001, 0.01, 1.0) == 0.0


def test_validity_gate():
    th = GateThresholds()
    scan = PageStructure(image_area_frac=1.0)
    digital = PageStructure(image_area_frac=0.0, n_text_objects=100)
    assert validity_gate(text_stats(""), scan, th) == "no_text_layer"
    assert validity_gate(text_stats(""), digital, th) is None  # a blank page: OCR would not help
    assert validity_gate(text_stats("(cid:12)(cid:40) " * 50), digital, th) == "cid_garbage"
    assert validity_gate(text_stats("\ufffd\ufffd word " * 50), digital, th) == "replacement_chars"
    assert validity_gate(text_stats("T h i s i s s p a c e d o u t " * 10), digital, th) == "absurd_whitespace"
    assert validity_gate(text_stats("An ordinary sentence of English text, nothing odd. " * 10), digital, th) is None


def _synthetic(n=300, seed=0):
    """Features where column 0 says 'text layer is garbage': cheap accuracy falls, OCR stays."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    bad = 1 / (1 + np.exp(-3 * X[:, 0]))
    Y = np.column_stack([0.95 - 0.9 * bad, 0.9 - 0.85 * bad, 0.75 + 0.05 * np.tanh(X[:, 1])])
    return X, np.clip(Y + rng.normal(0, 0.02, Y.shape), 0, 1)


def test_predictor_learns_and_round_trips(tmp_path):
    X, Y = _synthetic()
    m = train_regression(X[:200], Y[:200], [f"f{i}" for i in range(5)], NAMES, epochs=600)
    assert min(r2(m.predict(X[200:]), Y[200:])[:2]) > 0.8
    p = m.save(tmp_path / "m.json")
    m2 = RouterModel.from_dict(json.loads(p.read_text()))
    assert np.allclose(m.predict(X[:5]), m2.predict(X[:5]), atol=1e-4)
    with pytest.raises(ValueError):
        RouterModel.from_dict({"format": "other"})


def test_shipped_model_loads_and_predicts():
    from curation.stages.ingest.pdf.features import FEATURES

    m = load_model()
    assert m.features == list(FEATURES)
    assert set(m.parsers) >= {"pdfium", "tesseract"}
    assert m.costs["tesseract"] > 10 * m.costs["pdfium"]
    assert m.predict(np.zeros((2, len(FEATURES)))).shape == (2, len(m.parsers))


def test_preference_file_round_trip(tmp_path):
    path = tmp_path / "labels" / "pdf_preferences.jsonl"
    append_preference(path, Preference("a.pdf", 2, "pdfium", "tesseract", "b", "rev"))
    append_preference(path, Preference("a.pdf", 3, "pdfium", "tesseract", "neither", None))
    with path.open("a") as fh:
        fh.write('{"pdf": "a.pdf", "page": 0, "parser_a": "x", "parser_b": "y", "preferred": "a"}\n')
        fh.write("not json\n")
    prefs, problems = read_preferences(path)
    assert [p.preferred for p in prefs] == ["b", "neither"]
    assert prefs[0].time and len(problems) == 2 and problems[0].startswith("line 3")
    with pytest.raises(ValueError):
        Preference("a.pdf", 1, "pdfium", "pdfium", "a").validate()


def test_alignment_follows_preferences_without_forgetting():
    X, Y = _synthetic(seed=2)
    m = train_regression(X, Y, [f"f{i}" for i in range(5)], NAMES, epochs=500)
    # reviewers prefer pypdf over pdfium whenever feature 2 is positive (something BLEU did not see)
    rng = np.random.default_rng(3)
    Xp = rng.normal(size=(120, 5))
    Xp[:, 0] = -2  # good text layers: both cheap parsers predicted high
    a = np.zeros(120, dtype=int)
    b = np.ones(120, dtype=int)
    pref = np.where(Xp[:, 2] > 0, 1, 0)
    before = pairwise_accuracy(m, Xp, a, b, pref)
    aligned, rep = align(m, Xp, a, b, pref, X_reg=X, Y_reg=Y)
    assert rep["pairwise_accuracy_after"] > before + 0.2
    assert rep["pairwise_accuracy_after"] > 0.8
    # the regression fit is kept: OCR still predicted better on garbage text layers
    garbage = np.zeros((1, 5))
    garbage[0, 0] = 3
    p = aligned.predict(garbage)[0]
    assert p[2] > p[0] + 0.3


def test_pages_without_text_layer_outrank_garbled_ones():
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.5)
    pred = np.array([[0.0, 0.0, 0.99], [0.0, 0.0, 0.5], [0.9, 0.9, 0.95], [0.9, 0.9, 0.2]])
    d = router.route(pred, NAMES, ["cid_garbage", "no_text_layer", None, None])
    assert [x.parser for x in d] == ["tesseract", "tesseract", "pdfium", "pdfium"]
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.25)
    d = router.route(pred, NAMES, ["cid_garbage", "no_text_layer", None, None])
    assert [x.parser for x in d] == ["pdfium", "tesseract", "pdfium", "pdfium"]


def test_improvement_ranking_orders_every_proposal_by_expected_gain():
    """The alternative rule (docs/PAPERS.md 1a step 5 as written): a garbled layer with a larger predicted gain beats a
    page without a text layer; the gate still zeroes the cheap parsers' prediction, so the no-text page ranks by
    its predicted OCR accuracy."""
    pred = np.array([[0.0, 0.0, 0.99], [0.0, 0.0, 0.5], [0.9, 0.9, 0.95], [0.9, 0.9, 0.2]])
    gates = ["cid_garbage", "no_text_layer", None, None]
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.25, ranking="improvement")
    assert [x.parser for x in router.route(pred, NAMES, gates)] == ["tesseract", "pdfium", "pdfium", "pdfium"]
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.5, ranking="improvement")
    d = router.route(np.array([[0.0, 0.0, 0.3], [0.2, 0.2, 0.9], [0.9, 0.9, 0.95], [0.9, 0.9, 0.2]]), NAMES,
                     ["no_text_layer", None, None, None])
    assert [x.parser for x in d] == ["tesseract", "tesseract", "pdfium", "pdfium"]  # gains 0.3, 0.7, 0.05
    assert d[1].improvement == pytest.approx(0.7) and d[0].improvement == pytest.approx(0.3)
    with pytest.raises(ValueError, match="unknown ranking"):
        priority(Decision("pdfium", {}, None, True, 0.1), "largest")


@pytest.mark.parametrize("ranking", RANKINGS)
@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.15, 1.0])
def test_budget_invariant_with_gates_under_both_rankings(ranking, alpha):
    rng = np.random.default_rng(int(alpha * 100))
    gate_choices = [None, None, None, "no_text_layer", "cid_garbage", "little_text_on_image"]
    for k in (1, 7, 256):
        router = BudgetRouter(cheap=["pdfium", "pypdf"], expensive="tesseract", alpha=alpha, ranking=ranking)
        gates = [gate_choices[i] for i in rng.integers(0, len(gate_choices), k)]
        d = router.route(rng.random((k, 3)), NAMES, gates, rng.uniform(0.2, 6.0, k))
        n_exp = sum(x.parser == "tesseract" for x in d)
        assert n_exp == min(math.floor(alpha * k), sum(x.proposed_expensive for x in d))
        chosen = [priority(x, ranking) for x in d if x.parser == "tesseract"]
        rest = [priority(x, ranking) for x in d if x.proposed_expensive and x.parser != "tesseract"]
        if chosen and rest:
            assert min(chosen) >= max(rest)


def test_global_budget_over_many_small_documents():
    """Per-document caps would give a 2-page scan floor(0.2 * 2) = 0 pages; the global rule does not."""
    from curation.stages.ingest.pdf.pipeline import apply_budget
    from curation.stages.ingest.pdf.router import select_global

    rows = [{"_key": i, "_units": 2, "_cand_pages": [], "_cand_scores": []} for i in range(9)]
    rows.append({"_key": 9, "_units": 2, "_cand_pages": [1, 2], "_cand_scores": [20.5, 20.4]})  # a scan
    rows[3].update(_cand_pages=[2], _cand_scores=[0.3])
    rows[4].update(_cand_pages=[1], _cand_scores=[0.6])
    chosen = apply_budget(rows, 0.2)  # 20 pages -> 4 allowed, 4 proposed
    assert chosen == 4 and rows[9]["_selected"] == [1, 2] and rows[4]["_selected"] == [1] and rows[3]["_selected"] == [2]
    chosen = apply_budget(rows, 0.1)  # 2 allowed: the scan's pages
    assert chosen == 2 and rows[9]["_selected"] == [1, 2] and rows[4]["_selected"] == []
    assert select_global([(1.0, "b"), (1.0, "a"), (0.5, "c")], 0.5, 4) == ["a", "b"]
    assert select_global([(1.0, "a")], 0.0, 100) == []


def test_model_of_an_older_feature_set_gets_its_columns_by_name():
    rng = np.random.default_rng(0)
    X = rng.random((50, 2))
    m = train_regression(X, np.column_stack([X[:, 0], X[:, 1]]), ["a", "b"], ["p", "q"], epochs=50)
    wide = np.column_stack([X[:, 1], rng.random(50), X[:, 0]])  # a newer extractor: columns b, new, a
    assert np.allclose(m.predict(m.align(wide, ["b", "new", "a"])), m.predict(X))
    narrow = m.align(X[:, :1], ["a"])  # a feature the model knows but the input lacks: its training mean
    assert np.allclose(narrow[:, 1], m.mean[1])
    assert m.align(X, ["a", "b"]) is not None and np.allclose(m.align(X, ["a", "b"]), X)


# -- cost-aware ranking (AdaParse App. C: accuracy under a time budget) -----------------------------------

def test_per_second_rankings_order_by_gain_per_predicted_second():
    nt = Decision("pdfium", {}, "no_text_layer", True, 0.5, 4.0)  # a slow scan: 0.125 per second
    garbled = Decision("pdfium", {}, "cid_garbage", True, 0.6, 0.5)  # 1.2 per second
    cheap = Decision("pdfium", {}, None, True, 0.3, 0.3)  # ungated, 1.0 per second
    dear = Decision("pdfium", {}, None, True, 0.3, 3.0)  # ungated, same gain, 10x the seconds
    # within the tiers: a page without text layer still comes first, whatever it costs
    assert priority(nt, "tiered_per_second") > priority(garbled, "tiered_per_second") > priority(cheap, "tiered_per_second")
    assert priority(cheap, "tiered_per_second") > priority(dear, "tiered_per_second")
    # over all proposals: value density alone
    assert priority(garbled, "per_second") > priority(cheap, "per_second") > priority(nt, "per_second")
    for d in (nt, garbled, cheap, dear):  # the squashed density stays inside its tier's band
        tier = 10.0 * (2 if d.gate == "no_text_layer" else 1 if d.gate else 0)
        assert tier - 1 < priority(d, "tiered_per_second") < tier + 1
        assert -1 < priority(d, "per_second") < 1
    # a loss is worse when it costs more; without a cost the rule falls back to the gain itself
    assert priority(Decision("pdfium", {}, None, True, -0.1, 0.5), "per_second") > priority(
        Decision("pdfium", {}, None, True, -0.1, 2.0), "per_second")
    a, b = Decision("pdfium", {}, None, True, 0.2), Decision("pdfium", {}, None, True, 0.4)
    assert priority(b, "per_second") > priority(a, "per_second")
    assert set(PER_SECOND) <= set(RANKINGS)


def test_router_passes_predicted_seconds_to_the_ranking():
    pred = np.array([[0.2, 0.2, 0.9], [0.2, 0.2, 0.9], [0.9, 0.9, 0.2]])
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.34, ranking="per_second")
    d = router.route(pred, NAMES, [None, None, None], [3.0, 1.0, 1.0])
    assert [x.parser for x in d] == ["pdfium", "tesseract", "pdfium"]  # same gain: the cheaper page to OCR
    assert [x.cost for x in d] == [3.0, 1.0, 1.0]


@pytest.mark.parametrize("ranking", RANKINGS)
def test_seconds_budget_keeps_the_compute_budget(ranking):
    """docs/PAPERS.md 1c.2 with per-page costs: n * t_c + the routed pages' predicted seconds <= T = n * budget."""
    rng = np.random.default_rng(7)
    t_c = 0.01
    for budget in (0.0, 0.05, 0.3, 2.0):
        per_unit = seconds_budget_per_unit(budget, t_c)
        router = BudgetRouter(cheap=["pdfium", "pypdf"], expensive="tesseract", alpha=0.0, ranking=ranking,
                              seconds_per_unit=per_unit)
        total_n, total_s = 0, 0.0
        for k in (1, 7, 256, 40):
            costs = rng.uniform(0.2, 6.0, k)
            gates = [None if g > 0.3 else "no_text_layer" for g in rng.random(k)]
            d = router.route(rng.random((k, 3)), NAMES, gates, costs)
            chosen = [i for i, x in enumerate(d) if x.parser == "tesseract"]
            total_n += k
            total_s += float(costs[chosen].sum())
            assert total_n * t_c + total_s <= total_n * max(budget, t_c) + 1e-9
            # the chosen pages are the top of the ranking (a prefix)
            ranked = sorted((i for i, x in enumerate(d) if x.proposed_expensive), key=lambda i: (-priority(d[i], ranking), i))
            assert ranked[:len(chosen)] == sorted(chosen, key=ranked.index)
        assert router.spent_s == pytest.approx(total_s)
    assert seconds_budget_per_unit(0.005, 0.01) == 0.0
    with pytest.raises(ValueError, match="predicted"):
        BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.1, seconds_per_unit=1.0).route(
            np.array([[0.1, 0.1, 0.9]]), NAMES, ["no_text_layer"])


def test_seconds_budget_carries_unused_seconds_to_the_next_batch():
    router = BudgetRouter(cheap=["pdfium"], expensive="tesseract", alpha=0.0, seconds_per_unit=0.5)
    scan = np.array([[0.0, 0.0, 0.9]])
    assert router.route(scan, NAMES, ["no_text_layer"], [1.0])[0].parser == "pdfium"  # 0.5 s: does not fit
    assert router.route(scan, NAMES, ["no_text_layer"], [1.0])[0].parser == "tesseract"  # 1.0 s now
    assert prefix_within_seconds([1.0, 2.0, 0.1], 2.5) == [0]  # a prefix: the 0.1 s page after a misfit waits
    assert prefix_within_seconds([], 1.0) == [] and prefix_within_seconds([0.5], 0.0) == []


def test_cost_model_recovers_a_known_law_and_round_trips():
    from curation.stages.ingest.pdf.cost import COST_FEATURES, CostModel, fit_cost_model

    rng = np.random.default_rng(0)
    names = ["img_rendered", *COST_FEATURES, "other"]
    n = 300
    X = rng.random((n, len(names)))
    X[:, 0] = (rng.random(n) > 0.5).astype(float)
    ren = X[:, 0]
    logs = -0.5 + 0.4 * ren + 1.5 * X[:, 1] * (1 - ren) + 2.0 * X[:, names.index("img_ink_frac")] * ren
    secs = np.exp(logs + rng.normal(0, 0.02, n))
    m = fit_cost_model(X, names, secs, np.arange(n) % 10)
    assert m.training["cv_r2_log_seconds"] > 0.95
    assert np.allclose(np.log(m.predict(X, names)), logs, atol=0.1)
    again = CostModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert np.allclose(again.predict(X, names), m.predict(X, names), rtol=1e-4)
    # columns the input lacks get the training mean; fewer than 10 timed pages is an error
    assert again.predict(X[:, :2], names[:2]).shape == (n,)
    with pytest.raises(ValueError, match="seconds"):
        fit_cost_model(X[:5], names, secs[:5], np.arange(5))
    with pytest.raises(ValueError, match="not an expensive-cost model"):
        CostModel.from_dict({"format": "x"})


def test_shipped_model_predicts_ocr_seconds_from_the_training_timings():
    """The cost model in the shipped file comes from the training rows' measured OCR seconds; it must rank pages
    by OCR time far better than chance (leave-PDFs-out CV R^2 on log seconds) and keep the measured scale."""
    from curation.stages.ingest.pdf.features import FEATURES
    from tools.pdf.train import expensive_cost_model, load_rows

    rows = load_rows(ROWS)
    cm = expensive_cost_model(rows)
    assert cm.training["cv_r2_log_seconds"] >= 0.6
    model = load_model()
    assert model.expensive_cost and model.expensive_cost["training"]["pages"] == len(rows)
    X = np.array([r["features"] for r in rows])
    pred = model.predict_seconds(model.align(X, FEATURES))
    meas = np.array([r["seconds"]["tesseract"] for r in rows])
    assert 0.7 < pred.mean() / meas.mean() < 1.3
    assert np.corrcoef(np.log(pred), np.log(meas))[0, 1] > 0.8
    old = RouterModel.from_dict({k: v for k, v in model.to_dict().items() if k != "expensive_cost"})
    assert old.predict_seconds(X) is None
