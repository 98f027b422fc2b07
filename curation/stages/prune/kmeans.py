"""Spherical k-means on a sample (faiss) and nearest-centroid assignment per Arrow batch.

Fit on a sample, apply everywhere (an estimator and its transformer): the centroids are small
(k x dim) and are broadcast, so assignment is a per-batch map with no shuffle.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyarrow as pa

from curation import schema as S
from curation.engine.batches import with_columns
from curation.stages.prune.embed import embedding_matrix

CLUSTER_ID = "cluster_id"
PROTOTYPE_DISTANCE = "prototype_distance"


def auto_k(n: int) -> int:
    """D4 used k = 11,000 for ~100M points, about sqrt(N); results are insensitive within an order of magnitude."""
    return max(1, round(math.sqrt(max(n, 1))))


def faiss_gpus() -> int:
    import faiss

    try:
        return int(faiss.get_num_gpus())
    except AttributeError:  # CPU-only builds without the symbol
        return 0


def faiss_thread_guard() -> Any:
    """faiss parallelises with its own OpenMP runtime and calls its bundled OpenBLAS (an OpenMP build)
    inside. Once torch (another OpenMP runtime) has run in the same process (embeddings, then k-means
    in-process), that livelocked in OpenBLAS's thread server (sched_yield in zgbmv_thread, 100 % CPU for
    minutes on 2,000 x 384 rows; limiting the BLAS API alone did not help: this OpenBLAS takes its
    threads from OpenMP). So when torch is loaded, faiss runs single-threaded; without torch (the Spark
    driver fits k-means on collected embeddings) it keeps every core."""
    import contextlib
    import sys

    if "torch" not in sys.modules:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def fit_spherical_kmeans(x: np.ndarray, k: int, niter: int = 20, seed: int = 1234,
                         gpu: bool | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Centroids (k, d), unit norm, fitted on normalised rows of `x`; k is clipped to the number of rows."""
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    if n == 0:
        raise ValueError("k-means needs at least one embedded document")
    k = max(1, min(k, n))
    use_gpu = faiss_gpus() > 0 if gpu is None else gpu
    started = time.perf_counter()
    if k == 1:
        c = x.mean(axis=0, keepdims=True)
        c /= max(float(np.linalg.norm(c)), 1e-12)
        return c.astype(np.float32), {"k": 1, "n": n, "niter": 0, "gpu": False, "seconds": 0.0, "objective": None}
    km = faiss.Kmeans(d, k, niter=niter, seed=seed, spherical=True, gpu=use_gpu, verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, (n + k - 1) // k))
    with faiss_thread_guard():
        km.train(x)
    c = np.asarray(km.centroids, dtype=np.float32)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    obj = km.obj[-1] if len(km.obj) else None
    return c, {"k": k, "n": n, "niter": niter, "gpu": bool(use_gpu), "seconds": round(time.perf_counter() - started, 3),
               "objective": None if obj is None else float(obj)}


def nearest_centroid(x: np.ndarray, centroids: np.ndarray, index: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(cluster ids, cosine similarity to that centroid) for normalised rows of x."""
    if index is None:
        index = centroid_index(centroids)
    with faiss_thread_guard():
        sims, ids = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)
    return ids[:, 0].astype(np.int64), sims[:, 0].astype(np.float64)


def centroid_index(centroids: np.ndarray) -> Any:
    import faiss

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index


class AssignTransform:
    """Sets `cluster_id` and `prototype_distance` (1 - cosine to the nearest centroid) on kept, embedded rows.

    Rows that are not kept, or have no embedding, keep the values they had (null the first time), so the
    same transform re-assigns SemDeDup survivors after D4's re-clustering without touching the duplicates.
    `centroids` is a numpy array or a Spark broadcast of one.
    """

    def __init__(self, centroids: Any):
        self.centroids = centroids
        self._index: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"centroids": self.centroids, "_index": None}

    def _get_index(self) -> Any:
        if self._index is None:
            c = self.centroids.value if hasattr(self.centroids, "value") else self.centroids
            self._index = centroid_index(np.asarray(c, dtype=np.float32))
        return self._index

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        x, valid = embedding_matrix(batch)
        kept = np.array([d == S.KEPT for d in batch.column("decision").to_pylist()], dtype=bool)
        todo = valid & kept
        names = batch.schema.names
        cid = (batch.column(CLUSTER_ID).to_numpy(zero_copy_only=False) if CLUSTER_ID in names else np.full(n, None, object))
        dist = (batch.column(PROTOTYPE_DISTANCE).to_numpy(zero_copy_only=False) if PROTOTYPE_DISTANCE in names
                else np.full(n, None, object))
        cid = np.array(cid, dtype=object)
        dist = np.array(dist, dtype=object)
        if todo.any():
            ids, sims = nearest_centroid(x[todo], np.empty((0, 0)), index=self._get_index())
            cid[todo] = ids
            dist[todo] = np.clip(1.0 - sims, 0.0, 2.0)
        cid_arr = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else int(v) for v in cid], pa.int64())
        dist_arr = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v) for v in dist],
                            pa.float64())
        return with_columns(batch, {CLUSTER_ID: cid_arr, PROTOTYPE_DISTANCE: dist_arr})
