"""Benchmark of the select stage's pieces: score histogram + buckets + plan, the law fit, proxy LM speed.

    .venv/bin/python benchmarks/select_bench.py [--docs 1000000] [--proxy-steps 50]

Prints one table. The histogram is what replaces a global sort of the corpus by score: it streams only the
score and token columns (pyarrow) in one pass. Timings on a shared machine are noisy (+-50 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=1_000_000)
    p.add_argument("--budget-tokens", type=float, default=2e9)
    p.add_argument("--proxy-steps", type=int, default=50)
    a = p.parse_args()
    from curation.engine.histogram import histogram_files, quality_buckets
    from curation.stages.select.config import SelectConfig
    from curation.stages.select.fit import fit_laws, synthetic_curves
    from curation.stages.select.plan import make_plan

    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.parquet"
        scores = rng.beta(2, 5, a.docs)
        tokens = rng.lognormal(6.5, 1.0, a.docs).astype(np.int64) + 20
        pq.write_table(pa.table({"quality_score": scores, "token_count": tokens, "text": pa.nulls(a.docs, pa.string())}),
                       path, row_group_size=100_000)
        t = time.perf_counter()
        hist = histogram_files([str(path)], bins=100_000)
        dt = time.perf_counter() - t
        rows.append(("histogram (pyarrow stream, 100k bins)", f"{a.docs:,} docs", dt, a.docs / dt))
        t = time.perf_counter()
        buckets = quality_buckets(hist, 10)
        rows.append(("equal-token buckets", "10 buckets", time.perf_counter() - t, None))
        spread = max(b.tokens for b in buckets) / max(min(b.tokens for b in buckets), 1) - 1
        t = time.perf_counter()
        np.sort(scores)
        rows.append(("(reference) numpy sort of the scores", f"{a.docs:,} docs", time.perf_counter() - t, None))
        bs = [-0.30, -0.25, -0.21, -0.18, -0.16]
        pts = synthetic_curves(bs, [2, 3, 5, 7, 4], a=3.0, d=2.0, pool_tokens=float(buckets[0].tokens),
                               multiples=(0.5, 1, 2, 4, 8), noise=1e-3)
        t = time.perf_counter()
        laws = fit_laws(pts, polish=False)
        rows.append(("fit: authors' grid (a, d free)", f"{len(pts)} points", time.perf_counter() - t, None))
        t = time.perf_counter()
        laws = fit_laws(pts)
        rows.append(("fit: grid + least-squares polish", f"rmse {laws.rmse:.4f}", time.perf_counter() - t, None))
        t = time.perf_counter()
        plan = make_plan(int(a.budget_tokens), histogram=hist, laws=laws, cfg=SelectConfig())
        rows.append(("plan (5 candidate pools)", f"k*={plan['k']}", time.perf_counter() - t, None))
    if a.proxy_steps:
        import torch

        from curation.stages.select.proxy import VOCAB, build_model

        torch.set_num_threads(1)
        m = build_model("byte-tiny", 64)
        opt = torch.optim.AdamW(m.parameters(), 1e-3)
        x = torch.randint(0, 256, (16, 65))
        t = time.perf_counter()
        for _ in range(a.proxy_steps):
            loss = torch.nn.functional.cross_entropy(m(x[:, :-1]).reshape(-1, VOCAB), x[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t
        rows.append(("proxy byte-tiny train steps (1 thread)", f"{a.proxy_steps} x 1024 bytes", dt, a.proxy_steps * 1024 / dt))
    print(f"{'step':<42} {'size':>22} {'seconds':>9} {'per second':>14}")
    for name, size, sec, rate in rows:
        print(f"{name:<42} {size:>22} {sec:>9.3f} {rate:>14,.0f}" if rate else f"{name:<42} {size:>22} {sec:>9.3f} {'':>14}")
    print(f"bucket token spread (max/min - 1): {spread:.4%}")


if __name__ == "__main__":
    main()
