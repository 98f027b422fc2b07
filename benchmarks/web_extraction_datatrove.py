"""Peer run for benchmarks/web_extraction.py: datatrove's Trafilatura extractor, in its own venv.

Runs under /work/main/.bench/datatrove-venv/bin/python (datatrove pins trafilatura 1.x, which conflicts
with the main venv). Reads a JSON list of {"id", "html"} on stdin, runs datatrove's `Trafilatura` step
exactly as a datatrove pipeline does (`run()`: its defaults favour_precision=True, deduplicate=True and
its sandboxed worker process with a 1 s per-document timeout), and writes
{"texts": {id: text or null}, "seconds": extraction wall time, "version": ...} as JSON on stdout.

Build the venv when missing (what `web_extraction.py --build-peer` does):
    python3 -m venv .bench/datatrove-venv
    .bench/datatrove-venv/bin/pip install "datatrove[processing]" lxml_html_clean orjson
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import time


def _proc_cpu(pid: int) -> float:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> int:
    from importlib.metadata import version

    from datatrove.data import Document
    from datatrove.pipeline.extractors import Trafilatura

    pages = json.load(sys.stdin)
    docs = [Document(text=p["html"], id=p["id"]) for p in pages]
    step = Trafilatura()  # datatrove defaults (the FineWeb configuration)
    texts: dict[str, str | None] = {p["id"]: None for p in pages}
    started = [0.0, 0.0, 0.0]

    def feed():
        # A warm-up page first: the sandbox's start-up (imports) is not counted, as for our extractor.
        yield Document(text="<html><body><p>Warm up paragraph with a few words in it.</p></body></html>", id="_warm")
        started[0] = time.perf_counter()
        started[1] = time.process_time()
        started[2] = sum(_proc_cpu(p.pid) for p in multiprocessing.active_children())  # the sandbox so far
        yield from docs

    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for doc in step.run(feed()):
        if doc.id != "_warm":
            texts[doc.id] = doc.text
    seconds = time.perf_counter() - started[0]
    own = time.process_time() - started[1]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sandbox processes, reaped by now
    child = (ru.ru_utime + ru.ru_stime) - (children_before.ru_utime + children_before.ru_stime) - started[2]
    json.dump({"texts": texts, "seconds": seconds, "cpu_seconds": own + child,
               "version": f"datatrove {version('datatrove')}, trafilatura {version('trafilatura')}"}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
