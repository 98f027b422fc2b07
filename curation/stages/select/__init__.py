"""Compute-aware selection (Goyal et al., CVPR 2024, transferred to text): from a token budget to how hard to filter.

Modules, one job each:
    law       the scaling law for filtered, repeated data: paper form and the authors' code form side by side
    fit       grid-search fit of (b, tau) per quality bucket with shared a and d, with fit quality
    buckets   equal-token quality buckets from a score histogram (streamed with pyarrow or computed by Spark)
    proxy     small proxy language models trained per bucket to measure the curves the fit needs
    plan      budget -> candidate pools -> predicted loss -> chosen pool, threshold, repetitions (+ plot)
    plot      a dependency-free SVG of predicted loss vs budget per pool
"""
