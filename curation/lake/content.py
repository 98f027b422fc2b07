"""Content pruning: sample rows of C, probe P's hashed projected rows; one miss drops the edge C -> P.

A child with a share f of foreign rows survives a uniform sample of s rows with probability (1 - f)^s,
so s = ceil(ln(delta) / ln(1 - f)) makes that at most delta (459 rows for f = delta = 1 %). Datasets
smaller than s are read whole, so their pruning is exact up to hash collisions, which only keep edges.
Each container is read once (only the columns its candidate children need) and hashed per projection.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curation.lake.footers import DatasetStats
from curation.lake.rowhash import column_hash, combine, row_hashes


def sample_size(foreign_frac: float = 0.01, miss_prob: float = 0.01) -> int:
    """Rows to sample so a child with >= foreign_frac foreign rows survives with probability <= miss_prob."""
    if not 0 < foreign_frac < 1 or not 0 < miss_prob < 1:
        raise ValueError("foreign_frac and miss_prob must lie strictly between 0 and 1")
    return math.ceil(math.log(miss_prob) / math.log(1 - foreign_frac))


def read_columns(stats: DatasetStats, columns: list[str]) -> pa.Table:
    """All rows of a dataset, `columns` only (a file lacking a column gives nulls, as in the footer stats)."""
    schema = pa.schema([stats.arrow_schema.field(c) for c in columns])
    parts = []
    for f in stats.files:
        pf = pq.ParquetFile(f)
        have = [c for c in columns if c in pf.schema_arrow.names]
        t = pf.read(columns=have) if have else pa.table({"__n": pa.nulls(pf.metadata.num_rows)}).select([])
        n = pf.metadata.num_rows
        cols = [t.column(c) if c in have else pa.nulls(n, schema.field(c).type) for c in columns]
        parts.append(pa.Table.from_arrays(cols, schema=schema) if cols else pa.table({}))
    return pa.concat_tables(parts, promote_options="permissive") if parts else schema.empty_table()


def sample_rows(stats: DatasetStats, size: int, seed: int = 0) -> pa.Table:
    """A uniform sample of `size` distinct rows (all rows if fewer), read row group by row group."""
    columns = list(stats.schema)
    if stats.rows <= size:
        return read_columns(stats, columns)
    rng = np.random.default_rng(xxhash.xxh64_intdigest(stats.path.encode("utf-8", "surrogatepass"), seed=seed))
    chosen = np.sort(rng.choice(stats.rows, size=size, replace=False))
    schema = pa.schema([stats.arrow_schema.field(c) for c in columns])
    parts, offset = [], 0
    for f in stats.files:
        pf = pq.ParquetFile(f)
        have = [c for c in columns if c in pf.schema_arrow.names]
        for rg in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(rg).num_rows
            lo, hi = np.searchsorted(chosen, [offset, offset + n])
            if hi > lo:
                t = pf.read_row_group(rg, columns=have).take(pa.array(chosen[lo:hi] - offset))
                cols = [t.column(c) if c in have else pa.nulls(t.num_rows, schema.field(c).type) for c in columns]
                parts.append(pa.Table.from_arrays(cols, schema=schema))
            offset += n
    return pa.concat_tables(parts, promote_options="permissive")


@dataclass
class ContentResult:
    pairs: list[tuple[int, int]]
    evidence: dict[tuple[int, int], dict] = field(default_factory=dict)
    pruned: int = 0
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


def content_prune(stats: list[DatasetStats], pairs: list[tuple[int, int]], size: int = 459,
                  seed: int = 0) -> ContentResult:
    """Keep the pairs whose sampled child rows all occur in the container's projection."""
    out = ContentResult([])
    samples: dict[int, np.ndarray | str] = {}
    by_parent: dict[int, list[int]] = defaultdict(list)
    for c, p in pairs:
        by_parent[p].append(c)
    for p in sorted(by_parent):
        children = by_parent[p]
        for c in children:
            if c not in samples:
                try:
                    t = sample_rows(stats[c], size, seed)
                    samples[c] = np.unique(row_hashes(t, list(stats[c].schema)))
                except Exception as e:  # unreadable data pages: leave the pair to the exact check
                    samples[c] = f"{type(e).__name__}: {e}"
        need = sorted({col for c in children for col in stats[c].schema})
        try:
            table = read_columns(stats[p], need)
        except Exception as e:
            for c in children:  # cannot probe: leave the pair to the exact check
                out.errors[(c, p)] = f"container unreadable: {type(e).__name__}: {e}"
                out.pairs.append((c, p))
                out.evidence[(c, p)] = {"content_check": out.errors[(c, p)]}
            continue
        col_hashes = {col: column_hash(table.column(col)) for col in need}
        hashes: dict[tuple[str, ...], np.ndarray] = {}
        for c in children:
            sample = samples[c]
            if isinstance(sample, str):
                out.errors[(c, p)] = f"child unreadable: {sample}"
                out.pairs.append((c, p))
                out.evidence[(c, p)] = {"content_check": out.errors[(c, p)]}
                continue
            cols = tuple(sorted(stats[c].schema))
            if cols not in hashes:
                hashes[cols] = np.unique(combine(col_hashes, list(cols), table.num_rows))
            found = np.isin(sample, hashes[cols], assume_unique=True)
            misses = int((~found).sum())
            if misses:
                out.pruned += 1
            else:
                out.pairs.append((c, p))
                out.evidence[(c, p)] = {"sampled_rows": min(size, stats[c].rows),
                                        "distinct_sampled_hashes": int(len(sample)), "misses": 0}
        del table, hashes, col_hashes
    return out
