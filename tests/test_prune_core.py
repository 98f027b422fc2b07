"""prune building blocks without the embedding model or Spark: k-means, SemDeDup, policy, storage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curation import schema as S
from curation.stages.prune.config import PruneConfig
from curation.stages.prune.embed import (
    EMBEDDING,
    EMBEDDING_F16,
    embedding_matrix,
    to_f16_array,
    to_list_array,
)
from curation.stages.prune.kmeans import AssignTransform, auto_k, fit_spherical_kmeans, nearest_centroid
from curation.stages.prune.policy import allocate_quotas, choose_policy, target_count
from curation.stages.prune.semdedup import max_earlier_similarity, processing_order, resolve_keepers


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def blobs(n_per: int, k: int, d: int = 32, spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((k, d)))
    labels = np.repeat(np.arange(k), n_per)
    x = unit(centers[labels] + spread * rng.standard_normal((k * n_per, d)))
    return x, labels


def test_auto_k_is_sqrt_n():
    assert auto_k(121_000_000) == 11_000  # D4's k for ~121M points
    assert auto_k(0) == 1 and auto_k(2) == 1 and auto_k(100) == 10


def test_spherical_kmeans_recovers_planted_clusters():
    x, labels = blobs(60, 6)
    c, info = fit_spherical_kmeans(x, 6, niter=20, seed=1)
    assert info["k"] == 6 and c.shape == (6, 32)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
    ids, sims = nearest_centroid(x, c)
    # every planted blob maps to one cluster (purity 1)
    for lab in range(6):
        assert len(set(ids[labels == lab])) == 1
    assert (sims > 0.5).all()


def test_kmeans_clips_k_to_rows():
    x, _ = blobs(2, 2)
    c, info = fit_spherical_kmeans(x, 50)
    assert info["k"] == 4 and c.shape[0] == 4
    with pytest.raises(ValueError):
        fit_spherical_kmeans(np.zeros((0, 8), np.float32), 3)


def test_blockwise_max_similarity_equals_full_matrix():
    x, _ = blobs(40, 3, spread=0.3)
    full = x @ x.T
    expect = np.array([-np.inf] + [full[j, :j].max() for j in range(1, len(x))])
    expect_arg = np.array([-1] + [int(full[j, :j].argmax()) for j in range(1, len(x))])
    for block in (1, 7, 64, 1000):
        best, nearest = max_earlier_similarity(x, block_size=block)
        np.testing.assert_allclose(best, expect, rtol=1e-5)
        np.testing.assert_array_equal(nearest, expect_arg)


def test_resolve_keepers_follows_chains_to_a_survivor():
    # 0 kept; 1 dup of 0; 2 dup of 1 (chain -> 0); 3 unique; 4 dup of 3
    best = np.array([-np.inf, 0.99, 0.98, 0.2, 0.97])
    nearest = np.array([-1, 0, 1, 0, 3])
    removed, keeper = resolve_keepers(best, nearest, 0.95)
    assert removed.tolist() == [False, True, True, False, True]
    assert keeper.tolist() == [0, 0, 0, 3, 3]
    assert not removed[keeper].any()


def test_processing_order_is_farthest_first_and_stable():
    order = processing_order(np.array([0.1, 0.5, 0.5, 0.3]), ["d", "b", "a", "c"])
    assert order.tolist() == [2, 1, 3, 0]


def test_quotas_are_exact_and_within_one_of_the_common_rate():
    rng = np.random.default_rng(3)
    counts = {c: int(n) for c, n in enumerate(rng.integers(1, 500, size=37))}
    total = sum(counts.values())
    for target in (1, total // 3, total // 2, total - 1, total, total + 10):
        q = allocate_quotas(counts, target)
        assert sum(q.values()) == min(target, total)
        rate = min(target, total) / total
        for c, n in counts.items():
            assert 0 <= q[c] <= n
            assert abs(q[c] - rate * n) < 1.0 + 1e-9


def test_d4_composition_dedup_then_prototype_pruning_hits_floor_half():
    """docs/PAPERS.md 3e.4: R_dedup = 0.75 then prototype pruning to R = 0.5 keeps exactly floor(0.5 n), +-1 per cluster."""
    x, _ = blobs(50, 8, spread=0.25, seed=5)
    n = len(x)
    c, _ = fit_spherical_kmeans(x, 8, seed=2)
    ids, sims = nearest_centroid(x, c)
    dist = 1 - sims
    scores = np.empty(n)
    for cl in np.unique(ids):
        rows = np.flatnonzero(ids == cl)
        order = processing_order(dist[rows], rows.tolist())
        best, _ = max_earlier_similarity(x[rows][order], 16)
        scores[rows[order]] = best
    threshold = np.quantile(np.where(np.isinf(scores), -1, scores), 0.75, method="lower")
    survivors = scores <= threshold
    assert 0.74 <= survivors.mean() <= 0.76
    counts = {int(cl): int((survivors & (ids == cl)).sum()) for cl in np.unique(ids)}
    target = target_count(n, 0.5)
    quotas = allocate_quotas(counts, target)
    assert target == n // 2 and sum(quotas.values()) == target
    rate = target / survivors.sum()
    assert all(abs(quotas[cl] - rate * counts[cl]) <= 1 for cl in counts)


def test_policy_follows_abundance():
    cfg = PruneConfig(budget_tokens=1_000)
    scarce = choose_policy(1_500, cfg)
    assert scarce.strategy == "easy" and scarce.keep_fraction == pytest.approx(1 / 1.5)
    abundant = choose_policy(4_000, cfg)
    assert abundant.strategy == "hard" and abundant.keep_fraction == pytest.approx(0.25)
    floor = choose_policy(100_000, cfg)
    assert floor.keep_fraction == cfg.min_keep_fraction and "min_keep_fraction" in floor.why
    too_little = choose_policy(500, cfg)
    assert too_little.keep_fraction == 1.0
    none = choose_policy(10**9, PruneConfig())
    assert none.keep_fraction == 1.0 and none.abundance is None
    fixed = choose_policy(10, PruneConfig(keep_fraction=0.3, strategy="easy"))
    assert fixed.keep_fraction == 0.3 and fixed.strategy == "easy"


def test_config_rejects_bad_values(make_config):
    from curation.config import ConfigError

    for key, value in [("prune.eps", 1.5), ("prune.keep_fraction", 0), ("prune.keep_fraction", "most"),
                       ("prune.strategy", "medium"), ("prune.budget_tokens", -5), ("prune.dtype", "int8")]:
        with pytest.raises(ConfigError, match=key.split(".")[1]):
            make_config(**{key.replace(".", "__"): value})
    cfg = make_config(prune__keep_fraction=0.4, prune__budget_tokens=10)
    assert cfg.prune.keep_fraction == 0.4


def test_float16_and_float32_storage_read_back_alike():
    x, _ = blobs(5, 2, d=16)
    valid = np.array([True] * 9 + [False])
    t32 = pa.table({EMBEDDING: to_list_array(x, valid)})
    t16 = pa.table({EMBEDDING: pa.nulls(10, pa.list_(pa.float32())), EMBEDDING_F16: to_f16_array(x, valid)})
    a, va = embedding_matrix(t32)
    b, vb = embedding_matrix(t16)
    assert va.tolist() == vb.tolist() == valid.tolist()
    np.testing.assert_allclose(a[valid], x[valid], atol=1e-6)
    np.testing.assert_allclose(b[valid], x[valid], atol=2e-3)
    assert len(t16.column(EMBEDDING_F16)[0].as_py()) == 16 * 2


def test_assign_transform_sets_scores_only_on_kept_embedded_rows():
    x, labels = blobs(3, 2, d=8)
    c, _ = fit_spherical_kmeans(x, 2)
    valid = np.array([True, True, False, True, True, True])
    batch = pa.RecordBatch.from_pydict({
        "doc_id": [str(i) for i in range(6)],
        "decision": [S.KEPT, S.DROPPED, S.KEPT, S.KEPT, S.KEPT, S.KEPT],
        EMBEDDING: to_list_array(x, valid),
    })
    out = AssignTransform(c)(batch)
    cid = out.column("cluster_id").to_pylist()
    dist = out.column("prototype_distance").to_pylist()
    assert cid[1] is None and cid[2] is None and dist[2] is None
    assert all(0 <= d < 1 for i, d in enumerate(dist) if i not in (1, 2))
    again = AssignTransform(c[::-1].copy())(out)  # re-assignment keeps dropped rows' values
    assert again.column("cluster_id")[1].as_py() is None
