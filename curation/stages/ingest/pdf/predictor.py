"""The accuracy predictor (AdaParse CLS III, light version): page features -> expected BLEU of every parser.

Why not SciBERT/SPECTER as in the paper: the router must run on every page of every PDF on CPU for a fraction
of the cheap parser's cost, and there are a few hundred labelled pages here, not 29,200. A small MLP (one
tanh layer, sigmoid outputs, one output per parser) on ~30 cheap features fits in a few kB of JSON, trains in
seconds with NumPy, and is differentiable end to end, so the preference-alignment step (preferences.py) can
update it with a pairwise objective exactly like the regression step does.

Model file (JSON): {"format": "curation-pdf-router", "version": 1, "features": [...], "parsers": [...],
"target": "bleu", "mean": [...], "std": [...], "W1", "b1", "W2", "b2", "costs": {parser: seconds/page},
"training": {...}, "expensive_cost": {...} (optional: cost.py's per-page seconds of the expensive parser)}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "curation-pdf-router"


def default_model() -> Path:
    """The shipped router model as a real file (extracted from the package zip on executors if need be)."""
    from curation import resources

    return resources.path("models", "pdf_router.json")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


@dataclass
class RouterModel:
    features: list[str]
    parsers: list[str]
    mean: np.ndarray
    std: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    target: str = "bleu"
    costs: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    expensive_cost: dict[str, Any] | None = None
    """cost.CostModel as a dict: predicted seconds of the expensive parser per page (None: every page costs the same)."""

    # -- inference -------------------------------------------------------------------------------------
    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Z = (X - self.mean) / self.std
        H = np.tanh(Z @ self.W1 + self.b1)
        Y = _sigmoid(H @ self.W2 + self.b2)
        return Z, H, Y

    def align(self, X: np.ndarray | list[list[float]], names: list[str] | tuple[str, ...]) -> np.ndarray:
        """X with columns `names` rearranged into this model's feature order; a feature the model knows but X
        lacks gets the training mean (neutral), so a model trained on an older feature set keeps working."""
        X = np.asarray(X, dtype=np.float64)
        if list(names) == self.features:
            return X
        X = X.reshape(-1, len(names))
        idx = {n: i for i, n in enumerate(names)}
        out = np.tile(self.mean, (X.shape[0], 1))
        for j, n in enumerate(self.features):
            if n in idx:
                out[:, j] = X[:, idx[n]]
        return out

    def predict(self, X: np.ndarray | list[list[float]]) -> np.ndarray:
        """Predicted accuracy (rows = pages, columns = self.parsers), each in [0, 1]."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[0] == 0:
            return np.zeros((0, len(self.parsers)))
        return self._forward(X)[2]

    def predict_seconds(self, X: np.ndarray | list[list[float]]) -> np.ndarray | None:
        """Predicted CPU-seconds of the expensive parser per row of `X` (this model's feature order), or None
        when the model file carries no cost model."""
        if not self.expensive_cost:
            return None
        from curation.stages.ingest.pdf.cost import CostModel

        X = np.asarray(X, dtype=np.float64).reshape(-1, len(self.features))
        return CostModel.from_dict(self.expensive_cost).predict(X, self.features)

    # -- training --------------------------------------------------------------------------------------
    def params(self) -> list[np.ndarray]:
        return [self.W1, self.b1, self.W2, self.b2]

    def grads(self, X: np.ndarray, dY: np.ndarray) -> list[np.ndarray]:
        """Back-propagate dLoss/dY (pages x parsers) to the parameters."""
        Z, H, Y = self._forward(X)
        dZ2 = dY * Y * (1 - Y)
        gW2 = H.T @ dZ2
        gb2 = dZ2.sum(0)
        dH = dZ2 @ self.W2.T * (1 - H ** 2)
        gW1 = Z.T @ dH
        gb1 = dH.sum(0)
        return [gW1, gb1, gW2, gb2]

    def fit(self, loss_grad, epochs: int = 1500, lr: float = 0.01, weight_decay: float = 1e-3) -> list[float]:
        """Adam on `loss_grad(model) -> (loss, [grads])` (full batch: the data sets here are small)."""
        ps = self.params()
        m = [np.zeros_like(p) for p in ps]
        v = [np.zeros_like(p) for p in ps]
        history = []
        for t in range(1, epochs + 1):
            loss, gs = loss_grad(self)
            history.append(float(loss))
            for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
                g = g + weight_decay * p if p.ndim == 2 else g
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                p -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        return history

    # -- files -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> list:
            return np.round(a, 6).tolist()

        return {"format": FORMAT, "version": 1, "features": self.features, "parsers": self.parsers,
                "target": self.target, "mean": r(self.mean), "std": r(self.std), "W1": r(self.W1), "b1": r(self.b1),
                "W2": r(self.W2), "b2": r(self.b2), "costs": self.costs, "training": self.training} | (
                    {"expensive_cost": self.expensive_cost} if self.expensive_cost else {})

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(p)
        return p

    def copy(self) -> RouterModel:
        return RouterModel.from_dict(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RouterModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a PDF router model (format={d.get('format')!r})")
        a = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "W1", "b1", "W2", "b2")}
        return cls(features=list(d["features"]), parsers=list(d["parsers"]), target=d.get("target", "bleu"),
                   costs=dict(d.get("costs", {})), training=dict(d.get("training", {})),
                   expensive_cost=d.get("expensive_cost"), **a)

    @classmethod
    def new(cls, features: list[str], parsers: list[str], X: np.ndarray, hidden: int = 16, seed: int = 0) -> RouterModel:
        rng = np.random.default_rng(seed)
        mean, std = X.mean(0), X.std(0)
        std = np.where(std < 1e-6, 1.0, std)
        d = len(features)
        return cls(features, parsers, mean, std,
                   rng.normal(0, 1 / np.sqrt(d), (d, hidden)), np.zeros(hidden),
                   rng.normal(0, 1 / np.sqrt(hidden), (hidden, len(parsers))), np.zeros(len(parsers)))


_CACHE: dict[str, RouterModel] = {}


def load_model(path: str | Path | None = None) -> RouterModel:
    """The router model at `path` (default: the shipped one), loaded once per process."""
    p = str(Path(path) if path else default_model())
    if p not in _CACHE:
        if not Path(p).exists():
            raise FileNotFoundError(f"PDF router model not found: {p} (train one with `python -m tools.pdf_router train-router`)")
        _CACHE[p] = RouterModel.from_dict(json.loads(Path(p).read_text()))
    return _CACHE[p]


# -- regression training ---------------------------------------------------------------------------------

def regression_loss(X: np.ndarray, Y: np.ndarray, mask: np.ndarray | None = None):
    """Squared error between predicted and measured per-parser accuracy (AdaParse training step 1)."""
    mask = np.ones_like(Y) if mask is None else mask
    n = max(1.0, float(mask.sum()))

    def loss_grad(model: RouterModel):
        P = model.predict(X)
        diff = (P - Y) * mask
        return float((diff ** 2).sum() / n), model.grads(X, 2 * diff / n)

    return loss_grad


def train_regression(X: np.ndarray, Y: np.ndarray, features: list[str], parsers: list[str], hidden: int = 16,
                     epochs: int = 1500, lr: float = 0.01, weight_decay: float = 1e-3, seed: int = 0) -> RouterModel:
    model = RouterModel.new(features, parsers, X, hidden=hidden, seed=seed)
    model.fit(regression_loss(X, Y), epochs=epochs, lr=lr, weight_decay=weight_decay)
    return model


def r2(pred: np.ndarray, true: np.ndarray) -> list[float]:
    """Coefficient of determination per column."""
    ss_res = ((pred - true) ** 2).sum(0)
    ss_tot = ((true - true.mean(0)) ** 2).sum(0)
    return [float(1 - a / b) if b > 0 else 0.0 for a, b in zip(ss_res, ss_tot, strict=True)]
