"""The teacher-student perceptron of Sorscher et al. (2022), small enough to run in a unit test.

Why it is here: the pruning policy's rule "keep easy when data is scarce, keep hard when it is
abundant" comes from this model; `tests/test_prune_theory.py` checks that the ordering of the
strategies flips between the two regimes (docs/PAPERS.md 3e.1), so the rule is not taken on faith.
Setting: x ~ N(0, I_N), labels sign(teacher . x), difficulty = |teacher margin|, student = L2-regularised
logistic regression, error = angle(student, teacher) / pi.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Strategy = Literal["easy", "hard", "random"]


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float = 1e-3) -> np.ndarray:
    """argmin_w mean(log(1 + exp(-y w.x))) + lam/2 |w|^2 (L-BFGS)."""
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = y * (x @ w)
        value = np.logaddexp(0.0, -z).mean() + 0.5 * lam * w @ w
        sig = 0.5 * (1.0 - np.tanh(0.5 * z))  # = 1 / (1 + exp(z)), overflow-free
        grad = -(x * (y * sig)[:, None]).mean(axis=0) + lam * w
        return value, grad

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return res.x


def prune_indices(margin: np.ndarray, keep: int, strategy: Strategy, rng: np.random.Generator) -> np.ndarray:
    if strategy == "random":
        return rng.choice(len(margin), size=keep, replace=False)
    order = np.argsort(np.abs(margin), kind="stable")  # small |margin| = hard
    return order[:keep] if strategy == "hard" else order[-keep:]


def perceptron_error(alpha_tot: float, keep_fraction: float, strategy: Strategy, n_dim: int = 100,
                     repeats: int = 5, lam: float = 1e-3, seed: int = 0) -> float:
    """Mean test error (angle / pi) of a student trained on the pruned set, over `repeats` draws."""
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(repeats):
        teacher = rng.standard_normal(n_dim)
        teacher /= np.linalg.norm(teacher)
        p = int(round(alpha_tot * n_dim))
        x = rng.standard_normal((p, n_dim))
        margin = x @ teacher
        y = np.where(margin >= 0, 1.0, -1.0)
        keep = max(1, int(round(keep_fraction * p)))
        idx = prune_indices(margin, keep, strategy, rng)
        w = fit_logistic(x[idx], y[idx], lam)
        cos = w @ teacher / max(np.linalg.norm(w), 1e-12)
        errors.append(float(np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi))
    return float(np.mean(errors))
