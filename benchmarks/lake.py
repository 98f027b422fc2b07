"""Lake scan benchmark: a planted lake of N Parquet datasets; scan time and pairs surviving each stage.

    .venv/bin/python benchmarks/lake.py --datasets 5000            # footers, schema, min-max, content, Spark check
    .venv/bin/python benchmarks/lake.py --datasets 5000 --no-verify
    .venv/bin/python benchmarks/lake.py --datasets 300 --check-truth   # also compare with brute-force truth

The lake is families of ~11 small datasets (copies, row subsets, projections, supersets, near misses;
see tools/planted_lake.py); every fifth family is in the document schema (doc_id hash column), so
one large schema class exercises the min-max stage. No peer does containment, so there is no
side-by-side run. Timings on a shared machine are noisy: compare stages, not absolute seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation.commands.lake import render  # noqa: E402
from curation.lake.scan import ScanOptions, scan  # noqa: E402
from tools.planted_lake import VARIANTS, make_lake, true_containments  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=int, default=5000, help="approximate number of datasets in the lake")
    p.add_argument("--rows", type=int, default=40, help="rows of each family's base table")
    p.add_argument("--big-every", type=int, default=10, help="every n-th family also gets a 1,200-row parent")
    p.add_argument("--root", help="where to write the lake (default: a temporary folder, removed afterwards)")
    p.add_argument("--no-verify", action="store_true", help="skip the exact Spark check")
    p.add_argument("--check-truth", action="store_true", help="compare with brute-force truth (small lakes only)")
    p.add_argument("--master", default="local[2]", help="Spark master for the exact check")
    a = p.parse_args()
    root = a.root or tempfile.mkdtemp(prefix="lake-bench-")
    families = max(1, round(a.datasets / (len(VARIANTS) - 1 + 2 / max(1, a.big_every))))
    try:
        t = time.perf_counter()
        paths = make_lake(root, families=families, rows=a.rows, big_every=a.big_every, seed=42)
        print(f"generated {len(paths)} datasets ({families} families) in {time.perf_counter() - t:.1f}s under {root}")
        spark = None
        if not a.no_verify:
            from curation.config import SparkConfig
            from curation.engine.spark import get_spark

            t = time.perf_counter()
            spark = get_spark(SparkConfig(master=a.master, shuffle_partitions=8, driver_memory="4g"))
            print(f"spark session in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        report = scan([root], spark, ScanOptions(verify=not a.no_verify))
        total = time.perf_counter() - t
        print(render(report, max_rows=10))
        print(f"\nscan time {total:.1f}s for {report['datasets']} datasets "
              f"({sum(s['seconds'] for s in report['stages'] if s['stage'] != 'verified'):.1f}s before the Spark check)")
        if a.check_truth:
            truth = true_containments(paths)
            got = {(e["contained"], e["container"]) for e in report["edges"]}
            print(f"truth {len(truth)} pairs; found {len(got & truth)}; false {len(got - truth)}")
    finally:
        if not a.root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
