"""The scaling law for filtered, repeated data (docs/PAPERS.md 4a, 4e): forms, mixing, fitting."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation.stages.select import law
from curation.stages.select.fit import Laws, fit_laws, read_curves, synthetic_curves, write_curves

# docs/PAPERS.md 4e.2 worked example: n in units of 1e5 samples, P = 128, a = 0.022, d = 0.1, tau = 3.
B = [-0.30, -0.25, -0.21, -0.18, -0.16]
TAU = [3.0] * 5
P = 128.0


def test_reduces_to_single_power_law_without_repetition():
    for n in (1.0, 10.0, 64.0, 128.0):
        assert law.paper_loss(n, P, 0.022, -0.2, 3.0, 0.1) == pytest.approx(0.022 * n ** -0.2 + 0.1, rel=1e-12)
        assert law.mixed_paper_loss(n, [P], [-0.2], [3.0], 0.022, 0.1) == pytest.approx(0.022 * n ** -0.2 + 0.1)


def test_repetition_is_worth_less_than_fresh_data():
    fresh = law.single_pool_loss(4 * P, 0.022, -0.2, 0.1)
    repeated = law.paper_loss(4 * P, P, 0.022, -0.2, 3.0, 0.1)
    assert repeated > fresh
    # a longer half-life makes repetition cheaper
    assert law.paper_loss(4 * P, P, 0.022, -0.2, 30.0, 0.1) < repeated


@pytest.mark.parametrize("form", ["paper", "code"])
def test_loss_non_increasing_in_budget(form):
    ns = np.geomspace(1, 200 * P, 300)
    for k in range(1, 6):
        ys = law.pool_loss(ns, [P] * k, B[:k], TAU[:k], 0.022, 0.1, form=form, normalizer=1.0)
        assert np.all(np.diff(ys) <= 1e-12)


def test_zero_utility_is_flat():
    ys = law.paper_loss(np.array([1.0, 10.0, 1000.0, 1e5]), P, 0.5, 0.0, 3.0, 0.1)
    assert np.allclose(ys, 0.6)


@pytest.mark.parametrize("scaling,expected", [
    # docs/PAPERS.md 4e.2: tau_hat = p*tau: top-10% for N <= 4P, top-20% for 8P-32P, top-30% at 64P
    ("pools", {1: 1, 2: 1, 4: 1, 8: 2, 16: 2, 32: 2, 64: 3}),
    # tau_hat = tau: top-10% for N <= 8P, top-20% for 16P-64P
    ("none", {1: 1, 2: 1, 4: 1, 8: 1, 16: 2, 32: 2, 64: 2}),
])
def test_worked_example_pool_choice_widens_with_budget(scaling, expected):
    got = {m: law.best_pool(m * P, [P] * 5, B, TAU, 0.022, 0.1, "paper", scaling)[0] for m in expected}
    assert got == expected
    ks = [law.best_pool(m * P, [P] * 5, B, TAU, 0.022, 0.1, "paper", scaling)[0] for m in np.geomspace(0.5, 256, 40)]
    assert ks == sorted(ks), "the chosen pool must never narrow as the budget grows"


# Values computed once with the authors' objective.py (func_effective_utility and
# func_effective_utility_aggregation with tau already multiplied by 3, as estimate_best_pool.py does) on
# these inputs: P = 12.8 M samples, a = 0.022, b = -0.131, tau = 3, d = 0.1; mixture b = (-0.30, -0.25, -0.21).
AUTHORS = {
    6_400_000: (1.0561654617491478, 1.0169676073324945),
    12_800_000: (0.9731686263912298, 0.8692952694470213),
    51_200_000: (0.8593561452445149, 0.6378739351465895),
    64_000_000: (0.849444656735969, 0.6053466387662255),
    640_000_000: (0.828560826183602, 0.41186529698804886),
}


@pytest.mark.parametrize("n", sorted(AUTHORS))
def test_code_form_matches_authors_objective(n):
    single, mixed = AUTHORS[n]
    p = 12_800_000
    assert law.code_loss(n, p, 0.022, -0.131, 3.0, 0.1) == pytest.approx(single, rel=1e-12)
    assert law.mixed_code_loss(n, [p] * 3, [-0.30, -0.25, -0.21], [3.0] * 3, 0.022, 0.1, "pools") == pytest.approx(mixed, rel=1e-12)


@pytest.mark.parametrize("n", sorted(AUTHORS))
def test_code_form_equals_paper_form_after_undoing_both_quirks(n):
    p, a_code, b, tau, d = 12_800_000, 0.022, -0.131, 3.0, 0.1
    a_paper = law.code_to_paper_a(a_code, b)          # quirk 1: a inside the power, n / 1e5
    code = law.code_loss(n, p, a_code, b, tau, d)
    undecayed = code - law.code_decayed_d(n, p, b, tau, d) + d  # quirk 2: d decayed by the repetition product
    assert undecayed == pytest.approx(law.paper_loss(n, p, a_paper, b, tau, d), rel=1e-12)


def test_mixing_equal_pools_with_equal_laws_is_one_bigger_pool():
    one = law.paper_loss(10 * P, 3 * P, 0.022, -0.2, 3.0, 0.1)
    mixed = law.mixed_paper_loss(10 * P, [P] * 3, [-0.2] * 3, [3.0] * 3, 0.022, 0.1, "none")
    assert mixed == pytest.approx(one)


def test_effective_data_form_without_repetition():
    assert law.effective_data_loss(50.0, P, 0.5, -0.2, 3.0, 0.1) == pytest.approx((0.5 * 50) ** -0.2 + 0.1)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        law.paper_loss(10.0, 0.0, 1, -0.1, 3, 0)
    with pytest.raises(ValueError):
        law.pool_loss(10.0, [P], [-0.1], [3.0], 1, 0, form="other")  # type: ignore[arg-type]


# ---- fitting -------------------------------------------------------------------------------------------

TRUE_B = [-0.30, -0.25, -0.21, -0.18, -0.16]
TRUE_TAU = [2.0, 3.0, 5.0, 7.0, 4.0]


def _check_recovery(laws: Laws) -> None:
    for fit, b, tau in zip(laws.buckets, TRUE_B, TRUE_TAU, strict=True):
        assert abs(fit.b - b) <= 0.01, (fit.bucket, fit.b, b)
        assert abs(fit.tau - tau) <= 1.0, (fit.bucket, fit.tau, tau)


def test_authors_grid_recovers_parameters_with_fixed_d():
    """4e.3 with the authors' protocol: d fixed, a on a grid, (b, tau) on their 100x100 grid."""
    pts = synthetic_curves(TRUE_B, TRUE_TAU, a=3.0, d=2.0, pool_tokens=2e6, multiples=(0.5, 1, 2, 4, 8, 16),
                           noise=1e-4, seed=1)
    laws = fit_laws(pts, d=2.0, polish=False, a_steps=40)
    _check_recovery(laws)
    assert laws.method == "grid"
    assert abs(laws.a - 3.0) / 3.0 < 0.05


def test_free_d_fit_recovers_parameters():
    """4e.3 with a and d both unknown: grid, then the least-squares polish."""
    pts = synthetic_curves(TRUE_B, TRUE_TAU, a=3.0, d=2.0, pool_tokens=2e6, multiples=(0.5, 1, 2, 4, 8, 16),
                           noise=1e-4, seed=2)
    laws = fit_laws(pts, a_steps=30, d_steps=12, refine_rounds=3, starts=2)
    _check_recovery(laws)
    assert laws.rmse < 5e-4
    assert laws.grid_sse is not None and laws.sse <= laws.grid_sse
    assert abs(laws.d - 2.0) < 0.05


def test_curves_csv_round_trip_and_cli(tmp_path, capsys):
    from curation.stages.select.fit import main

    pts = synthetic_curves(TRUE_B[:2], TRUE_TAU[:2], a=3.0, d=2.0, pool_tokens=1e6, noise=1e-4)
    path = write_curves(pts, tmp_path / "curves.csv")
    assert read_curves(path) == pts
    assert main(["--curves", str(path), "--set", "select.fit.d=2.0", "--set", "select.fit.polish=false"]) == 0
    out = capsys.readouterr().out
    assert "rmse" in out and "bucket" in out
    laws = Laws.load(tmp_path / "curves.laws.json")
    assert len(laws.buckets) == 2 and laws.d == 2.0
    json.dumps(laws.to_dict())


def test_bad_curves_are_reported_with_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("bucket,pool_tokens,tokens_seen,loss\n1,100,200,3.0\n1,100,abc,2.9\n")
    with pytest.raises(ValueError, match="bad.csv:3"):
        read_curves(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("bucket,loss\n1,2\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_curves(missing)
