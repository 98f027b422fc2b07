"""Shared fixtures: one real local Spark session for the whole test run, paths to real sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tools/ (development helpers) is importable from the tests

from tools.eval_data import eval_data_path  # noqa: E402

SAMPLE = ROOT / "sample_data"
SHARED_EXT = eval_data_path()  # the optional external evaluation set (tools/eval_data.py)

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="session")
def spark():
    from curation.config import SparkConfig
    from curation.engine.spark import get_spark

    session = get_spark(SparkConfig(master="local[2]", shuffle_partitions=4, progress=False, driver_memory="2g"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def ext_dir() -> Path:
    if not SHARED_EXT.exists():
        pytest.skip("the external evaluation set is not present (tools/eval_data.py)")
    return SHARED_EXT


@pytest.fixture
def make_config():
    """load_config with overrides given as a dict of dotted keys."""
    from curation.config import load_config

    def make(path=None, **overrides):
        sets = [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
        return load_config(path, sets)

    return make
