"""The OpenAI-compatible HTTP backend against real loopback servers that misbehave, and the stage on Spark.

The servers here are real HTTP servers (http.server on 127.0.0.1) with a deterministic "rewriter" behind
them (docs/PAPERS.md 5c.3's mock rewriter), so retries, timeouts, garbage and a server that dies are exercised
over real sockets; test_rewrite_llama.py does the same with llama.cpp's own server and a real model.
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.stages.rewrite.backends import BackendUnavailable, Sampling
from curation.stages.rewrite.backends.http import OpenAIHTTPBackend
from curation.stages.rewrite.prompts import END, START, THINK_END, THINK_START


class FakeOpenAI:
    """mode: expand | garbage | slow | flaky (first `fail_first` answers are HTTP 503); die_after=N stops the
    server for good after N completions (later requests: connection refused)."""

    def __init__(self, mode: str = "expand", fail_first: int = 0, die_after: int | None = None, delay: float = 0.0):
        self.mode, self.fail_first, self.die_after, self.delay = mode, fail_first, die_after, delay
        self.requests = 0
        self.completions = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(200, json.dumps({"data": [{"id": "fake"}]}).encode())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests += 1
                    n = outer.requests
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                if n <= outer.fail_first:
                    return self._send(503, b'{"error": "overloaded"}')
                if outer.mode == "garbage":
                    return self._send(200, b"<html>definitely not json", "text/html")
                prompt = body["messages"][0]["content"]
                draft = prompt.split("Original Draft:\n", 1)[1].strip()
                text = f"{THINK_START} scratchpad-xyz {THINK_END}\n{START}\n{draft}\nIn other words: {draft[:60]}\n{END}"
                self._send(200, json.dumps({"choices": [{"message": {"role": "assistant", "content": text},
                                                         "finish_reason": "stop"}],
                                            "usage": {"prompt_tokens": len(prompt) // 4,
                                                      "completion_tokens": len(text) // 4}}).encode())
                with outer.lock:
                    outer.completions += 1
                    if outer.die_after is not None and outer.completions >= outer.die_after:
                        threading.Thread(target=outer.stop, daemon=True).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    servers = []

    def make(**kw):
        s = FakeOpenAI(**kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        try:
            s.stop()
        except OSError:
            pass


def _backend(url: str, **kw) -> OpenAIHTTPBackend:
    return OpenAIHTTPBackend(url, "fake", **{"concurrency": 4, "timeout_s": 5, "retries": 2, "backoff_s": 0.01, **kw})


def test_http_backend_rewrites_with_bounded_concurrency(fake):
    s = fake()
    gens = _backend(s.url).generate([f"Original Draft:\ndoc {i}" for i in range(10)], Sampling(max_tokens=16))
    assert [g.error for g in gens] == [None] * 10 and all(START in g.text for g in gens)
    assert gens[3].text.count("doc 3") == 2 and gens[0].completion_tokens > 0


def test_http_backend_retries_then_succeeds(fake):
    s = fake(fail_first=2)
    g = _backend(s.url, concurrency=1).generate(["Original Draft:\nx"], Sampling())[0]
    assert g.error is None and g.attempts == 3


def test_http_backend_garbage_and_timeouts_become_error_codes(fake):
    g = _backend(fake(mode="garbage").url).generate(["Original Draft:\nx"], Sampling())[0]
    assert g.error == "bad_response" and "not json" in g.detail
    g = _backend(fake(mode="slow", delay=1.5).url, timeout_s=0.3, retries=1).generate(["Original Draft:\nx"], Sampling())[0]
    assert g.error == "timeout" and g.attempts == 2


def test_unreachable_server_is_a_clear_error(fake):
    s = fake()
    s.stop()
    b = _backend(s.url, retries=1)
    with pytest.raises(BackendUnavailable, match="cannot reach the OpenAI-compatible server"):
        b.check()
    assert b.generate(["Original Draft:\nx"], Sampling())[0].error == "unreachable"


def _docs(n: int, seed: int = 0) -> pa.Table:
    import random

    rng = random.Random(seed)
    words = "river data model token filter crawl quality budget rewrite expert plan draft".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) + f" #{i}" for i in range(n)]
    ids = [f"d{i}" for i in range(n)]
    return pa.table({"doc_id": ids, "source_id": [f"s{i}" for i in range(n)], "source": ["t"] * n,
                     "source_type": ["jsonl"] * n, "text": texts,
                     "token_count": pa.array([len(t.split()) for t in texts], pa.int64()),
                     "quality_score": pa.array([rng.random() for _ in range(n)], pa.float64())})


def _run(spark, make_config, tmp_path, table, stages, **overrides):
    from curation.engine.runner import run_pipeline

    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    pq.write_table(table, src / "docs.parquet")
    cfg = make_config(**overrides)
    return run_pipeline(cfg, stages=stages, inputs=[str(src)], out_dir=str(tmp_path / "run"), spark=spark)


@pytest.mark.spark
def test_rewrite_stage_alone_selects_top_fraction_and_mixes_one_to_one(spark, tmp_path, make_config, fake):
    s = fake()
    n = 40
    m = _run(spark, make_config, tmp_path, _docs(n), ["rewrite"], **{
        "rewrite.backend": "http", "rewrite.http.base_url": s.url, "rewrite.http.concurrency": 4,
        "rewrite.prompt": "rewire", "rewrite.http.model": "fake"})
    st = m["stages"][-1]
    assert s.completions == n  # every pool document was sent (no pre-filter)
    assert st["docs"]["in"] == 2 * n == st["docs"]["kept"] + st["docs"]["dropped"] + st["docs"]["quarantined"]
    rep = st["extra"]["rewrite"]
    assert rep["valid"] == n and rep["valid_rate"] == 1.0 and rep["selected"] == math.ceil(0.1 * n)
    out = pq.read_table(tmp_path / "run" / "documents").to_pylist()
    rewrites = [r for r in out if r["source_type"] == "rewrite"]
    raw = [r for r in out if r["source_type"] != "rewrite"]
    assert len(raw) == n and len(rewrites) == 4
    w_raw = sum(r["mix_weight"] * r["token_count"] for r in raw)
    w_rw = sum(r["mix_weight"] * r["token_count"] for r in rewrites)
    assert abs(w_raw - w_rw) / (w_raw + w_rw) < 0.01
    rejected = pq.read_table(tmp_path / "run" / st["rejected"]).to_pylist()
    assert {r["reason"] for r in rejected} == {"rewrite_not_selected"}
    cut = min(r["rewrite_score"] for r in rewrites)
    assert all(r["rewrite_score"] <= cut for r in rejected)
    for r in rewrites:
        assert r["rewrite_model"] == "fake" and r["rewrite_prompt_version"].startswith("rewire-v1")
        assert json.loads(r["rewrite_sampling"]) == {"max_tokens": 512, "seed": 0, "temperature": 1.0, "top_p": 0.9}
        assert START not in r["text"] and "scratchpad-xyz" not in r["text"]
    ledger = pq.read_table(tmp_path / "run" / "ledger").to_pylist()
    assert {r["related_id"] for r in ledger if r["doc_id"] in {x["doc_id"] for x in rewrites}} <= {f"s{i}" for i in range(n)}
    assert rep["spearman_source_vs_rewrite_score"] is None or -1 <= rep["spearman_source_vs_rewrite_score"] <= 1
    assert m["models"]["rewrite_postfilter"]["sha256"]


@pytest.mark.spark
def test_server_dying_mid_run_loses_no_document(spark, tmp_path, make_config, fake):
    s = fake(die_after=5)
    n = 12
    m = _run(spark, make_config, tmp_path, _docs(n, seed=1), ["rewrite"], **{
        "rewrite.backend": "http", "rewrite.http.base_url": s.url, "rewrite.http.concurrency": 1,
        "rewrite.http.retries": 1, "rewrite.http.backoff_s": 0.01, "rewrite.http.timeout_s": 5})
    st = m["stages"][-1]
    assert st["docs"]["in"] == 2 * n == st["docs"]["kept"] + st["docs"]["dropped"]
    rep = st["extra"]["rewrite"]
    errors = {k: v for k, v in rep["outcomes"].items() if k.startswith("backend_error:")}
    # requests racing the shutdown may still be answered or time out; none may vanish
    assert 5 <= rep["valid"] <= 6 and rep["valid"] + sum(errors.values()) == n
    assert set(errors) <= {"backend_error:unreachable", "backend_error:timeout"} and errors


@pytest.mark.spark
def test_select_then_rewrite_reads_the_recycling_pool(spark, tmp_path, make_config, fake):
    s = fake()
    t = _docs(60, seed=2)
    m = _run(spark, make_config, tmp_path, t, ["select", "rewrite"], **{
        "select.budget_tokens": int(sum(t["token_count"].to_pylist()) * 0.35), "select.histogram_bins": 1000,
        "rewrite.backend": "http", "rewrite.http.base_url": s.url, "rewrite.keep_fraction": 0.5})
    sel, rw = m["stages"][-2], m["stages"][-1]
    rejected = pq.read_table(tmp_path / "run" / sel["rejected"]).to_pylist()
    pool = {r["source_id"] for r in rejected if r["recycle"]}
    assert pool and rw["extra"]["rewrite"]["pool_docs"] == len(pool) == s.completions
    assert rw["extra"]["rewrite"]["pool"].startswith("select")
    assert rw["docs"]["in"] == sel["docs"]["kept"] + len(pool)
    out = pq.read_table(tmp_path / "run" / "documents").to_pylist()
    rewrites = [r for r in out if r["source_type"] == "rewrite"]
    assert len(rewrites) == math.ceil(0.5 * len(pool))
    assert {r["source_id"].rsplit(":", 1)[-1] for r in rewrites} <= pool
    assert rw["extra"]["rewrite"]["selected_from_raw_kept"] == 0.0  # recycled from discarded documents only


@pytest.mark.spark
def test_generation_budget_limits_attempts(spark, tmp_path, make_config, fake):
    s = fake()
    t = _docs(30, seed=3)
    budget = 200  # new tokens; each document is expected to cost 2 x its tokens
    m = _run(spark, make_config, tmp_path, t, ["rewrite"], **{
        "rewrite.backend": "http", "rewrite.http.base_url": s.url, "rewrite.budget_tokens": budget})
    rep = m["stages"][-1]["extra"]["rewrite"]
    assert 0 < rep["attempted"] < 30 and rep["skipped_for_budget"] == 30 - rep["attempted"]
    assert rep["budget_planned_tokens"] <= budget
    scores = sorted(t["quality_score"].to_pylist(), reverse=True)
    assert s.completions == rep["attempted"]
    assert rep["budget_cut_score"] <= scores[rep["attempted"] - 1]
