"""A corpus curated batch by batch, committed like a table format: exactly once, whatever crashes.

A batch writes only new files: its run folder (`batches/vNNNN/`) and its dedup-index batch folder. Nothing it
writes is visible until one atomic rename of the corpus manifest (`manifest.json`, a copy of the immutable
`manifests/vNNNN.json`) publishes its shards, its index batch and the input files it took, together. A batch
that dies before that leaves garbage, never state: the retry reads the last committed version, so it never
meets its own earlier documents in the index, and `curation corpus gc` sweeps what dead batches left.
Design: docs/DESIGN.md#corpus-commits. Layout: curation/io/run_folder.py.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from curation.engine.failpoints import failpoint
from curation.io import fs
from curation.io import run_folder as RF
from curation.io.locks import Locked, exclusive
from curation.io.manifest import now


class CorpusLocked(Locked):
    """Another batch holds the corpus."""


def corpus_lock(corpus: str):
    """The corpus's exclusive lock; raises CorpusLocked when another writer holds it."""
    return exclusive(RF.lock_path(corpus), f"corpus {corpus}", CorpusLocked)


def committed(corpus: str) -> dict[str, Any]:
    """The last committed version (version 0 for a new corpus); a corpus from before commits existed keeps its
    processed.json as the processed files."""
    path = RF.corpus_manifest_path(corpus)
    data = json.loads(fs.read_text(path)) if fs.exists(path) else {"version": 0, "batches": []}
    if "processed" not in data:
        legacy = RF.processed_path(corpus)
        data["processed"] = json.loads(fs.read_text(legacy))["files"] if fs.exists(legacy) else {}
    data.setdefault("index_batches", [])
    return data


def new_files(landing: list[str], processed: dict[str, Any], min_age_seconds: float = 0.0) -> list[str]:
    """Files in the landing area not taken by a committed batch (same path, size and mtime), old enough to be
    complete."""
    out = []
    for pattern in landing:
        for f in fs.list_files(pattern):
            st = os.stat(f)
            seen = processed.get(f)
            if seen and seen["size"] == st.st_size and seen["mtime"] == st.st_mtime:
                continue
            if time.time() - st.st_mtime < min_age_seconds:
                continue
            out.append(f)
    return sorted(out)


def snapshot_path(corpus: str, state: dict[str, Any]) -> str:
    """The immutable file of the committed version a batch reads (written for version 0 on first use)."""
    path = RF.corpus_manifest_path(corpus, state["version"])
    if not fs.exists(path):
        fs.makedirs(os.path.dirname(path))
        fs.write_text_atomic(path, json.dumps(state, indent=2) + "\n")
    return path


def next_version(corpus: str, state: dict[str, Any], files: list[str], batch_dir: str,
                 batch_manifest: dict[str, Any]) -> dict[str, Any]:
    """The corpus manifest that commits the batch: its shards, its index batch and its input files."""
    version = state["version"] + 1
    last = batch_manifest["stages"][-1]
    rel = os.path.relpath(batch_dir, corpus)
    batches = [b for b in state["batches"] if b["version"] != version]
    batches.append({
        "version": version, "run_dir": rel, "inputs": batch_manifest.get("inputs", []), "finished_at": now(),
        "docs": last["docs"]["kept"], "tokens": last["tokens"]["kept"],
        "funnel": [{"stage": s["name"], **s["docs"]} for s in batch_manifest["stages"]],
        "shards": [os.path.join(os.path.relpath(RF.documents_dir(batch_dir), corpus), s["file"]) for s in last["shards"]],
    })
    index = [s.get("extra", {}).get("index", {}) for s in batch_manifest["stages"] if s["name"] == "dedup"]
    index_batches = list(state["index_batches"])
    if index and index[-1].get("batch") and index[-1]["batch"] not in index_batches:
        index_batches.append(index[-1]["batch"])
    processed = dict(state["processed"])
    for f in files:
        st = os.stat(f)
        processed[f] = {"size": st.st_size, "mtime": st.st_mtime, "version": version}
    return {"version": version, "updated_at": now(), "batches": batches,
            "shards": [s for b in batches for s in b["shards"]], "docs": sum(b["docs"] for b in batches),
            "tokens": sum(b["tokens"] for b in batches), "index_batches": index_batches, "processed": processed}


def commit(corpus: str, data: dict[str, Any]) -> None:
    """Write the immutable version file, then swap the pointer: the rename is the commit."""
    version_path = RF.corpus_manifest_path(corpus, data["version"])
    fs.makedirs(os.path.dirname(version_path))
    fs.write_text_atomic(version_path, json.dumps(data, indent=2) + "\n")
    failpoint("corpus:after_version_file")
    fs.write_text_atomic(RF.corpus_manifest_path(corpus), json.dumps(data, indent=2) + "\n")
    failpoint("corpus:after_commit")


def curate_batch(landing: list[str], corpus: str, config: str | None = None, overrides: list[str] | None = None,
                 min_age_seconds: float = 0.0,
                 run: Callable[[str | None, list[str], str, list[str]], Any] | None = None) -> dict[str, Any]:
    """Curate the files that arrived in `landing` since the last commit into `corpus`, as one batch.

    `run(config, inputs, output, overrides)` runs the batch's pipeline into its run folder (default: the runner
    in this process; the Prefect flow passes its own). Rerunning after any crash converges to the corpus an
    uninterrupted run would have made: the batch reruns (resuming its run folder) against the committed
    version it read, and is published only by its commit.
    """
    from curation.config import load_config

    corpus = os.path.abspath(corpus)
    with corpus_lock(corpus):
        state = committed(corpus)
        files = new_files(landing, state["processed"], min_age_seconds)
        if not files:
            return {"status": "idle", "new_files": 0, "version": state["version"]}
        batch_dir = RF.batch_dir(corpus, state["version"] + 1)
        cfg = load_config(config, overrides)
        extra = list(overrides or [])
        if "dedup" in cfg.pipeline.stages:
            if not cfg.dedup.index_dir:
                extra.append(f"dedup.index_dir={RF.index_dir(corpus)}")
            extra += ["dedup.index_publish=false", f"dedup.index_snapshot={snapshot_path(corpus, state)}"]
        result = (run or _run_here)(config, files, batch_dir, extra)
        failpoint("corpus:after_run")
        batch_manifest = json.loads(fs.read_text(RF.manifest_path(batch_dir)))
        data = next_version(corpus, state, files, batch_dir, batch_manifest)
        commit(corpus, data)
        return {"status": "done", "new_files": len(files), "version": data["version"], "batch": batch_dir,
                "corpus_docs": data["docs"], "result": result}


def _run_here(config: str | None, inputs: list[str], output: str, overrides: list[str]) -> dict[str, Any]:
    from curation.config import load_config
    from curation.engine.runner import run_pipeline

    return run_pipeline(load_config(config, overrides), inputs=inputs, out_dir=output)


def gc(corpus: str, dry_run: bool = False) -> list[str]:
    """Remove what no committed version references: batch folders of dead batches, unpublished index batches,
    temporary folders. Holds the corpus lock, so no batch is in flight. Returns what was (or would be) removed."""
    corpus = os.path.abspath(corpus)
    with corpus_lock(corpus):
        state = committed(corpus)
        live_runs = {os.path.normpath(os.path.join(corpus, b["run_dir"])) for b in state["batches"]}
        garbage = [d for d in fs.list_dirs(os.path.join(corpus, "batches")) if os.path.normpath(d) not in live_runs]
        index = RF.index_dir(corpus)
        live_index = set(state["index_batches"])
        for table in ("features", "bands"):
            garbage += [d for d in fs.list_dirs(fs.join(index, table)) if d.rpartition("batch=")[2] not in live_index]
        garbage += [d for d in fs.list_dirs(index) if os.path.basename(d).startswith(("_tmp-", "_work-"))]
        if not dry_run:
            for d in garbage:
                fs.remove(d)
        return garbage
