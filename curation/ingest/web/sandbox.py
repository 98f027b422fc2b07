"""A per-page time (and memory) limit for HTML extraction.

Extractors are C/C++ (resiliparse, lxml) and cannot be interrupted by Python signals, and some pages
make them run for minutes (trafilatura#704). So extraction runs in one long-lived worker process per
reader (`python -m curation.ingest.web.sandbox`, a plain subprocess: no multiprocessing start-method
or `__main__` re-import issues inside Spark's Python workers). The parent waits `timeout_s` for each
page; on a timeout it kills the worker (the page is quarantined as `extract_timeout`) and starts a
fresh one for the next page. The worker runs under an address-space limit, so a page that blows up
memory only kills the worker (`extract_error`). Overhead is one pipe round trip per page (~0.1 ms for
a 100 kB page). `timeout_s <= 0` extracts in-process with no limit (trusted input, bare benchmarks).
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from curation.ingest.web.extract import SCORED, Extraction, extract

STARTUP_TIMEOUT_S = 120.0
_LEN = struct.Struct("<Q")


class ExtractTimeout(Exception):
    pass


class ExtractFailed(Exception):
    pass


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    parts, have = [], 0
    while have < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ExtractTimeout("deadline passed")
        chunk = os.read(fd, min(n - have, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def _write_msg(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _serve() -> None:
    """Worker loop: requests on stdin, results on the original stdout; library prints go to stderr."""
    out_fd = os.dup(1)
    os.dup2(2, 1)
    in_fd = sys.stdin.fileno()
    limit = int(os.environ.get("CURATION_EXTRACT_MEMORY", "0") or 0)
    if limit > 0:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    while True:
        try:
            (size,) = _LEN.unpack(_read_exact(in_fd, _LEN.size, None))
            args = pickle.loads(_read_exact(in_fd, size, None))
        except EOFError:
            return
        started = time.perf_counter()
        try:
            out: Any = extract(*args)
            out.ms = (time.perf_counter() - started) * 1000.0
        except BaseException as e:  # report, keep serving
            out = ExtractFailed(f"{type(e).__name__}: {str(e)[:300]}")
        _write_msg(out_fd, out)


def choose_for_budget(scores: list[float | None], threshold: float, budget: float, credit: float
                      ) -> tuple[list[int], float]:
    """Indices of the pages to re-extract (highest signal first, above `threshold`) and the credit left.

    The credit grows by budget x pages per window and is spent one per re-extracted page; it is capped
    at four windows' worth so a long clean stretch cannot be followed by an unbounded burst. Pages that
    score 1 (nothing extracted from a large page) are always chosen, on credit.
    """
    credit += budget * len(scores)
    eligible = sorted(((s, i) for i, s in enumerate(scores) if s is not None and s > threshold), reverse=True)
    # A score of 1 means resiliparse found (almost) nothing on a large page: always worth a second try
    # (rare; it borrows from later windows' budget).
    must = sum(1 for s, _ in eligible if s >= 1.0) if budget > 0 else 0
    chosen = [i for _, i in eligible[:max(must, int(credit))]]
    credit -= len(chosen)
    return chosen, min(credit, budget * 4 * max(1, len(scores)))


class Extractor:
    """Callable per-page extraction with a time limit; use as a context manager to reap the worker."""

    def __init__(self, method: str, timeout_s: float, router_threshold: float, memory_limit: int = 4 << 30,
                 router_budget: float = 1.0):
        self.method = method
        self.timeout_s = timeout_s
        self.router_threshold = router_threshold
        self.router_budget = router_budget
        self.memory_limit = memory_limit
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._credit = 0.0

    def run_window(self, pages: list[tuple[str, str | None]]) -> list[Extraction | ExtractTimeout | ExtractFailed]:
        """Extract a window of pages; in router mode, spend the trafilatura budget on the worst-looking ones.

        Router: every page gets resiliparse and its signal; then the pages whose signal exceeds
        `router_threshold` are ranked and the top ones are re-extracted with trafilatura, as many as the
        budget allows (`router_budget` x pages, carried over between windows so small windows get their
        share). A page whose trafilatura output is empty or fails keeps the resiliparse text.
        """
        if self.method != "router":
            return list(self.map(pages))
        first = list(self.map(pages, SCORED))
        scores = [r.route_score if isinstance(r, Extraction) else None for r in first]
        chosen, self._credit = choose_for_budget(scores, self.router_threshold, self.router_budget, self._credit)
        for i, r in zip(chosen, self.map([pages[i] for i in chosen], "trafilatura"), strict=True):
            fast = first[i]
            if isinstance(r, Extraction) and r.text.strip() and isinstance(fast, Extraction):
                first[i] = Extraction(r.text, "trafilatura", fast.route_score, (fast.ms or 0.0) + (r.ms or 0.0))
        return first

    def _start(self) -> None:
        env = dict(os.environ)
        # The worker must import `curation` the way this process did: the source tree, an installed package
        # or a zip shipped with spark-submit --py-files; so it gets this process's whole import path.
        root = str(Path(__file__).resolve().parents[3])
        paths = [root, *(p for p in sys.path if p and os.path.exists(p))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["CURATION_EXTRACT_MEMORY"] = str(self.memory_limit)
        self._proc = subprocess.Popen([sys.executable, "-m", "curation.ingest.web.sandbox"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        # Warm-up: the worker's imports (trafilatura ~1 s) must not count against the first page's limit.
        self._roundtrip(("<html><body><p>warm up</p></body></html>", self.method, None, self.router_threshold),
                        STARTUP_TIMEOUT_S)

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass
            proc.kill()
            proc.wait(5)

    def _roundtrip(self, args: tuple, limit: float) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + limit
        try:
            _write_msg(proc.stdin.fileno(), args)
            (size,) = _LEN.unpack(_read_exact(proc.stdout.fileno(), _LEN.size, deadline))
            return pickle.loads(_read_exact(proc.stdout.fileno(), size, deadline))
        except ExtractTimeout:
            self._stop()
            self.restarts += 1
            raise ExtractTimeout(f"extraction took longer than {limit:g} s") from None
        except (EOFError, OSError, pickle.UnpicklingError) as e:
            code = proc.poll()
            self._stop()
            self.restarts += 1
            raise ExtractFailed(f"extractor process failed ({type(e).__name__}: {e}; exit code {code})") from None

    def __call__(self, html: str, url: str | None = None) -> Extraction:
        if self.timeout_s <= 0:
            return extract(html, self.method, url, self.router_threshold)
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            self._start()
        out = self._roundtrip((html, self.method, url, self.router_threshold), self.timeout_s)
        if isinstance(out, ExtractFailed):
            raise out
        return out

    def map(self, pages: Iterable[tuple[str, str | None]], method: str | None = None
            ) -> Iterator[Extraction | ExtractTimeout | ExtractFailed]:
        """Results in page order, with the pages pipelined to the worker.

        A writer thread streams the pages into the worker while this thread reads results, so the worker
        never idles between pages (and parent-side work overlaps extraction). Each page still gets its own
        time limit, counted from when its predecessor's result arrived. After a timeout or a crash the
        worker is replaced and the remaining pages are sent again.
        """
        todo = list(pages)
        method = method or self.method
        if self.timeout_s <= 0:
            for html, url in todo:
                started = time.perf_counter()
                try:
                    out = extract(html, method, url, self.router_threshold)
                    out.ms = (time.perf_counter() - started) * 1000.0
                    yield out
                except Exception as e:
                    yield ExtractFailed(f"{type(e).__name__}: {str(e)[:300]}")
            return
        while todo:
            if self._proc is None or self._proc.poll() is not None:
                self._stop()
                try:
                    self._start()
                except (ExtractTimeout, ExtractFailed) as e:
                    yield from (ExtractFailed(f"extractor process could not start: {e}") for _ in todo)
                    return
            proc = self._proc
            assert proc is not None and proc.stdin is not None and proc.stdout is not None
            fd_in, fd_out = proc.stdin.fileno(), proc.stdout.fileno()
            batch = todo

            def feed(batch: list[tuple[str, str | None]] = batch, fd: int = fd_in) -> None:
                try:
                    for html, url in batch:
                        _write_msg(fd, (html, method, url, self.router_threshold))
                except OSError:
                    pass  # the worker was killed: the reader side reports it

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            todo = []
            for i in range(len(batch)):
                try:
                    (size,) = _LEN.unpack(_read_exact(fd_out, _LEN.size, time.monotonic() + self.timeout_s))
                    out = pickle.loads(_read_exact(fd_out, size, time.monotonic() + self.timeout_s))
                except ExtractTimeout:
                    self._stop()
                    self.restarts += 1
                    yield ExtractTimeout(f"extraction took longer than {self.timeout_s:g} s")
                    todo = batch[i + 1:]
                    break
                except (EOFError, OSError, pickle.UnpicklingError) as e:
                    code = proc.poll()
                    self._stop()
                    self.restarts += 1
                    yield ExtractFailed(f"extractor process failed ({type(e).__name__}: {e}; exit code {code})")
                    todo = batch[i + 1:]
                    break
                yield out
            writer.join(5)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()


if __name__ == "__main__":
    _serve()
