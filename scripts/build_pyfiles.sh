#!/usr/bin/env bash
# Builds dist/curation.zip (or the path given as $1) for
# `spark-submit --py-files dist/curation.zip curation/submit.py run CONFIG`.
# Executors still need the third-party packages (pyarrow, numpy, ...) in their Python; the zip ships our code
# (models, prompts and schemas included: the symlink curation/resources/schemas is followed; the code reads
# them through importlib.resources, which works inside a zip).
set -euo pipefail
out="$(realpath -m "${1:-dist/curation.zip}")"
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$out")"
OUT="$out" python3 - <<'PY'
import os, zipfile
with zipfile.ZipFile(os.environ["OUT"], "w", zipfile.ZIP_DEFLATED) as z:
    for top in ("curation", "flows"):
        for root, dirs, files in os.walk(top, followlinks=True):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                if not f.endswith(".pyc"):
                    z.write(os.path.join(root, f))
PY
echo "$out"
