"""REWIRE (Nguyen et al., COLM 2025): recycle discarded web text by guided rewriting, then re-score and mix.

One module per job: prompts, parse, backends, cache, budget, generate (the per-batch transform), postfilter.
Spec: docs/PAPERS.md 5; design: docs/DESIGN.md#rewrite
"""
