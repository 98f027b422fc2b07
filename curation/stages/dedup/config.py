"""DedupConfig: the `dedup` section of the YAML config (documented keys, validated)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curation.engine.options import opt
from curation.stages.dedup.minhash import optimal_bands
from curation.stages.dedup.shingles import MAX_NGRAM


@dataclass
class DedupConfig:
    exact: bool = opt(True, "Step 1: drop exact duplicates (same text after `exact_normalization`) as `exact_duplicate`.")
    exact_normalization: Literal["none", "whitespace", "lower"] = opt(
        "whitespace", "Text normalisation before the exact hash: none, collapsed whitespace, or whitespace + lower-case.")
    near: bool = opt(True, "Step 2: MinHash + LSH near-duplicates, connected components on Spark, one kept per component.")
    threshold: float = opt(0.8, "Jaccard threshold of word n-gram shingle sets for near-duplicates (peers: ~0.7-0.8).")
    num_perm: int = opt(256, "MinHash permutations (datasketch affine32 scheme, our numpy code). Shared by near-dup and containment.")
    seed: int = opt(1, "MinHash seed (datasketch's RandomState seed for the permutations).")
    ngram: int = opt(5, "Words per shingle, after lower-casing, diacritics/punctuation removal and digits -> 0.")
    bands: int = opt(0, "LSH bands; 0 derives bands x rows from `threshold` and `num_perm` (min. weighted FP+FN, as datasketch).")
    rows: int = opt(0, "LSH rows per band; 0 derives it with `bands` (set both or neither).")
    verification: Literal["exact", "estimate", "none"] = opt(
        "exact", "Check LSH candidate pairs before linking them: exact Jaccard of shingle sets, MinHash estimate, or none (LSH only, as datatrove).")
    max_bucket_pairs: int = opt(
        32, "An LSH bucket with at most this many documents yields all its pairs; larger buckets yield a star around their smallest id.")
    representative: Literal["longest", "quality", "newest"] = opt(
        "longest", "Which member of a duplicate group is kept: longest text, best `quality_column` (then longest), or newest crawl_date (then longest). Ties: the text's hash, then source_id, then doc_id (never the file path first).")
    quality_column: str = opt("quality_score", "Column read by representative=quality (higher is better); missing/null counts as worst.")
    containment: bool = opt(True, "Step 3: drop documents whose shingles are mostly inside another document's (`contained`).")
    containment_threshold: float = opt(0.8, "Containment |Sh(A) ∩ Sh(B)| / |Sh(A)| at or above which A is dropped (B kept).")
    containment_min_shingles: int = opt(20, "Documents with fewer shingles are not tested as contained (tiny texts are contained everywhere).")
    containment_max_size_ratio: float = opt(
        8.0, "Containers more than this many times larger (in shingles) than the query are not searched (bounds LSH cost).")
    containment_num_perm: int = opt(
        128, "Signature values used for the LSH-Ensemble search (the first k of num_perm; fewer = fewer index rows). The min-max test uses all num_perm.")
    containment_num_part: int = opt(16, "LSH-Ensemble partitions of the indexed sets by size (equi-depth on the size histogram).")
    containment_max_rows: int = opt(8, "LSH-Ensemble m: the largest rows-per-band considered.")
    containment_same_language: bool = opt(True, "Only pair documents with the same `language` (when both are known).")
    containment_minmax_slack: float = opt(
        0.05, "Min-max bound test: prune a pair when the share of failed bound tests exceeds (1 - t)|A|/|B| plus this slack.")
    containment_max_bucket: int = opt(
        2000, "LSH-Ensemble buckets with more indexed documents than this are skipped (shared boilerplate); counted in the manifest.")
    index_publish: bool = opt(
        True, "Publish this run's batch in the index as soon as it is written (standalone runs). The corpus flow sets "
              "false and publishes the batch in its own atomic commit (docs/DESIGN.md#corpus-commits).")
    index_snapshot: str | None = opt(
        None, "JSON file whose `index_batches` list names the index batches to dedup against (a committed corpus "
              "manifest version); unset: every published batch.")
    index_dir: str | None = opt(
        None, "Persisted dedup index (Parquet). Set it to dedup each new batch against all previous batches without reprocessing them; kept documents are appended.")
    detailed_stats: bool = opt(
        True, "Count the pairs surviving each step (candidates, verified, min-max, ...) for the manifest; costs one small Spark job each.")
    keep_work: bool = opt(False, "Keep intermediate Parquet (features, edges, pairs) in the stage's side folder for inspection.")

    def validate(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 < self.containment_threshold <= 1.0:
            raise ValueError(f"containment_threshold must be in (0, 1], got {self.containment_threshold}")
        if not 1 <= self.ngram <= MAX_NGRAM:
            raise ValueError(f"ngram must be in 1..{MAX_NGRAM}, got {self.ngram}")
        if not 8 <= self.num_perm <= 4096:
            raise ValueError(f"num_perm must be in 8..4096, got {self.num_perm}")
        if (self.bands == 0) != (self.rows == 0):
            raise ValueError("set both bands and rows, or neither (0 derives them from threshold)")
        if self.bands < 0 or self.rows < 0 or self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows={self.bands * self.rows} must be <= num_perm={self.num_perm}")
        if self.max_bucket_pairs < 2 or self.containment_max_bucket < 2:
            raise ValueError("max_bucket_pairs and containment_max_bucket must be >= 2")
        if self.containment_num_part < 1 or not 1 <= self.containment_max_rows <= self.num_perm:
            raise ValueError("containment_num_part must be >= 1 and containment_max_rows in 1..num_perm")
        if not 8 <= self.containment_num_perm <= self.num_perm:
            raise ValueError(f"containment_num_perm must be in 8..num_perm={self.num_perm}")
        if self.containment_max_size_ratio < 1.0:
            raise ValueError("containment_max_size_ratio must be >= 1")

    def band_rows(self) -> tuple[int, int]:
        """The (bands, rows) used for near-duplicate LSH."""
        if self.bands:
            return self.bands, self.rows
        return optimal_bands(self.threshold, self.num_perm)


SECTION = DedupConfig
