"""Near-duplicate candidates: LSH band rows, bucket -> edges, and pair verification (Arrow transforms).

These are the per-batch pieces of the near-duplicate step; `pipeline` wires them into Spark joins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from curation.stages.dedup.features import shingle_array
from curation.stages.dedup.minhash import band_hashes
from curation.stages.dedup.shingles import containment, jaccard

BAND_SCHEMA = pa.schema([pa.field("band", pa.int32(), False), pa.field("bhash", pa.int64(), False),
                         pa.field("node", pa.int64(), False)])
EDGE_SCHEMA = pa.schema([pa.field("a", pa.int64(), False), pa.field("b", pa.int64(), False)])
SCORE_SCHEMA = pa.schema([pa.field("a", pa.int64(), False), pa.field("b", pa.int64(), False),
                          pa.field("score", pa.float64(), False)])


def sig_matrix(col: pa.Array, num_perm: int) -> np.ndarray:
    """Binary signature column -> (rows, num_perm) uint32 matrix (nulls = empty signatures)."""
    vals = col.to_pylist()
    out = np.full((len(vals), num_perm), 0xFFFFFFFF, dtype=np.uint32)
    for i, v in enumerate(vals):
        if v is not None:
            out[i] = np.frombuffer(v, dtype="<u4")
    return out


@dataclass
class BandRows:
    """One row per (document, band): the LSH bucket keys of the near-duplicate step."""

    bands: int
    rows: int
    num_perm: int

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        nodes = batch.column("node").to_numpy()
        h = band_hashes(sig_matrix(batch.column("sig_min"), self.num_perm), self.bands, self.rows)
        n = len(nodes)
        return pa.RecordBatch.from_arrays([
            pa.array(np.tile(np.arange(self.bands, dtype=np.int32), n)),
            pa.array(h.reshape(-1).view(np.int64)),
            pa.array(np.repeat(nodes, self.bands)),
        ], schema=BAND_SCHEMA)


@dataclass
class BucketEdges:
    """A bucket's members -> edges: all pairs when small, a star around the smallest id when large.

    `fixed` members (already in the persisted index) are never linked to each other: old-old pairs
    were settled when the older batch ran.
    """

    max_pairs: int

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        a_out: list[int] = []
        b_out: list[int] = []
        for members in batch.column("members").to_pylist():
            order = sorted((m["node"], bool(m["fixed"])) for m in members)
            if len(order) <= self.max_pairs:
                for i in range(len(order)):
                    for j in range(i + 1, len(order)):
                        if not (order[i][1] and order[j][1]):
                            a_out.append(order[i][0])
                            b_out.append(order[j][0])
            else:
                centre, cfixed = order[0]
                for node, f in order[1:]:
                    if not (cfixed and f):
                        a_out.append(centre)
                        b_out.append(node)
        return pa.RecordBatch.from_arrays([pa.array(a_out, pa.int64()), pa.array(b_out, pa.int64())], schema=EDGE_SCHEMA)


@dataclass
class PairScore:
    """Score pairs (a, b): MinHash-estimated or exact Jaccard, or exact containment of a in b."""

    mode: str  # "estimate" | "jaccard" | "containment"
    num_perm: int

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        if self.mode == "estimate":
            sa = sig_matrix(batch.column("sig_a"), self.num_perm)
            sb = sig_matrix(batch.column("sig_b"), self.num_perm)
            score = (sa == sb).mean(axis=1) if n else np.zeros(0)
        else:
            fn = jaccard if self.mode == "jaccard" else containment
            xa, xb = batch.column("sh_a").to_pylist(), batch.column("sh_b").to_pylist()
            score = np.array([fn(shingle_array(xa[i]), shingle_array(xb[i])) for i in range(n)], dtype=np.float64)
        return pa.RecordBatch.from_arrays([batch.column("a"), batch.column("b"), pa.array(score, pa.float64())],
                                          schema=SCORE_SCHEMA)
