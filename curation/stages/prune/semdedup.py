"""SemDeDup (Abbas et al. 2023) inside one cluster, blockwise.

Items are ordered farthest-from-centroid first; item j's score M_j is its largest cosine to any
*earlier* item (the paper's upper-triangular max), and j is a duplicate when M_j > 1 - eps. Because
M_j does not depend on eps, eps can be chosen afterwards from the global distribution of M (D4's
R_dedup). The first item of each group of near-duplicates (the farthest from the centroid) survives.

Memory: one block x block similarity matrix plus a flat inner-product index of the earlier items;
never the n x n matrix. Cost stays O(n^2 d / 2) per cluster, i.e. O(N^2 / k) overall, as in the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curation.stages.prune.embed import embedding_matrix
from curation.stages.prune.kmeans import CLUSTER_ID, PROTOTYPE_DISTANCE, faiss_thread_guard

MAX_COS = "semdedup_max_cos"
ROW = "_prune_row"
POS = "_sd_pos"
NEAREST = "_sd_nearest"

PASS1_SCHEMA = pa.schema([
    pa.field(ROW, pa.int64()), pa.field(CLUSTER_ID, pa.int64()), pa.field(POS, pa.int64()),
    pa.field(MAX_COS, pa.float64()), pa.field(NEAREST, pa.int64()), pa.field("source_id", pa.string()),
])
PASS2_SCHEMA = pa.schema([
    pa.field(ROW, pa.int64()), pa.field("_sd_keeper", pa.string()), pa.field("_sd_detail", pa.string()),
])


def max_earlier_similarity(x: np.ndarray, block_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """For rows of x in processing order: (M_j = max cosine to an earlier row, index of that row); -inf / -1 for row 0."""
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    best = np.full(n, -np.inf, dtype=np.float64)
    nearest = np.full(n, -1, dtype=np.int64)
    if n <= 1:
        return best, nearest
    index = faiss.IndexFlatIP(d)
    for start in range(0, n, block_size):
        end = min(n, start + block_size)
        xb = x[start:end]
        if start > 0:
            with faiss_thread_guard():
                sims, ids = index.search(xb, 1)
            best[start:end] = sims[:, 0]
            nearest[start:end] = ids[:, 0]
        s = xb @ xb.T
        m = end - start
        s[np.triu_indices(m)] = -np.inf  # only columns before the row (earlier items)
        if m > 1:
            arg = s.argmax(axis=1)
            val = s[np.arange(m), arg]
            better = val > best[start:end]
            rows = np.flatnonzero(better)
            best[start + rows] = val[rows]
            nearest[start + rows] = start + arg[rows]
        index.add(xb)
    return best, nearest


def resolve_keepers(best: np.ndarray, nearest: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(removed mask, keeper index): a removed item's keeper is the surviving item its chain of nearest-earlier
    neighbours leads to, so `related_id` always names a document that was kept."""
    removed = best > threshold
    keeper = np.arange(len(best), dtype=np.int64)
    for j in np.flatnonzero(removed):  # nearest[j] < j, so its keeper is already resolved
        keeper[j] = keeper[nearest[j]]
    return removed, keeper


def processing_order(distance: np.ndarray, tie: list[Any]) -> np.ndarray:
    """Farthest from the centroid first (SemDeDup's keep_hard), ties broken by a stable key."""
    tie_rank = np.argsort(np.asarray(tie, dtype=object).astype(str), kind="stable")
    rank = np.empty(len(tie_rank), dtype=np.int64)
    rank[tie_rank] = np.arange(len(tie_rank))
    return np.lexsort((rank, -np.nan_to_num(distance, nan=0.0)))


def semdedup_table(table: pa.Table, block_size: int) -> pa.Table:
    """Pass 1 for one cluster (a Spark group): position in processing order, M_j and nearest earlier position."""
    n = table.num_rows
    x, _valid = embedding_matrix(table)
    dist = np.asarray(table.column(PROTOTYPE_DISTANCE).to_numpy(zero_copy_only=False), dtype=np.float64)
    order = processing_order(dist, table.column("doc_id").to_pylist())
    best, nearest = max_earlier_similarity(x[order], block_size)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    best_by_row = np.empty(n)
    nearest_by_row = np.empty(n, dtype=np.int64)
    best_by_row[order] = best
    nearest_by_row[order] = nearest
    has = nearest_by_row >= 0
    return pa.table({
        ROW: table.column(ROW),
        CLUSTER_ID: table.column(CLUSTER_ID),
        POS: pa.array(pos),
        MAX_COS: pa.array(np.clip(best_by_row, -1.0, 1.0), mask=~has),
        NEAREST: pa.array(nearest_by_row, mask=~has),
        "source_id": table.column("source_id"),
    }, schema=PASS1_SCHEMA)


def keepers_table(table: pa.Table, threshold: float) -> pa.Table:
    """Pass 2 for one cluster (light: no embeddings): the removed rows with their kept representative."""
    table = table.sort_by(POS)
    n = table.num_rows
    best = np.nan_to_num(np.asarray(table.column(MAX_COS).to_numpy(zero_copy_only=False), dtype=np.float64), nan=-np.inf)
    nearest = np.nan_to_num(np.asarray(table.column(NEAREST).to_numpy(zero_copy_only=False), dtype=np.float64),
                            nan=-1).astype(np.int64)
    pos = table.column(POS).to_numpy()
    if not np.array_equal(pos, np.arange(n)):
        raise ValueError("semdedup: cluster positions are not 0..n-1 (was the cluster split across groups?)")
    removed, keeper = resolve_keepers(best, nearest, threshold)
    rows = np.flatnonzero(removed)
    src = table.column("source_id").to_pylist()
    cid = table.column(CLUSTER_ID)[0].as_py() if n else None
    details = [f"cosine {best[j]:.4f} > {threshold:.4f} to {src[nearest[j]]} in cluster {cid}" for j in rows]
    return pa.table({
        ROW: table.column(ROW).take(pa.array(rows, pa.int64())),
        "_sd_keeper": pa.array([src[keeper[j]] for j in rows], pa.string()),
        "_sd_detail": pa.array(details, pa.string()),
    }, schema=PASS2_SCHEMA)


def pass1_fn(block_size: int):  # noqa: ANN201
    """Group function for `groupBy(cluster_id).applyInArrow` (pass 1, heavy: embeddings in, scores out).

    The inner function has no annotations on purpose: pyspark then takes the pyarrow.Table form
    (it cannot infer the form from a callable object, and fails on string annotations).
    """

    def run(table):  # type: ignore[no-untyped-def]
        return semdedup_table(table, block_size)

    return run


def pass2_fn(threshold: float):  # noqa: ANN201
    """Group function for pass 2 (light: scores in, removed rows and their kept representative out)."""

    def run(table):  # type: ignore[no-untyped-def]
        return keepers_table(table, threshold)

    return run
