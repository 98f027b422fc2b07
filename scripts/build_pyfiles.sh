#!/usr/bin/env bash
# Builds dist/curation.zip for `spark-submit --py-files dist/curation.zip curation/submit.py run CONFIG`.
# Executors still need the third-party packages (pyarrow, numpy, ...) in their Python; the zip ships our code
# (schemas included: the symlink curation/resources/schemas is followed).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
python3 - <<'PY'
import os, zipfile
with zipfile.ZipFile("dist/curation.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for top in ("curation", "flows"):
        for root, dirs, files in os.walk(top, followlinks=True):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if not f.endswith(".pyc"):
                    z.write(os.path.join(root, f))
PY
echo dist/curation.zip
