"""The layout of a run folder; the only module that knows where a run keeps what.

    manifest.json                      funnel, config, models, finished shards
    documents/part-*.parquet           kept documents after the last stage
    stages/NN-name/documents/          kept documents after stage NN (input of NN+1; resume point)
    stages/NN-name/side/               the stage's side outputs (signatures, embeddings, models)
    ledger/NN-name/part-*.parquet      one row per document that entered stage NN
    rejected/NN-name/part-*.parquet    dropped and quarantined documents with their reason
    _tmp/NN-name/                      a stage's output while it is written (renamed into place)

Paths are strings (local paths or Hadoop-style URIs, joined with `curation.io.fs.join`); the manifest
stores them relative to the run folder (`relative`). Callers with `pathlib.Path` pass `str(path)`.
"""

from __future__ import annotations

from curation.io import fs

MANIFEST = "manifest.json"
DOCUMENTS = "documents"


def label(index: int, name: str) -> str:
    """The folder name of stage `name` at position `index`: `NN-name`."""
    return f"{index:02d}-{name}"


def manifest_path(run: str) -> str:
    return fs.join(run, MANIFEST)


def documents_dir(run: str, stage_label: str | None = None, last: bool = True) -> str:
    """Kept documents: the run's final `documents/`, or a stage's resume point when it is not the last."""
    return fs.join(run, DOCUMENTS) if last or stage_label is None else fs.join(run, "stages", stage_label, DOCUMENTS)


def side_dir(run: str, stage_label: str) -> str:
    return fs.join(run, "stages", stage_label, "side")


def ledger_dir(run: str, stage_label: str) -> str:
    return fs.join(run, "ledger", stage_label)


def rejected_dir(run: str, stage_label: str) -> str:
    return fs.join(run, "rejected", stage_label)


def tmp_dir(run: str, stage_label: str) -> str:
    return fs.join(run, "_tmp", stage_label)


def lock_path_of_run(run: str) -> str:
    """The run folder's lock file (one writer per run folder)."""
    return fs.join(run, ".lock")


def cache_dir(run: str, name: str) -> str:
    """A stage's cache that outlives re-runs of the stage (e.g. `rewrite_cache/`)."""
    return fs.join(run, f"{name}_cache")


def relative(run: str, path: str) -> str:
    """`path` relative to the run folder, as the manifest stores it."""
    return path[len(run):].lstrip("/") if path.startswith(run) else path


def is_run(path: str) -> bool:
    """A finished or running run folder: a manifest next to a documents/ folder."""
    return fs.exists(manifest_path(path)) and fs.exists(fs.join(path, DOCUMENTS))


# -- a corpus: the scheduled incremental deployment's folder of batches (flows/incremental.py) -----------------
#     manifest.json              the current version: every batch's shards and the totals
#     manifests/v0001.json ...   immutable earlier versions
#     batches/v0001/             one ordinary run folder per batch
#     _index/                    the dedup index (signatures/bands of every kept document so far)
#     _state/processed.json      input files taken by successful runs (path -> size, mtime, version)
#     _state/lock                held by the running batch

def corpus_manifest_path(corpus: str, version: int | None = None) -> str:
    """The current corpus manifest, or the immutable manifest of `version`."""
    return fs.join(corpus, MANIFEST) if version is None else fs.join(corpus, "manifests", f"v{version:04d}.json")


def batch_dir(corpus: str, version: int) -> str:
    return fs.join(corpus, "batches", f"v{version:04d}")


def index_dir(corpus: str) -> str:
    return fs.join(corpus, "_index")


def processed_path(corpus: str) -> str:
    return fs.join(corpus, "_state", "processed.json")


def lock_path(corpus: str) -> str:
    return fs.join(corpus, "_state", "lock")
