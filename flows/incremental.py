"""Scheduled incremental curation: pick up input files that arrived since the last committed batch, curate
only them (deduplicated against the committed corpus through the dedup index) and commit them as the next
corpus version, exactly once (curation/io/corpus.py, docs/DESIGN.md#corpus-commits).

A failed batch commits nothing; the flow retries it (with backoff) and the next scheduled run retries it again,
resuming the batch's run folder where it stopped. The deployment allows one run at a time, and the corpus lock
refuses a second writer from anywhere else.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from curation.io.corpus import CorpusLocked, corpus_lock, curate_batch

__all__ = ["CorpusLocked", "corpus_lock", "curate_incremental"]


@flow(name="curate-incremental", log_prints=True, retries=2, retry_delay_seconds=30)
def curate_incremental(landing: list[str], corpus: str, config: str | None = None,
                       overrides: list[str] | None = None, min_age_seconds: float = 0.0) -> dict[str, Any]:
    """Curate the files that arrived in `landing` since the last committed batch into `corpus`."""
    from flows.curate import curate

    logger = get_run_logger()

    def run(config: str | None, inputs: list[str], output: str, extra: list[str]) -> dict[str, Any]:
        logger.info("batch %s: %d new files", output, len(inputs))
        return curate(config=config, inputs=inputs, output=output, overrides=extra)

    try:
        out = curate_batch(landing, corpus, config, overrides, min_age_seconds, run=run)
    except CorpusLocked as e:
        logger.warning("%s; nothing done", e)
        return {"status": "locked", "new_files": 0}
    if out["status"] == "idle":
        logger.info("no new input files")
        return out
    create_table_artifact([{"version": out["version"], "new files": out["new_files"], "corpus docs": out["corpus_docs"]}],
                          key="curation-corpus-commit", description=f"Committed {out['batch']}")
    return {**{k: v for k, v in out.items() if k != "result"}, "stages": out["result"]["stages"]}
