"""spark-submit entry point: `spark-submit --master URL curation/submit.py run CONFIG.yaml`.

The same CLI as `curation`, started by spark-submit so the cluster's master and conf apply
(`curation.engine.spark.get_spark` does not override them). Ship the package to executors with
`--py-files dist/curation.zip` (built by `scripts/build_pyfiles.sh`) or install the wheel on every node.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # spark-submit puts this file's folder (curation/) first on sys.path; the package's parent must win.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    from curation.cli import main

    sys.exit(main())
