#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite, Spark, Prefect server and browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PYSPARK_PYTHON=$PWD/.venv/bin/python OMP_THREAD_LIMIT=1
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [[ $rc == 5 ]]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit $rc
