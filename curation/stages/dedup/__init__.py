"""Deduplication on Spark: exact, MinHash near-duplicates, and R2D2-style document containment.

One module per job: shingles, minhash, features, components, near, containment, pipeline (the whole program),
incremental (the persisted index and `dedup_against_index`). The labelled test corpus is
tools/planted_dedup.py.
"""
