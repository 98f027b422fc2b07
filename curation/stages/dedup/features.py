"""The per-document part of dedup: one Arrow batch in, one row of dedup features per document out.

Features: `node` (int64 id for graph work), `text_hash` (exact-duplicate key), `n_shingles`,
`sig_min`/`sig_max` (MinHash signatures as little-endian uint32 bytes) and `shingles` (the sorted
unique 64-bit shingle hashes as bytes, for exact verification). Pure function: unit-tested without
Spark, run on executors through mapInArrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curation.stages.dedup.minhash import signatures
from curation.stages.dedup.shingles import shingle_batch

FEATURE_FIELDS = [
    pa.field("doc_id", pa.string(), nullable=False),
    pa.field("node", pa.int64(), nullable=False),
    pa.field("text_hash", pa.string()),
    pa.field("n_shingles", pa.int32()),
    pa.field("sig_min", pa.binary()),
    pa.field("sig_max", pa.binary()),
    pa.field("shingles", pa.binary()),
]


def node_id(doc_id: str) -> int:
    """Signed 64-bit graph id of a document (collisions are checked for by the pipeline)."""
    v = xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", "surrogatepass"))
    return v - (1 << 64) if v >= (1 << 63) else v


def exact_key(text: pa.Array, mode: str) -> list[str | None]:
    """Exact-duplicate key: xxh3-128 of the text after the chosen normalisation."""
    if mode == "whitespace":
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    elif mode == "lower":
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(text), r"\s+", " "))
    out: list[str | None] = []
    for t in text.to_pylist():
        out.append(None if t is None else xxhash.xxh3_128_hexdigest(t.encode("utf-8", "surrogatepass")))
    return out


@dataclass
class FeatureTransform:
    num_perm: int
    seed: int
    ngram: int
    exact_normalization: Literal["none", "whitespace", "lower"] = "whitespace"
    keep_shingles: bool = True
    passthrough: tuple[str, ...] = ()

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        return pa.schema(FEATURE_FIELDS + [input_schema.field(c) for c in self.passthrough])

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        text = batch.column("text")
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        ids = batch.column("doc_id").to_pylist()
        sh = shingle_batch(text, self.ngram)
        mins, maxs = signatures(sh, self.num_perm, self.seed)
        sizes = sh.sizes()
        shingle_bytes = ([sh.doc(i).astype("<u8").tobytes() for i in range(len(ids))]
                         if self.keep_shingles else [None] * len(ids))
        return pa.RecordBatch.from_arrays([
            pa.array(ids, pa.string()),
            pa.array([node_id(d) for d in ids], pa.int64()),
            pa.array(exact_key(text, self.exact_normalization), pa.string()),
            pa.array(sizes.astype(np.int32), pa.int32()),
            pa.array([m.astype("<u4").tobytes() for m in mins], pa.binary()),
            pa.array([m.astype("<u4").tobytes() for m in maxs], pa.binary()),
            pa.array(shingle_bytes, pa.binary()),
            *[batch.column(c) for c in self.passthrough],
        ], schema=self.output_schema(batch.schema))


def sig(b: bytes | None, num_perm: int) -> np.ndarray:
    if b is None:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    return np.frombuffer(b, dtype="<u4")


def shingle_array(b: bytes | None) -> np.ndarray:
    return np.zeros(0, dtype=np.uint64) if b is None else np.frombuffer(b, dtype="<u8")
