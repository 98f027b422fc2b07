"""Compute-aware selection (Goyal et al., CVPR 2024, transferred to text): from a token budget to how hard to filter.

One module per job: law, fit, buckets, proxy, plan, plot. Spec: docs/PAPERS.md 4; design: docs/DESIGN.md#select-overview
"""
