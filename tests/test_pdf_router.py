"""Router: budget invariants (PAPERS.md 1c.1-1c.2), validity gate, predictor training/IO, preference alignment."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from curation.ingest.pdf.features import PageStructure, text_stats
from curation.ingest.pdf.predictor import RouterModel, load_model, r2, train_regression
from curation.ingest.pdf.preferences import (
    Preference,
    align,
    append_preference,
    pairwise_accuracy,
    read_preferences,
)
from curation.ingest.pdf.router import (
    RANKINGS,
    BudgetRouter,
    Decision,
    GateThresholds,
    alpha_from_budget,
    priority,
    validity_gate,
)

NAMES = ["pdfium", "pypdf", "tesseract"]


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
    from curation.ingest.pdf.features import FEATURES

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
    """The alternative rule (PAPERS.md 1a step 5 as written): a garbled layer with a larger predicted gain beats a
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
        d = router.route(rng.random((k, 3)), NAMES, gates)
        n_exp = sum(x.parser == "tesseract" for x in d)
        assert n_exp == min(math.floor(alpha * k), sum(x.proposed_expensive for x in d))
        chosen = [priority(x, ranking) for x in d if x.parser == "tesseract"]
        rest = [priority(x, ranking) for x in d if x.proposed_expensive and x.parser != "tesseract"]
        if chosen and rest:
            assert min(chosen) >= max(rest)


def test_global_budget_over_many_small_documents():
    """Per-document caps would give a 2-page scan floor(0.2 * 2) = 0 pages; the global rule does not."""
    from curation.ingest.pdf.pipeline import apply_budget
    from curation.ingest.pdf.router import select_global

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
