"""Lake scan (R2D2): which Parquet datasets are wholly contained in others, and what to delete.

Stages, cheapest first, each only ever removing candidate pairs that cannot be containments:
schema containment graph (`schema_graph`) -> min-max pruning from footers (`minmax`) -> content
pruning on sampled hashed rows (`content`) -> exact anti-join on Spark (`verify`). The deletion plan
(`plan`) picks what to delete under storage/access/latency costs; `recipe` deletes after re-verifying
and writes a reconstruction recipe. Only `verify` and `recipe` use Spark; the rest is driver-side.
"""
