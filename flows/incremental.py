"""Scheduled incremental curation: pick up input files that arrived since the last successful run,
curate only them (deduplicated against the existing corpus through the persisted dedup index), append
their shards to the corpus and write a new corpus manifest version.

The corpus folder's layout is curation/io/run_folder.py's (a batch is an ordinary run folder); the lock is
held by the running batch, and a second run finds it and does nothing.

A failed batch leaves processed.json untouched, so the next run retries the same files into the same
batch folder and resumes there (the batch's own manifest skips finished stages).
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from typing import Any

from prefect import flow, get_run_logger

from curation.config import load_config
from curation.io import fs
from curation.io import run_folder as RF
from curation.io.manifest import now


class CorpusLocked(RuntimeError):
    pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@contextmanager
def corpus_lock(corpus: str):
    """An exclusive lock file; a lock left by a dead process on this host is taken over."""
    path = RF.lock_path(corpus)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            break
        except FileExistsError:
            try:
                holder = json.loads(open(path).read() or "{}")
            except (OSError, json.JSONDecodeError):
                holder = {}
            if holder.get("host") == me["host"] and holder.get("pid") and not _pid_alive(int(holder["pid"])):
                os.remove(path)
                continue
            raise CorpusLocked(f"corpus {corpus} is locked by {holder or 'another run'}") from None
    try:
        yield
    finally:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def load_processed(corpus: str) -> dict[str, Any]:
    p = RF.processed_path(corpus)
    return json.loads(open(p).read()) if os.path.exists(p) else {"version": 0, "files": {}}


def new_files(landing: list[str], processed: dict[str, Any], min_age_seconds: float = 0.0) -> list[str]:
    """Files in the landing area not taken by a successful run (same path, size and mtime), old enough to be complete."""
    out = []
    for pattern in landing:
        for f in fs.list_files(pattern):
            st = os.stat(f)
            seen = processed["files"].get(f)
            if seen and seen["size"] == st.st_size and seen["mtime"] == st.st_mtime:
                continue
            if time.time() - st.st_mtime < min_age_seconds:
                continue
            out.append(f)
    return sorted(out)


def write_corpus_manifest(corpus: str, version: int, batch_dir: str, batch_manifest: dict[str, Any]) -> dict[str, Any]:
    current_path = RF.corpus_manifest_path(corpus)
    current = json.loads(open(current_path).read()) if os.path.exists(current_path) else {"batches": []}
    batches = [b for b in current["batches"] if b["version"] != version]
    last = batch_manifest["stages"][-1]
    batches.append({
        "version": version,
        "run_dir": os.path.relpath(batch_dir, corpus),
        "inputs": batch_manifest.get("inputs", []),
        "finished_at": now(),
        "docs": last["docs"]["kept"],
        "tokens": last["tokens"]["kept"],
        "funnel": [{"stage": s["name"], **s["docs"]} for s in batch_manifest["stages"]],
        "shards": [os.path.join(os.path.relpath(RF.documents_dir(batch_dir), corpus), s["file"]) for s in last["shards"]],
    })
    data = {
        "version": version,
        "updated_at": now(),
        "batches": batches,
        "shards": [s for b in batches for s in b["shards"]],
        "docs": sum(b["docs"] for b in batches),
        "tokens": sum(b["tokens"] for b in batches),
    }
    version_path = RF.corpus_manifest_path(corpus, version)
    os.makedirs(os.path.dirname(version_path), exist_ok=True)
    fs.write_text_atomic(version_path, json.dumps(data, indent=2) + "\n")
    fs.write_text_atomic(current_path, json.dumps(data, indent=2) + "\n")
    return data


@flow(name="curate-incremental", log_prints=True)
def curate_incremental(landing: list[str], corpus: str, config: str | None = None,
                       overrides: list[str] | None = None, min_age_seconds: float = 0.0) -> dict[str, Any]:
    """Curate the files that arrived in `landing` since the last successful run into `corpus`."""
    from flows.curate import curate

    logger = get_run_logger()
    corpus = os.path.abspath(corpus)
    try:
        lock = corpus_lock(corpus)
        lock.__enter__()
    except CorpusLocked as e:
        logger.warning("%s; nothing done", e)
        return {"status": "locked", "new_files": 0}
    try:
        processed = load_processed(corpus)
        files = new_files(landing, processed, min_age_seconds)
        if not files:
            logger.info("no new input files")
            return {"status": "idle", "new_files": 0, "version": processed["version"]}
        version = processed["version"] + 1
        batch_dir = RF.batch_dir(corpus, version)
        cfg = load_config(config, overrides)
        extra = list(overrides or [])
        if "dedup" in cfg.pipeline.stages and not cfg.dedup.index_dir:
            extra.append(f"dedup.index_dir={RF.index_dir(corpus)}")
        logger.info("batch v%04d: %d new files", version, len(files))
        result = curate(config=config, inputs=files, output=batch_dir, overrides=extra)
        batch_manifest = json.loads(open(RF.manifest_path(batch_dir)).read())
        corpus_manifest = write_corpus_manifest(corpus, version, batch_dir, batch_manifest)
        for f in files:
            st = os.stat(f)
            processed["files"][f] = {"size": st.st_size, "mtime": st.st_mtime, "version": version}
        processed["version"] = version
        fs.write_text_atomic(RF.processed_path(corpus), json.dumps(processed, indent=1) + "\n")
        return {"status": "done", "new_files": len(files), "version": version, "batch": batch_dir,
                "corpus_docs": corpus_manifest["docs"], "stages": result["stages"]}
    finally:
        lock.__exit__(None, None, None)
