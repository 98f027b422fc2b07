"""docs/PAPERS.md 3e.1: the teacher-student perceptron replication behind the keep-easy / keep-hard rule."""

from __future__ import annotations

from tools.prune_theory import perceptron_error


def errors(alpha_tot: float, f: float) -> dict[str, float]:
    return {s: perceptron_error(alpha_tot, f, s, n_dim=100, repeats=5, seed=0) for s in ("easy", "random", "hard")}


def test_strategy_ordering_flips_between_scarce_and_abundant_data():
    scarce = errors(1, 0.5)  # reference: easy 0.240 < random 0.324 < hard 0.399
    assert scarce["easy"] < scarce["random"] < scarce["hard"]
    abundant = errors(20, 0.2)  # reference: hard 0.031 < easy 0.048 < random 0.099
    assert abundant["hard"] < abundant["easy"] < abundant["random"]
    assert abs(scarce["random"] - 0.324) < 0.05 and abs(abundant["hard"] - 0.031) < 0.02


def test_at_fixed_pruned_size_keep_hard_improves_with_a_bigger_pool():
    # alpha_prune = 4 in both: random from alpha_tot = 5 (f = 0.8) vs keep-hard from alpha_tot = 20 (f = 0.2)
    random_small_pool = perceptron_error(5, 0.8, "random", seed=0)
    hard_small_pool = perceptron_error(5, 0.8, "hard", seed=0)
    hard_big_pool = perceptron_error(20, 0.2, "hard", seed=0)
    assert hard_big_pool < hard_small_pool
    assert hard_big_pool < 0.5 * random_small_pool  # reference: 0.031 vs 0.110
