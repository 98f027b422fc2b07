"""Lake scan (R2D2): which Parquet datasets are wholly contained in others, and what to delete.

schema_graph -> minmax -> content -> verify (Spark), cheapest first; then `plan` and `recipe` (Spark).
Design: docs/DESIGN.md#lake-scan
"""
