"""Min-max pruning: drop schema edges C -> P that the footer statistics prove cannot be containments.

Rules (each sound under set semantics with null-safe equality, the definition `verify` checks):
- rows: C has more distinct rows (a lower bound from the footers) than P has rows;
- nulls: C has a null in a column where P has none, or values where P has only nulls;
- range: for a shared column with trusted bounds, min_C < min_P or max_C > max_P (every value of C
  must occur in P). For text corpora the document-hash column is just such a column.
Values are replaced by their rank among all bounds of that column in the lake, and the checks run as
numpy comparisons over whole blocks of (C, P) pairs, chunked to bound memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from curation.lake.footers import DatasetStats
from curation.lake.schema_graph import SchemaClass

CHUNK_CELLS = 4_000_000


@dataclass
class ColumnIndex:
    """Per-dataset arrays for one (name, type) column; -1 means unknown."""

    lo: np.ndarray
    hi: np.ndarray
    nulls: np.ndarray
    nonnull: np.ndarray


@dataclass
class MinMaxResult:
    pairs: list[tuple[int, int]]
    pruned: Counter = field(default_factory=Counter)


def _column_index(stats: list[DatasetStats], key: tuple[str, str]) -> ColumnIndex:
    name, typ = key
    n = len(stats)
    lo = np.full(n, -1, np.int64)
    hi = np.full(n, -1, np.int64)
    nulls = np.full(n, -1, np.int64)
    nonnull = np.full(n, -1, np.int64)
    values = set()
    for s in stats:
        cs = s.columns.get(name) if s.schema.get(name) == typ else None
        if cs is not None and cs.has_bounds and cs.min is not None:
            values.add(cs.min)
            values.add(cs.max)
    try:
        rank = {v: r for r, v in enumerate(sorted(values))}
    except TypeError:  # values of one type that do not order: no range pruning on this column
        rank = {}
    for i, s in enumerate(stats):
        cs = s.columns.get(name) if s.schema.get(name) == typ else None
        if cs is None:
            continue
        if cs.null_count is not None:
            nulls[i] = cs.null_count
            nonnull[i] = s.rows - cs.null_count
        if rank and cs.has_bounds and cs.min is not None:
            lo[i], hi[i] = rank[cs.min], rank[cs.max]
    return ColumnIndex(lo, hi, nulls, nonnull)


def minmax_prune(stats: list[DatasetStats], classes: list[SchemaClass],
                 class_pairs: list[tuple[int, int]]) -> MinMaxResult:
    """Surviving (contained, container) dataset index pairs and the number pruned by each rule."""
    rows = np.array([s.rows for s in stats], np.int64)
    dlb = np.array([s.distinct_lb for s in stats], np.int64)
    cache: dict[tuple[str, str], ColumnIndex] = {}
    result = MinMaxResult([])
    for a, b in class_pairs:
        cm = np.array(classes[a].members)
        pm = np.array(classes[b].members)
        cols = sorted(classes[a].columns)
        for key in cols:
            if key not in cache:
                cache[key] = _column_index(stats, key)
        step = max(1, CHUNK_CELLS // max(1, len(pm)))
        for start in range(0, len(cm), step):
            c = cm[start:start + step]
            keep = np.ones((len(c), len(pm)), bool)
            if a == b:
                keep &= c[:, None] != pm[None, :]
            before = int(keep.sum())
            keep &= ~(dlb[c][:, None] > rows[pm][None, :])
            result.pruned["rows"] += before - int(keep.sum())
            for key in cols:
                ix = cache[key]
                before = int(keep.sum())
                if before == 0:
                    break
                cn, pn = ix.nulls[c][:, None], ix.nulls[pm][None, :]
                cv, pv = ix.nonnull[c][:, None], ix.nonnull[pm][None, :]
                keep &= ~((cn > 0) & (pn == 0))
                keep &= ~((cv > 0) & (pv == 0))
                after_nulls = int(keep.sum())
                result.pruned["nulls"] += before - after_nulls
                cl, ch = ix.lo[c][:, None], ix.hi[c][:, None]
                pl, ph = ix.lo[pm][None, :], ix.hi[pm][None, :]
                known = (cl >= 0) & (pl >= 0)
                keep &= ~(known & ((cl < pl) | (ch > ph)))
                if after_nulls - int(keep.sum()):
                    result.pruned[f"range:{key[0]}"] += after_nulls - int(keep.sum())
            ci, pi = np.nonzero(keep)
            result.pairs.extend(zip(c[ci].tolist(), pm[pi].tolist(), strict=True))
    return result
