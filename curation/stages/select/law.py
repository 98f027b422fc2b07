"""The scaling law for filtered data that is seen more than once (Goyal et al., CVPR 2024; docs/PAPERS.md 4a).

Paper form y = a * n_1**b_1 * prod_{j>=2} (n_j / n_{j-1})**b_j + d with b_{k+1} = b * 2**(-k/tau), its
mixing over pools, and the authors' code form as `code_*` for cross-checks. n is in the caller's unit (the
planner uses 1e6 tokens); N may be a scalar or a numpy array.
Design (the forms, pool weights, tau scaling, the code's quirks): docs/DESIGN.md#select-law-forms
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

CODE_NORMALIZER = 100_000.0
TauScaling = Literal["none", "pools"]
Form = Literal["paper", "code"]


def decay(tau: float, k: np.ndarray | float) -> np.ndarray | float:
    """delta**k with delta = 2**(-1/tau): the share of utility left in pass k+1 (k = repetitions before it)."""
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    return np.power(2.0, -np.asarray(k, dtype=float) / tau)


def passes(n: float, pool: float) -> int:
    """K = ceil(N / P), the number of (possibly partial) passes over a pool of size P for a budget N."""
    if pool <= 0:
        raise ValueError(f"pool size must be > 0, got {pool}")
    if n <= 0:
        return 0
    return max(1, math.ceil(n / pool - 1e-12))


def pass_ends(n: float, pool: float) -> np.ndarray:
    """n_j = min(j*P, N) for j = 1..K: samples seen at the end of every pass."""
    k = passes(n, pool)
    return np.minimum(np.arange(1, k + 1, dtype=float) * pool, n)


def _log_increments(n: float, pool: float) -> np.ndarray:
    """[log n_1, log(n_2/n_1), ..., log(n_K/n_{K-1})]."""
    ends = pass_ends(n, pool)
    if ends.size == 0:
        return ends
    if ends[0] <= 0:
        raise ValueError("the budget must be > 0")
    return np.log(ends) - np.log(np.concatenate([[1.0], ends[:-1]]))


def repetition_exponent(n: float, pool: float, tau: float) -> float:
    """G(N, P, tau): log(y - d) = log a + b * G in the paper form (= log N without repetition)."""
    inc = _log_increments(n, pool)
    return float(np.sum(inc * decay(tau, np.arange(inc.size))))


def single_pool_loss(n: np.ndarray | float, a: float, b: float, d: float) -> np.ndarray | float:
    """y = a * n**b + d, the law without repetition."""
    return a * np.power(np.asarray(n, dtype=float), b) + d


def _vectorise(fn, n):
    arr = np.asarray(n, dtype=float)
    if arr.ndim == 0:
        return float(fn(float(arr)))
    return np.array([fn(float(x)) for x in arr.ravel()]).reshape(arr.shape)


def paper_loss(n: np.ndarray | float, pool: float, a: float, b: float, tau: float, d: float) -> np.ndarray | float:
    """Multi-epoch loss of one pool in the paper's form."""
    return _vectorise(lambda x: d + a * math.exp(b * repetition_exponent(x, pool, tau)), n)


def _pool_weights(pools: Sequence[float]) -> np.ndarray:
    sizes = np.asarray(pools, dtype=float)
    if sizes.size == 0 or np.any(sizes <= 0):
        raise ValueError(f"pool sizes must be > 0, got {list(pools)}")
    return sizes / sizes.sum()


def effective_utilities(bs: Sequence[float], taus: Sequence[float], k: int, weights: Sequence[float] | None = None,
                        tau_scaling: TauScaling = "none") -> np.ndarray:
    """b_eff for passes 1..k over a merged pool: sum_i w_i * b_i * 2**(-j / tau_hat_i), j = 0..k-1.

    tau_hat = tau ("none", our default for LMs) or p * tau ("pools", the authors' choice for CLIP).
    """
    b = np.asarray(bs, dtype=float)
    t = np.asarray(taus, dtype=float)
    if b.shape != t.shape or b.size == 0:
        raise ValueError("need one tau per b")
    w = np.full(b.size, 1.0 / b.size) if weights is None else np.asarray(weights, dtype=float)
    if tau_scaling == "pools":
        t = t * b.size
    elif tau_scaling != "none":
        raise ValueError(f"tau_scaling must be 'none' or 'pools', got {tau_scaling!r}")
    j = np.arange(k, dtype=float)
    return np.sum(w[:, None] * b[:, None] * np.power(2.0, -j[None, :] / t[:, None]), axis=0)


def mixed_paper_loss(n: np.ndarray | float, pools: Sequence[float], bs: Sequence[float], taus: Sequence[float],
                     a: float, d: float, tau_scaling: TauScaling = "none") -> np.ndarray | float:
    """Paper-form loss of training on the union of several buckets (top-k pool) for a budget N."""
    w = _pool_weights(pools)
    merged = float(np.sum(pools))

    def one(x: float) -> float:
        inc = _log_increments(x, merged)
        beff = effective_utilities(bs, taus, inc.size, w, tau_scaling)
        return d + a * math.exp(float(np.sum(beff * inc)))

    return _vectorise(one, n)


def code_loss(n: np.ndarray | float, pool: float, a: float, b: float, tau: float, d: float,
              normalizer: float = CODE_NORMALIZER) -> np.ndarray | float:
    """The authors' `func_effective_utility`: a inside the power, n / normalizer, d decayed with the product."""
    def one(x: float) -> float:
        inc = _log_increments(x, pool)
        bj = b * decay(tau, np.arange(inc.size))
        first = (a * pass_ends(x, pool)[0] / normalizer) ** bj[0]
        return float((first + d) * math.exp(float(np.sum(bj[1:] * inc[1:]))))

    return _vectorise(one, n)


def mixed_code_loss(n: np.ndarray | float, pools: Sequence[float], bs: Sequence[float], taus: Sequence[float],
                    a: float, d: float, tau_scaling: TauScaling = "pools",
                    normalizer: float = CODE_NORMALIZER) -> np.ndarray | float:
    """The authors' `func_effective_utility_aggregation` (mean of b_i * delta_i**k; tau * p by default)."""
    merged = float(np.sum(pools))

    def one(x: float) -> float:
        inc = _log_increments(x, merged)
        beff = effective_utilities(bs, taus, inc.size, None, tau_scaling)
        first = (a * pass_ends(x, merged)[0] / normalizer) ** beff[0]
        return float((first + d) * math.exp(float(np.sum(beff[1:] * inc[1:]))))

    return _vectorise(one, n)


def effective_data_loss(n: np.ndarray | float, pool: float, a: float, b: float, tau: float, d: float
                        ) -> np.ndarray | float:
    """Alternative kept by the authors: D_eff = sum_k (new samples in pass k) * 2**(-k/tau), y = (a*D_eff)**b + d."""
    def one(x: float) -> float:
        ends = pass_ends(x, pool)
        new = np.diff(np.concatenate([[0.0], ends]))
        eff = float(np.sum(new * decay(tau, np.arange(new.size))))
        return (a * eff) ** b + d

    return _vectorise(one, n)


def code_to_paper_a(a_code: float, b: float, normalizer: float = CODE_NORMALIZER) -> float:
    """Quirk 1 undone: (a_c * n / norm)**b = (a_c / norm)**b * n**b, so the paper's a is (a_c / norm)**b."""
    return (a_code / normalizer) ** b


def code_decayed_d(n: float, pool: float, b: float, tau: float, d: float) -> float:
    """Quirk 2 made explicit: how much of d the code form keeps after the repetition product (d * prod)."""
    inc = _log_increments(n, pool)
    bj = b * decay(tau, np.arange(inc.size))
    return d * math.exp(float(np.sum(bj[1:] * inc[1:])))


def pool_loss(n: np.ndarray | float, pools: Sequence[float], bs: Sequence[float], taus: Sequence[float], a: float,
              d: float, form: Form = "paper", tau_scaling: TauScaling = "none",
              normalizer: float = CODE_NORMALIZER) -> np.ndarray | float:
    """Predicted loss of a candidate pool (one or several buckets) in the chosen form.

    `normalizer` only matters for the code form (the authors divide samples by 1e5; pass 1.0 when n is
    already in the caller's unit).
    """
    if form == "paper":
        return mixed_paper_loss(n, pools, bs, taus, a, d, tau_scaling)
    if form == "code":
        return mixed_code_loss(n, pools, bs, taus, a, d, tau_scaling, normalizer)
    raise ValueError(f"form must be 'paper' or 'code', got {form!r}")


def best_pool(n: float, pools: Sequence[float], bs: Sequence[float], taus: Sequence[float], a: float, d: float,
              form: Form = "paper", tau_scaling: TauScaling = "none",
              normalizer: float = CODE_NORMALIZER) -> tuple[int, list[float]]:
    """FADU: k* = argmin over k of the predicted loss of the top-k buckets (buckets ordered best first).

    Returns (k*, predicted loss per k) with k counted from 1.
    """
    losses = [float(pool_loss(n, pools[:k], bs[:k], taus[:k], a, d, form, tau_scaling, normalizer)) for k in range(1, len(bs) + 1)]
    return int(np.argmin(losses)) + 1, losses
