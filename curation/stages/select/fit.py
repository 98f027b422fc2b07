"""Fit (b, tau) per quality bucket with a shared a and d, by grid search as the authors do (docs/PAPERS.md 4b).

Input curves (CSV): bucket, pool_tokens, tokens_seen, loss - one row per measurement. Tokens are divided by
`unit_tokens` (1e6 by default) before fitting, so the fitted a and d refer to that unit.
Design (the closed-form search, the a/d refinement): docs/DESIGN.md#select-fit
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curation.stages.select import law

B_GRID = np.linspace(-0.005, -0.5, 100)
TAU_GRID = np.linspace(1.0, 10.0, 100)
CURVE_COLUMNS = ("bucket", "pool_tokens", "tokens_seen", "loss")


@dataclass(frozen=True)
class CurvePoint:
    bucket: int
    pool_tokens: float
    tokens_seen: float
    loss: float


@dataclass
class BucketFit:
    bucket: int
    b: float
    tau: float
    points: int
    rmse: float
    r2: float
    max_abs_error: float
    at_grid_edge: list[str] = field(default_factory=list)
    """Parameters that ended on the edge of their grid: the data do not pin them down (e.g. no repetition)."""


@dataclass
class Laws:
    """Fitted laws: what `plan` needs. Stored as JSON next to the curves."""

    form: str
    a: float
    d: float
    unit_tokens: float
    buckets: list[BucketFit]
    sse: float
    rmse: float
    r2: float
    points: int
    tau_fitted: bool = True
    source: str = ""
    method: str = "grid"
    grid_sse: float | None = None

    def bucket(self, index: int) -> BucketFit | None:
        return next((b for b in self.buckets if b.bucket == index), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(p)
        return p

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Laws:
        try:
            buckets = [BucketFit(**b) for b in d["buckets"]]
            return cls(**{**d, "buckets": buckets})
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a laws file (fields: {sorted(d)}): {e}") from e

    @classmethod
    def load(cls, path: str | Path) -> Laws:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"laws file not found: {p} (make one with `curation select fit --curves ...`)")
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON: {e}") from e


def read_curves(path: str | Path) -> list[CurvePoint]:
    """Read a curves CSV; every problem names the file and line."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"curves file not found: {p}")
    points: list[CurvePoint] = []
    with p.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CURVE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{p}: missing columns {missing} (need {', '.join(CURVE_COLUMNS)})")
        for line, row in enumerate(reader, start=2):
            try:
                pt = CurvePoint(int(row["bucket"]), float(row["pool_tokens"]), float(row["tokens_seen"]), float(row["loss"]))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{p}:{line}: bad value ({e})") from e
            if not (pt.pool_tokens > 0 and pt.tokens_seen > 0 and math.isfinite(pt.loss)):
                raise ValueError(f"{p}:{line}: pool_tokens and tokens_seen must be > 0 and loss finite")
            points.append(pt)
    if not points:
        raise ValueError(f"{p}: no curve points")
    return points


def write_curves(points: list[CurvePoint], path: str | Path, extra: list[dict[str, Any]] | None = None) -> Path:
    """Write curves as CSV (extra per-row columns, e.g. the proxy model, go after the required ones)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    extra = extra or [{} for _ in points]
    names = list(CURVE_COLUMNS) + sorted({k for e in extra for k in e})
    tmp = p.with_suffix(p.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for pt, e in zip(points, extra, strict=True):
            w.writerow({**asdict(pt), **e})
    tmp.replace(p)
    return p


class _BucketGrid:
    """Precomputed sums for one bucket so that SSE(a, d) over the whole (b, tau) grid is cheap."""

    def __init__(self, n: np.ndarray, pool: np.ndarray, y: np.ndarray, form: str, b_grid: np.ndarray,
                 tau_grid: np.ndarray):
        self.y = y
        self.form = form
        self.b = b_grid
        g_rep = np.array([[self._rep(ni, pi, t) for ni, pi in zip(n, pool, strict=True)] for t in tau_grid])  # (T, M)
        first = np.array([law.pass_ends(ni, pi)[0] for ni, pi in zip(n, pool, strict=True)])
        self.log_first = np.log(first)  # (M,)
        if form == "paper":
            g = g_rep + self.log_first[None, :]
            self.g = g  # (T, M)
            e = np.exp(b_grid[:, None, None] * g[None, :, :])  # (B, T, M)
            self.s_ee = np.sum(e * e, axis=2)
            self.s_ey = np.sum(e * y, axis=2)
            self.s_e = np.sum(e, axis=2)
        else:
            self.r = np.exp(b_grid[:, None, None] * g_rep[None, :, :])  # repetition product (B, T, M)
            self.s_rr = np.sum(self.r * self.r, axis=2)
        self.s_yy = float(np.sum(y * y))
        self.s_y = float(np.sum(y))
        self.m = len(y)

    @staticmethod
    def _rep(n: float, pool: float, tau: float) -> float:
        """The repetition part of G (without log n_1)."""
        return law.repetition_exponent(n, pool, tau) - math.log(law.pass_ends(n, pool)[0])

    def sse(self, a: float, ds: np.ndarray) -> np.ndarray:
        """SSE over the (b, tau) grid for one a and several d: shape (D, B, T)."""
        ds = np.asarray(ds, dtype=float)
        if self.form == "paper":
            base = a * a * self.s_ee - 2 * a * self.s_ey + self.s_yy
            return (base[None] + 2 * ds[:, None, None] * (a * self.s_e[None] - self.s_y)
                    + self.m * ds[:, None, None] ** 2)
        f = np.exp(self.b[:, None, None] * (math.log(a) + self.log_first[None, None, :]))  # (B, 1, M)
        fr = f * self.r
        resid = fr - self.y
        s0 = np.sum(resid * resid, axis=2)
        s1 = np.sum(resid * self.r, axis=2)
        return s0[None] + 2 * ds[:, None, None] * s1[None] + ds[:, None, None] ** 2 * self.s_rr[None]

    def best_cell(self, a: float, d: float) -> tuple[int, int]:
        grid_sse = self.sse(a, np.array([d]))[0]
        bi, ti = np.unravel_index(int(np.argmin(grid_sse)), grid_sse.shape)
        return int(bi), int(ti)

    def features(self, bi: int, ti: int) -> np.ndarray:
        """exp(b * G) at one grid cell: the paper form is y = d + a * features, linear in (a, d)."""
        return np.exp(self.b[bi] * self.g[ti])


def _a_range(points: list[tuple[np.ndarray, np.ndarray]], d_lo: float, d_hi: float, form: str,
             b_grid: np.ndarray) -> tuple[float, float]:
    """Where a can lie: solve the first-pass equation for a at the b-grid extremes, widen by 4x."""
    cands = []
    for n, y in points:
        for d in (d_lo, d_hi):
            gap = np.clip(y - d, 1e-9, None)
            for b in (b_grid.min(), b_grid.max()):
                if form == "paper":
                    cands.extend(gap / np.power(n, b))
                else:
                    cands.extend(np.power(gap, 1.0 / b) / n)
    cands = np.asarray(cands)
    cands = cands[np.isfinite(cands) & (cands > 0)]
    if cands.size == 0:
        return 1e-6, 1e6
    return float(cands.min() / 4), float(cands.max() * 4)


def fit_laws(points: list[CurvePoint], *, form: str = "paper", unit_tokens: float = 1e6, a: float | None = None,
             d: float | None = None, a_steps: int = 60, d_steps: int = 25, refine_rounds: int = 6,
             b_grid: np.ndarray = B_GRID, tau_grid: np.ndarray = TAU_GRID, source: str = "", polish: bool = True,
             starts: int = 3) -> Laws:
    """Grid-search fit of (b_i, tau_i) per bucket with a and d shared (fixed when given).

    The authors' grid first; with `polish` a bounded least-squares step from the best grid point and from
    the best a at the `starts` best values of d (the fit keeps whichever has the lowest SSE; the grid SSE is
    reported next to it as `grid_sse`).
    """
    if form not in ("paper", "code"):
        raise ValueError(f"form must be 'paper' or 'code', got {form!r}")
    if not points:
        raise ValueError("no curve points to fit")
    by_bucket: dict[int, list[CurvePoint]] = {}
    for pt in points:
        by_bucket.setdefault(pt.bucket, []).append(pt)
    buckets = sorted(by_bucket)
    data = {}
    for k in buckets:
        pts = by_bucket[k]
        n = np.array([p.tokens_seen for p in pts]) / unit_tokens
        pool = np.array([p.pool_tokens for p in pts]) / unit_tokens
        y = np.array([p.loss for p in pts])
        data[k] = (n, pool, y)
    grids = {k: _BucketGrid(*data[k], form, b_grid, tau_grid) for k in buckets}
    y_min = min(float(v[2].min()) for v in data.values())
    if d is None:
        d_vals = np.linspace(0.0, 0.98 * y_min, d_steps) if y_min > 0 else np.array([0.0])
    else:
        d_vals = np.array([float(d)])
    if a is None:
        lo, hi = _a_range([(v[0], v[2]) for v in data.values()], float(d_vals.min()), float(d_vals.max()), form, b_grid)
        a_vals = np.geomspace(lo, hi, a_steps)
    else:
        a_vals = np.array([float(a)])

    def search(a_vals: np.ndarray, d_vals: np.ndarray) -> tuple[float, float, float, np.ndarray, np.ndarray]:
        """Best (sse, a, d) on a grid, plus per d the best SSE and its a (starts for the polish)."""
        per_d = np.full(len(d_vals), math.inf)
        per_d_a = np.zeros(len(d_vals))
        for av in a_vals:
            total = sum(g.sse(float(av), d_vals).reshape(len(d_vals), -1).min(axis=1) for g in grids.values())
            better = total < per_d
            per_d[better] = total[better]
            per_d_a[better] = av
        i = int(np.argmin(per_d))
        return float(per_d[i]), float(per_d_a[i]), float(d_vals[i]), per_d, per_d_a

    sse, a_best, d_best, per_d, per_d_a = search(a_vals, d_vals)
    order = np.argsort(per_d)[:starts]
    start_points = [(float(per_d_a[i]), float(d_vals[i])) for i in order]
    # Refine along the (a, d) valley: windows of +-3 coarse steps that halve each round.
    a_step = float(a_vals[1] / a_vals[0]) if len(a_vals) > 1 else 1.0
    d_step = float(d_vals[1] - d_vals[0]) if len(d_vals) > 1 else 0.0
    for _ in range(refine_rounds if (len(a_vals) > 1 or len(d_vals) > 1) else 0):
        a_new = np.geomspace(a_best / a_step ** 3, a_best * a_step ** 3, 25) if len(a_vals) > 1 else np.array([a_best])
        d_new = (np.unique(np.clip(np.linspace(d_best - 3 * d_step, d_best + 3 * d_step, 25), 0.0, 0.999 * y_min))
                 if len(d_vals) > 1 else np.array([d_best]))
        sse, a_best, d_best, _, _ = search(a_new, d_new)
        a_step, d_step = a_step ** 0.5, d_step / 2
    if form == "paper":
        a_best, d_best = _alternate(grids, a_best, d_best, fix_a=a, fix_d=d, y_min=y_min)
    cells = {k: grids[k].best_cell(a_best, d_best) for k in buckets}
    params = {k: (float(b_grid[cells[k][0]]), float(tau_grid[cells[k][1]])) for k in buckets}
    grid_sse = _sse(data, form, a_best, d_best, params)
    method = "grid"
    if polish:
        candidates = [(a_best, d_best, params)]
        for a0, d0 in start_points:
            c0 = {k: grids[k].best_cell(a0, d0) for k in buckets}
            candidates.append((a0, d0, {k: (float(b_grid[c0[k][0]]), float(tau_grid[c0[k][1]])) for k in buckets}))
        bounds = ((float(b_grid.min()), float(b_grid.max())), (float(tau_grid.min()), float(tau_grid.max())))
        for a0, d0, p0 in candidates:
            a1, d1, p1 = _polish(data, form, a0, d0, p0, fix_a=a, fix_d=d, y_min=y_min, bounds=bounds)
            s1 = _sse(data, form, a1, d1, p1)
            if s1 < _sse(data, form, a_best, d_best, params) - 1e-15:
                a_best, d_best, params, method = a1, d1, p1, "grid+least_squares"

    fits: list[BucketFit] = []
    all_res, all_y = [], []
    for k in buckets:
        n, pool, y = data[k]
        b, t = params[k]
        res = _predict(form, n, pool, a_best, b, t, d_best) - y
        all_res.append(res)
        all_y.append(y)
        sst = float(np.sum((y - y.mean()) ** 2))
        edges = []
        if min(abs(b - b_grid.min()), abs(b - b_grid.max())) < 1e-6:
            edges.append("b")
        if min(abs(t - tau_grid.min()), abs(t - tau_grid.max())) < 1e-6:
            edges.append("tau")
        fits.append(BucketFit(bucket=k, b=b, tau=t, points=len(y), rmse=float(np.sqrt(np.mean(res ** 2))),
                              r2=float(1 - np.sum(res ** 2) / sst) if sst > 0 else 1.0,
                              max_abs_error=float(np.max(np.abs(res))), at_grid_edge=edges))
    res = np.concatenate(all_res)
    yy = np.concatenate(all_y)
    sst = float(np.sum((yy - yy.mean()) ** 2))
    return Laws(form=form, a=a_best, d=d_best, unit_tokens=unit_tokens, buckets=fits, sse=float(np.sum(res ** 2)),
                rmse=float(np.sqrt(np.mean(res ** 2))), r2=float(1 - np.sum(res ** 2) / sst) if sst > 0 else 1.0,
                points=len(yy), source=source, method=method, grid_sse=grid_sse)


def _predict(form: str, n: np.ndarray, pool: np.ndarray, a: float, b: float, tau: float, d: float) -> np.ndarray:
    if form == "paper":
        return np.array([law.paper_loss(x, p, a, b, tau, d) for x, p in zip(n, pool, strict=True)])
    return np.array([law.code_loss(x, p, a, b, tau, d, normalizer=1.0) for x, p in zip(n, pool, strict=True)])


def _sse(data: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], form: str, a: float, d: float,
         params: dict[int, tuple[float, float]]) -> float:
    return float(sum(np.sum((_predict(form, n, p, a, *params[k], d) - y) ** 2) for k, (n, p, y) in data.items()))


def _polish(data: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], form: str, a0: float, d0: float,
            p0: dict[int, tuple[float, float]], *, fix_a: float | None, fix_d: float | None, y_min: float,
            bounds: tuple[tuple[float, float], tuple[float, float]]
            ) -> tuple[float, float, dict[int, tuple[float, float]]]:
    """Bounded least squares from a grid point (our addition): the (b, tau) grid is coarse next to the noise of
    real curves, and a, d and b trade off along a flat valley that a grid crosses in steps."""
    from scipy.optimize import least_squares

    keys = sorted(data)
    x0, lo, hi = [], [], []
    if fix_a is None:
        x0.append(math.log(max(a0, 1e-12)))
        lo.append(-np.inf)
        hi.append(np.inf)
    if fix_d is None:
        x0.append(min(max(d0, 0.0), 0.999 * y_min))
        lo.append(0.0)
        hi.append(max(0.999 * y_min, 1e-12))
    for k in keys:
        x0 += [p0[k][0], p0[k][1]]
        lo += [bounds[0][0], bounds[1][0]]
        hi += [bounds[0][1], bounds[1][1]]
    x0 = np.clip(np.array(x0, dtype=float), np.array(lo) + 1e-12 * np.isfinite(lo), np.array(hi) - 1e-12 * np.isfinite(hi))

    def unpack(x: np.ndarray) -> tuple[float, float, dict[int, tuple[float, float]]]:
        i = 0
        a = fix_a
        if a is None:
            a, i = math.exp(x[0]), 1
        d = fix_d
        if d is None:
            d, i = float(x[i]), i + 1
        return float(a), float(d), {k: (float(x[i + 2 * j]), float(x[i + 2 * j + 1])) for j, k in enumerate(keys)}

    def residuals(x: np.ndarray) -> np.ndarray:
        a, d, ps = unpack(x)
        return np.concatenate([_predict(form, n, p, a, *ps[k], d) - y for k, (n, p, y) in data.items()])

    try:
        out = least_squares(residuals, x0, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=400)
    except (ValueError, FloatingPointError):
        return a0, d0, p0
    return unpack(out.x)


def _alternate(grids: dict[int, _BucketGrid], a: float, d: float, *, fix_a: float | None, fix_d: float | None,
               y_min: float, rounds: int = 100) -> tuple[float, float]:
    """Paper form only: given (b, tau) per bucket the law is linear in (a, d), so alternate between the
    per-bucket grid choice and an exact least-squares solve for the shared (a, d). Never increases the SSE,
    and walks the flat a-d valley that a grid crosses only coarsely."""
    def total(a: float, d: float) -> float:
        return float(sum(g.sse(a, np.array([d]))[0].min() for g in grids.values()))

    best = total(a, d)
    for _ in range(rounds):
        cells = {k: g.best_cell(a, d) for k, g in grids.items()}
        x = np.concatenate([grids[k].features(*cells[k]) for k in grids])
        y = np.concatenate([grids[k].y for k in grids])
        if fix_a is not None and fix_d is not None:
            break
        if fix_d is not None:
            a_new, d_new = float(np.dot(x, y - fix_d) / np.dot(x, x)), fix_d
        elif fix_a is not None:
            a_new, d_new = fix_a, float(np.mean(y - fix_a * x))
        else:
            a_new, d_new = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)[0]
        a_new = max(float(a_new), 1e-12)
        d_new = min(max(float(d_new), 0.0), 0.999 * y_min)
        new = total(a_new, d_new)
        if new >= best - 1e-15:
            break
        a, d, best = a_new, d_new, new
    return a, d


def format_fit(laws: Laws) -> str:
    """A fit-quality table for the terminal."""
    lines = [f"form={laws.form}  method={laws.method}  a={laws.a:.6g}  d={laws.d:.6g}  unit={laws.unit_tokens:.0f} tokens  "
             f"points={laws.points}  rmse={laws.rmse:.5f}  r2={laws.r2:.4f}",
             "bucket        b     tau  points      rmse      r2  max|err|  note"]
    for b in laws.buckets:
        note = ("at grid edge: " + ",".join(b.at_grid_edge)) if b.at_grid_edge else ""
        lines.append(f"{b.bucket:>6} {b.b:>8.4f} {b.tau:>7.2f} {b.points:>7} {b.rmse:>9.5f} {b.r2:>7.4f} "
                     f"{b.max_abs_error:>9.5f}  {note}")
    return "\n".join(lines)


def synthetic_curves(bs: list[float], taus: list[float], a: float, d: float, pool_tokens: float,
                     multiples: tuple[float, ...] = (0.5, 1, 2, 4, 8), noise: float = 0.0, unit_tokens: float = 1e6,
                     seed: int = 0, form: str = "paper") -> list[CurvePoint]:
    """Curves from known laws (plus Gaussian noise): for tests and for checking a fit before trusting it."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (b, t) in enumerate(zip(bs, taus, strict=True), start=1):
        for m in multiples:
            n = m * pool_tokens / unit_tokens
            p = pool_tokens / unit_tokens
            y = law.paper_loss(n, p, a, b, t, d) if form == "paper" else law.code_loss(n, p, a, b, t, d, normalizer=1.0)
            out.append(CurvePoint(i, pool_tokens, m * pool_tokens, float(y + rng.normal(0, noise))))
    return out


def main(argv: list[str]) -> int:
    """`curation select fit --curves CURVES.csv [--output LAWS.json]`: fit and print the fit quality."""
    import argparse

    from curation.stages.select.cli import load_select_config

    p = argparse.ArgumentParser(prog="curation select fit",
                                description="Fit (b, tau) per quality bucket with shared a and d by grid search.")
    p.add_argument("--curves", required=True, help="CSV with bucket, pool_tokens, tokens_seen, loss")
    p.add_argument("--output", "-o", help="laws JSON to write (default: <curves>.laws.json)")
    p.add_argument("--json", action="store_true", help="print the laws as JSON instead of the table")
    p.add_argument("--config", "-c")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    fc = load_select_config(a.config, a.set).fit
    laws = fit_laws(read_curves(a.curves), form=fc.form, unit_tokens=fc.unit_tokens, a=fc.a, d=fc.d,
                    polish=fc.polish, source=str(a.curves))
    out = Path(a.output) if a.output else Path(a.curves).with_suffix(".laws.json")
    laws.save(out)
    if a.json:
        print(json.dumps(laws.to_dict()))
    else:
        print(format_fit(laws))
        print(f"laws: {out}")
    return 0
