"""Deduplication on Spark: exact, MinHash near-duplicates, and R2D2-style document containment.

Modules, one job each:
    shingles     text normalisation and word n-gram shingle hashes (vectorised with Arrow + numpy)
    minhash      MinHash min/max signatures (datasketch's affine32 scheme in numpy), LSH band parameters
    features     the per-document Arrow batch transform (exact hash, shingles, signatures)
    components   connected components on Spark DataFrames (large-star / small-star)
    near         LSH banding, candidate pairs, verification
    containment  size-partitioned LSH-Ensemble candidate search, min-max pruning, exact verification
    pipeline     the whole dedup program over a batch (optionally against a persisted index)
    incremental  the persisted index and the public `dedup_against_index` API for scheduled runs
    planted      the labelled test corpus (planted variants of real documents)
"""
