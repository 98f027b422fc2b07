"""Document containment, the R2D2 hierarchy mapped to shingle sets (docs/PAPERS.md 2c-B, 2d).

Size/language filter -> LSH-Ensemble candidate search (a Spark join on band keys) -> min-max bound test on the
MinHash signatures -> exact verification on the shingle sets; only the tiny plan is computed on the driver.
Design: docs/DESIGN.md#dedup-containment
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.stages.dedup.minhash import band_hashes, minmax_violation, optimal_bands
from curation.stages.dedup.near import sig_matrix

ROW_SCHEMA = pa.schema([pa.field("p", pa.int32(), False), pa.field("r", pa.int32(), False),
                        pa.field("j", pa.int32(), False), pa.field("bhash", pa.int64(), False),
                        pa.field("node", pa.int64(), False)])
PRUNE_SCHEMA = pa.schema([pa.field("a", pa.int64(), False), pa.field("b", pa.int64(), False),
                          pa.field("violation", pa.float64(), False), pa.field("keep", pa.bool_(), False)])
SIZE_CLASS_BASE = 1.25


def size_class(q: int) -> int:
    return int(math.floor(math.log(max(q, 1)) / math.log(SIZE_CLASS_BASE) + 1e-9))


def class_floor(c: int) -> float:
    return SIZE_CLASS_BASE ** c


def equi_depth(histogram: list[tuple[int, int]], num_part: int) -> list[tuple[int, int]]:
    """Split sizes into at most `num_part` [lo, hi] ranges holding about equal numbers of sets."""
    hist = sorted((int(s), int(c)) for s, c in histogram if c > 0)
    if not hist:
        return []
    total = sum(c for _, c in hist)
    parts: list[tuple[int, int]] = []
    lo, acc, k = hist[0][0], 0, 1
    for i, (s, c) in enumerate(hist):
        acc += c
        if (acc >= total * k / num_part or i == len(hist) - 1) and len(parts) < num_part:
            parts.append((lo, s))
            if i + 1 < len(hist):
                lo = hist[i + 1][0]
            while acc >= total * k / num_part and k < num_part:
                k += 1
    if parts[-1][1] != hist[-1][0]:  # fold any remainder into the last partition
        parts[-1] = (parts[-1][0], hist[-1][0])
    return parts


@dataclass
class Plan:
    """Which (bands, rows) a query of size class c uses against partition p; what each partition indexes."""

    parts: list[tuple[int, int]]
    num_perm: int
    threshold: float
    max_ratio: float
    probes: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)   # (p, c) -> (b, r)
    index_bands: dict[int, dict[int, int]] = field(default_factory=dict)          # p -> {r: max b}

    @classmethod
    def build(cls, parts: list[tuple[int, int]], query_sizes: list[int], num_perm: int, threshold: float,
              max_rows: int, max_ratio: float) -> Plan:
        plan = cls(parts, num_perm, threshold, max_ratio)
        cache: dict[float, tuple[int, int]] = {}
        for c in sorted({size_class(q) for q in query_sizes}):
            q_lo = class_floor(c)
            q_hi = class_floor(c + 1)
            for p, (lo, hi) in enumerate(parts):
                if hi < q_lo or lo > q_hi * max_ratio:
                    continue
                u = min(hi, q_hi * max_ratio)
                s_star = round(threshold / (u / q_lo + 1.0 - threshold), 3)
                if s_star not in cache:
                    cache[s_star] = optimal_bands(s_star, num_perm, max_rows)
                b, r = cache[s_star]
                plan.probes[(p, c)] = (b, r)
                per = plan.index_bands.setdefault(p, {})
                per[r] = max(per.get(r, 0), b)
        return plan

    def partition_of(self, size: int) -> int:
        for p, (lo, hi) in enumerate(self.parts):
            if lo <= size <= hi:
                return p
        return -1

    def describe(self) -> dict:
        return {"partitions": [list(x) for x in self.parts],
                "index_rows_per_doc": {str(p): sum(v.values()) for p, v in self.index_bands.items()},
                "probe_cells": len(self.probes)}


@dataclass
class EnsembleRows:
    """Index rows (role=index) or query rows (role=query) of the LSH-Ensemble join."""

    plan: Plan
    role: str
    full_num_perm: int

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        nodes = batch.column("node").to_numpy()
        sizes = batch.column("n_shingles").to_numpy()
        sig = sig_matrix(batch.column("sig_min"), self.full_num_perm)[:, : self.plan.num_perm]
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "r", "j", "bhash", "node")}
        # Group documents by the (p, r, b) band sets they need, then hash each group at once.
        wanted: dict[tuple[int, int, int], list[int]] = {}
        for i, q in enumerate(sizes):
            if self.role == "index":
                p = self.plan.partition_of(int(q))
                for r, b in self.plan.index_bands.get(p, {}).items():
                    wanted.setdefault((p, r, b), []).append(i)
            else:
                c = size_class(int(q))
                for p, (lo, hi) in enumerate(self.plan.parts):
                    if hi < q or lo > q * self.plan.max_ratio:
                        continue
                    br = self.plan.probes.get((p, c))
                    if br:
                        wanted.setdefault((p, br[1], br[0]), []).append(i)
        for (p, r, b), idx in wanted.items():
            ix = np.array(idx)
            h = band_hashes(sig[ix], b, r)
            k = len(ix)
            cols["p"].append(np.full(k * b, p, dtype=np.int32))
            cols["r"].append(np.full(k * b, r, dtype=np.int32))
            cols["j"].append(np.tile(np.arange(b, dtype=np.int32), k))
            cols["bhash"].append(h.reshape(-1).view(np.int64))
            cols["node"].append(np.repeat(nodes[ix], b))
        arrays = [pa.array(np.concatenate(cols[name]) if cols[name] else np.zeros(0, dtype=f.type.to_pandas_dtype()))
                  for name, f in zip(ROW_SCHEMA.names, ROW_SCHEMA, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=ROW_SCHEMA)


@dataclass
class MinMaxPrune:
    """The min-max bound test on candidate pairs (a = query, b = container)."""

    num_perm: int
    threshold: float
    slack: float

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        mn_a = sig_matrix(batch.column("min_a"), self.num_perm)
        mx_a = sig_matrix(batch.column("max_a"), self.num_perm)
        mn_b = sig_matrix(batch.column("min_b"), self.num_perm)
        mx_b = sig_matrix(batch.column("max_b"), self.num_perm)
        na = batch.column("n_a").to_numpy().astype(float)
        nb = batch.column("n_b").to_numpy().astype(float)
        v = minmax_violation(mn_a, mx_a, mn_b, mx_b) if batch.num_rows else np.zeros(0)
        bound = (1.0 - self.threshold) * na / np.maximum(nb, 1.0) + self.slack
        return pa.RecordBatch.from_arrays([batch.column("a"), batch.column("b"), pa.array(v, pa.float64()),
                                           pa.array(v <= bound)], schema=PRUNE_SCHEMA)
