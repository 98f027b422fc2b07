"""Train the router's accuracy predictor from measured pages (trainset.py output) and write the model file.

Target: per-page BLEU of every parser (AdaParse's regression target; tolerant of block order, which our
pdftotext reference does not get right for multi-column pages). Costs: mean measured CPU-seconds per page of
every parser, stored in the model so `budget_cpu_seconds_per_page` can be turned into alpha offline, and a
per-page model of the expensive parser's seconds (cost.py) for the cost-aware budget ranking.
Quality is reported as R^2 under leave-PDFs-out cross-validation (pages of one PDF never in both train and test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from curation.stages.ingest.pdf.cost import CostModel, fit_cost_model
from curation.stages.ingest.pdf.features import FEATURES
from curation.stages.ingest.pdf.predictor import RouterModel, r2, train_regression

DEFAULT_PARSERS = ("pdfium", "pypdf", "tesseract")


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def usable(rows: list[dict], parsers: tuple[str, ...] = DEFAULT_PARSERS) -> list[dict]:
    """Rows with every parser's score and features of the current feature set."""
    return [r for r in rows if all(p in r["scores"] for p in parsers) and len(r["features"]) == len(FEATURES)]


def matrices(rows: list[dict], parsers: tuple[str, ...] = DEFAULT_PARSERS, target: str = "bleu"
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X features, Y targets, groups) — rows lacking a parser's score are dropped.

    Groups are the source PDF / source text (`pdf`): a typeset page made from the text of real PDF X is in
    X's group, so cross-validation never trains on one and tests on the other."""
    keep = usable(rows, parsers)
    X = np.array([r["features"] for r in keep], dtype=np.float64)
    Y = np.array([[r["scores"][p][target] for p in parsers] for r in keep], dtype=np.float64)
    groups = np.array([r["pdf"] for r in keep])
    return X, Y, groups


def measured_costs(rows: list[dict], parsers: tuple[str, ...] = DEFAULT_PARSERS) -> dict[str, float]:
    """Mean CPU-seconds per page of every parser (cheap parsers: born-digital pages only, as in production)."""
    out = {}
    for p in parsers:
        vals = [r["seconds"][p] for r in rows if p in r.get("seconds", {})
                and (r["kind"] == "digital" or p == "tesseract")]
        vals = vals or [r["seconds"][p] for r in rows if p in r.get("seconds", {})]
        if vals:
            out[p] = float(np.mean(vals))
    return out


def expensive_cost_model(rows: list[dict], parser: str = "tesseract") -> CostModel:
    """Per-page seconds of `parser` from the rows' measured timings (every kind of page: OCR runs on all of them
    in expensive-only, and the budget may send any kind to it). Groups = source PDFs, as for the accuracy model."""
    keep = [r for r in rows if len(r["features"]) == len(FEATURES) and r.get("seconds", {}).get(parser, 0) > 0]
    if not keep:
        raise ValueError(f"no training rows with measured {parser} seconds")
    X = np.array([r["features"] for r in keep], dtype=np.float64)
    secs = np.array([r["seconds"][parser] for r in keep], dtype=np.float64)
    return fit_cost_model(X, list(FEATURES), secs, np.array([r["pdf"] for r in keep]), parser=parser)


def attach_cost_model(model_path: str | Path, rows_path: str | Path, out_path: str | Path | None = None,
                      parser: str = "tesseract") -> dict[str, Any]:
    """Fit only the expensive parser's cost model and store it in an existing model file (the accuracy head and
    its weights are left exactly as they are). Returns the cost model's training report."""
    model = RouterModel.from_dict(json.loads(Path(model_path).read_text()))
    cm = expensive_cost_model(load_rows(rows_path), parser)
    model.expensive_cost = cm.to_dict()
    model.save(out_path or model_path)
    return dict(cm.training or {})


def cross_validate(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, folds: int = 5, **kw: Any) -> dict[str, Any]:
    """Leave-PDFs-out CV: R^2 per parser and the out-of-fold predictions."""
    uniq = sorted(set(groups))
    pred = np.zeros_like(Y)
    for f in range(min(folds, len(uniq))):
        test_groups = set(uniq[f::folds])
        te = np.array([g in test_groups for g in groups])
        m = train_regression(X[~te], Y[~te], list(FEATURES), [str(i) for i in range(Y.shape[1])], **kw)
        pred[te] = m.predict(X[te])
    return {"r2": r2(pred, Y), "oof": pred}


def train_router(rows_path: str | Path, out_path: str | Path, parsers: tuple[str, ...] = DEFAULT_PARSERS,
                 hidden: int = 16, epochs: int = 1500, seed: int = 0, cv: bool = True) -> tuple[RouterModel, dict]:
    rows = load_rows(rows_path)
    X, Y, groups = matrices(rows, parsers)
    if len(X) < 10:
        raise ValueError(f"only {len(X)} usable training pages in {rows_path}")
    report: dict[str, Any] = {"pages": int(len(X)), "pdfs": sorted(set(groups.tolist())), "target": "bleu",
                              "kinds": dict(sorted({k: sum(1 for r in rows if r['kind'] == k) for k in
                                                    {r['kind'] for r in rows}}.items()))}
    origins = np.array([r.get("origin", "real") for r in usable(rows, parsers)])
    report["origins"] = {o: int((origins == o).sum()) for o in sorted(set(origins.tolist()))}
    if cv:
        res = cross_validate(X, Y, groups, hidden=hidden, epochs=epochs, seed=seed)
        report["cv_r2"] = dict(zip(parsers, [round(v, 3) for v in res["r2"]], strict=True))
        for o in report["origins"]:  # the same out-of-fold predictions, scored per kind of truth
            sel = origins == o
            if sel.sum() >= 10:
                report[f"cv_r2_{o}"] = dict(zip(parsers, [round(v, 3) for v in r2(res["oof"][sel], Y[sel])], strict=True))
    model = train_regression(X, Y, list(FEATURES), list(parsers), hidden=hidden, epochs=epochs, seed=seed)
    report["train_r2"] = dict(zip(parsers, [round(v, 3) for v in r2(model.predict(X), Y)], strict=True))
    model.costs = {k: round(v, 5) for k, v in measured_costs(rows, parsers).items()}
    try:
        model.expensive_cost = expensive_cost_model(rows, parsers[-1]).to_dict()
        report["expensive_cost"] = model.expensive_cost["training"]
    except ValueError as e:  # rows without timings: every page then costs the same
        report["expensive_cost"] = f"not fitted: {e}"
    model.training = {**report, "data": str(rows_path)}
    model.save(out_path)
    return model, report
