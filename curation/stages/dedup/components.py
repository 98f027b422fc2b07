"""Connected components of a large graph as Spark DataFrame programs: large-star / small-star.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014). Each round is two
joins/aggregations over the edge list; O(log n) rounds. Nothing is collected to the driver, and the
edge list is written to disk between rounds (checkpoint folder) so the query plan does not grow.
The result maps every node that has an edge to the smallest node id of its component.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curation.io import fs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _large_star(edges: DataFrame) -> DataFrame:
    """Connect every strictly larger neighbour of u to the minimum of u's closed neighbourhood."""
    from pyspark.sql import functions as F

    both = edges.select("a", "b").union(edges.select(F.col("b").alias("a"), F.col("a").alias("b")))
    mins = both.groupBy("a").agg(F.least(F.min("b"), F.first("a")).alias("m"))
    return (both.where(F.col("b") > F.col("a")).join(mins, "a")
            .select(F.col("b").alias("a"), F.col("m").alias("b")).distinct())


def _small_star(edges: DataFrame) -> DataFrame:
    """Connect u and every smaller-or-equal neighbour of u to the minimum of that set."""
    from pyspark.sql import functions as F

    down = edges.select(F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b"))
    mins = down.groupBy("a").agg(F.min("b").alias("m"))
    j = down.join(mins, "a")
    return (j.select(F.col("b").alias("a"), F.col("m").alias("b"))
            .union(j.select(F.col("a"), F.col("m").alias("b")))
            .where(F.col("a") != F.col("b")).distinct())


def connected_components(spark: SparkSession, edges: DataFrame, work_dir: str, max_rounds: int = 64) -> DataFrame:
    """`edges(a: long, b: long)` -> `(node: long, component: long)`, component = min node id.

    Isolated nodes (no edge) are not in the output. Raises RuntimeError if it has not converged
    after `max_rounds` rounds (it converges in O(log n) rounds on any graph).
    """
    from pyspark.sql import functions as F

    current = edges.where(F.col("a") != F.col("b")).select(
        F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b")).distinct()
    for rnd in range(max_rounds):
        nxt = _small_star(_large_star(current))
        path = fs.join(work_dir, f"cc-{rnd:02d}")
        nxt.write.mode("overwrite").parquet(fs.spark_path(path))
        nxt = spark.read.parquet(fs.spark_path(path))
        # Converged when the graph is a set of stars: no edge's target is a source, one root per node.
        down = nxt.select(F.greatest("a", "b").alias("a"), F.least("a", "b").alias("b"))
        not_star = down.join(down.select(F.col("a").alias("b")).distinct(), "b", "left_semi").limit(1).count()
        if not_star == 0:  # also every node must point to a single root
            not_star = down.groupBy("a").count().where(F.col("count") > 1).limit(1).count()
        current = down
        if rnd > 0:
            fs.remove(fs.join(work_dir, f"cc-{rnd - 1:02d}"))
        if not_star == 0:
            return current.select(F.col("a").alias("node"), F.col("b").alias("component")).union(
                current.select(F.col("b").alias("node"), F.col("b").alias("component"))).distinct()
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
