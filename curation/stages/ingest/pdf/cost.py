"""Per-page cost of the expensive parser (OCR), predicted from the cheap features, for cost-aware budget ranking.

A ridge regression of log(seconds), one coefficient set per value of `img_rendered`, stored in the router model
file under "expensive_cost" (absent in older model files: then every page costs the same).
Design (why, features, fitting data): docs/DESIGN.md#pdf-ocr-cost-model
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "ridge-log-seconds"
COST_FEATURES: tuple[str, ...] = ("n_chars", "chars_per_area", "img_contrast", "img_sharpness", "img_noise",
                                  "img_ink_frac")
"""Chosen a priori (what Tesseract's time depends on), not searched: see the module docstring."""
SPLIT = "img_rendered"
LAMBDAS = (0.1, 0.3, 1.0, 3.0, 10.0)
MIN_SECONDS = 0.05


@dataclass
class CostModel:
    """log(seconds) = w . [1, r, f * r, f * (1 - r)] with f standardised cost features and r = `SPLIT`."""

    features: list[str]
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    parser: str = "tesseract"
    training: dict[str, Any] | None = None

    def design(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """The regression's design matrix from feature rows `X` whose columns are named `names`."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, len(names))
        r = (X[:, names.index(SPLIT)] > 0).astype(np.float64) if SPLIT in names else np.zeros(len(X))
        f = np.column_stack([X[:, names.index(c)] if c in names else np.full(len(X), m)
                             for c, m in zip(self.features, self.mean, strict=True)]) if self.features else np.zeros((len(X), 0))
        z = (f - self.mean) / self.std
        return np.column_stack([np.ones(len(X)), r, z * r[:, None], z * (1 - r)[:, None]])

    def predict(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """Predicted CPU-seconds of the expensive parser per row (page)."""
        X = np.asarray(X, dtype=np.float64)
        if X.size == 0:
            return np.zeros(0)
        return np.maximum(MIN_SECONDS, np.exp(self.design(X, names) @ self.coef))

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "parser": self.parser, "features": self.features,
                "mean": np.round(self.mean, 6).tolist(), "std": np.round(self.std, 6).tolist(),
                "coef": np.round(self.coef, 6).tolist(), "training": self.training or {}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"not an expensive-cost model (format={d.get('format')!r})")
        return cls(list(d["features"]), np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64),
                   np.asarray(d["coef"], dtype=np.float64), d.get("parser", "tesseract"), dict(d.get("training") or {}))


def _ridge(D: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge on the standardised columns; the intercept and the rendered/not offset are not shrunk."""
    P = np.eye(D.shape[1]) * lam
    P[0, 0] = P[1, 1] = 0.0
    return np.linalg.solve(D.T @ D + P, D.T @ y)


def fit_cost_model(X: np.ndarray, names: list[str], seconds: np.ndarray, groups: np.ndarray,
                   parser: str = "tesseract", folds: int = 5) -> CostModel:
    """Fit on training pages (`seconds` > 0); ridge strength by leave-groups-out CV of R^2 on log(seconds)."""
    X = np.asarray(X, dtype=np.float64)
    seconds = np.asarray(seconds, dtype=np.float64)
    keep = seconds > 0
    X, y, groups = X[keep], np.log(seconds[keep]), np.asarray(groups)[keep]
    if len(y) < 10:
        raise ValueError(f"only {len(y)} pages with measured {parser} seconds")
    feats = [c for c in COST_FEATURES if c in names]
    F = np.column_stack([X[:, names.index(c)] for c in feats])
    mean, std = F.mean(0), F.std(0)
    std = np.where(std < 1e-9, 1.0, std)
    m = CostModel(feats, mean, std, np.zeros(2 + 2 * len(feats)), parser)
    D = m.design(X, names)
    uniq = sorted(set(groups.tolist()))
    cv: dict[float, float] = {}
    for lam in LAMBDAS:
        oof = np.zeros_like(y)
        for f in range(min(folds, len(uniq))):
            te = np.isin(groups, uniq[f::folds])
            oof[te] = D[te] @ _ridge(D[~te], y[~te], lam)
        cv[lam] = float(1 - ((oof - y) ** 2).sum() / max(1e-12, ((y - y.mean()) ** 2).sum()))
    lam = max(cv, key=lambda k: cv[k])
    m.coef = _ridge(D, y, lam)
    m.training = {"pages": int(len(y)), "lambda": lam, "cv_r2_log_seconds": round(cv[lam], 3),
                  "mean_seconds": round(float(np.exp(y).mean()), 4)}
    return m
