"""Where the optional external evaluation set is: real, externally written web pages with human ground truth,
WARC files, PDFs with reference text, language-id texts and a text-reuse corpus. It is not redistributable, so
the repo does not ship it: `$CURATION_EVAL_DATA`, else a `shared/sample_data_ext` folder beside the checkout.
Tests that need it skip without it; benchmarks that need it say so.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def eval_data_path(*parts: str) -> Path:
    """A path inside the evaluation set (it may not exist: callers check, or say what is missing)."""
    env = os.environ.get("CURATION_EVAL_DATA")
    return (Path(env) if env else ROOT.parent / "shared" / "sample_data_ext").joinpath(*parts)

