"""A per-page time (and memory) limit for HTML extraction, in one long-lived worker process per reader.

Each page may use `timeout_s` of the worker's CPU time (RLIMIT_CPU) and `WALL_FACTOR` x `timeout_s` of
wall-clock time; past either it is quarantined as `extract_timeout` (a page that kills the worker:
`extract_error`) and a fresh worker takes the next page. `timeout_s <= 0` extracts in-process with no limit.
Design (why CPU time, the shared-memory protocol): docs/DESIGN.md#extraction-sandbox
"""

from __future__ import annotations

import math
import mmap
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from curation.stages.ingest.web.extract import SCORED, Extraction, decode_page, extract

STARTUP_TIMEOUT_S = 120.0
WALL_FACTOR = 3.0
"""A page is stopped after timeout_s of the worker's CPU time, or after WALL_FACTOR x timeout_s of wall-clock
time (a page that waits without computing, or a machine so loaded that the worker barely runs)."""
PIPE_BYTES = 1 << 20
READ_CHUNK = 1 << 20
SHARED_BYTES = 32 << 20
"""Shared page area per worker: a reader window (16 MiB) plus a large page; only touched pages cost memory."""

METHODS = ("resiliparse", "trafilatura", SCORED, "router")
EXTRACTOR_NAMES = ("resiliparse", "trafilatura")
CHARSET_SOURCES = ("", "bom", "http", "meta", "utf8", "detected")

# request: method, is_bytes (1: record bytes to decode; 0: UTF-8 of a str), in shared memory (1) or inline (0),
#          router threshold, CPU seconds allowed (0: no limit), offset in the shared area, page length,
#          URL length, HTTP charset length
_REQ = struct.Struct("<BBBddQIHH")
# result: ok (1) / failed (0), extractor, route score (NaN: none), ms, text length, codec length, charset source
_RES = struct.Struct("<BBddIHB")

Page = tuple[str | bytes, str | None] | tuple[str | bytes, str | None, str | None]
"""(html, url) or (html, url, http_charset); html is a decoded str or the record's raw bytes."""


class ExtractTimeout(Exception):
    pass


class ExtractFailed(Exception):
    pass


def _enc(s: str | None, limit: int = 0xFFFF) -> bytes:
    return s.encode("utf-8", "surrogatepass")[:limit] if s else b""


def _extract_page(html: str | bytes | memoryview, http_charset: str | None, method: str, url: str | None,
                  threshold: float) -> Extraction:
    text, codec, source = decode_page(html, http_charset)
    started = time.perf_counter()
    out = extract(text, method, url, threshold)
    out.ms = (time.perf_counter() - started) * 1000.0
    out.charset, out.charset_source = codec, source
    return out


def _result(out: Extraction | Exception) -> bytes:
    if isinstance(out, Exception):
        text = str(out) if isinstance(out, ExtractFailed) else f"{type(out).__name__}: {out}"
        msg = text[:400].encode("utf-8", "replace")
        return _RES.pack(0, 0, math.nan, 0.0, len(msg), 0, 0) + msg
    text = out.text.encode("utf-8", "surrogatepass")
    codec = _enc(out.charset, 255)
    score = math.nan if out.route_score is None else out.route_score
    return b"".join((_RES.pack(1, EXTRACTOR_NAMES.index(out.extractor), score, out.ms or 0.0, len(text), len(codec),
                               CHARSET_SOURCES.index(out.charset_source or "")), text, codec))


def _parse_result(head: tuple, payload: memoryview) -> Extraction | ExtractFailed:
    ok, extractor, score, ms, n_text, _, source = head
    text = str(payload[:n_text], "utf-8", "surrogatepass")
    if not ok:
        return ExtractFailed(text)
    return Extraction(text, EXTRACTOR_NAMES[extractor], None if math.isnan(score) else score, ms,
                      str(payload[n_text:], "ascii", "replace") or None, CHARSET_SOURCES[source] or None)


def _widen(fd: int) -> int:
    """Ask for a 1 MiB pipe (Linux): inline pages then go out in a few writes. Returns the pipe's size."""
    try:
        import fcntl

        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]
        except OSError:
            pass  # over the user's pipe quota: keep the default size
        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        return 1 << 16


def _shared_area(size: int) -> tuple[int, mmap.mmap] | None:
    """A memfd of `size` bytes mapped here (the worker inherits the fd); None where memfd is missing."""
    try:
        fd = os.memfd_create("curation-extract-pages")
    except (AttributeError, OSError):
        return None
    try:
        os.ftruncate(fd, size)  # sparse: pages cost memory once touched
        return fd, mmap.mmap(fd, size)
    except (OSError, ValueError):
        os.close(fd)
        return None


def _serve() -> None:
    """Worker loop: requests on stdin, results on the original stdout; library prints go to stderr."""
    out_fd = os.dup(1)
    os.dup2(2, 1)
    shared: memoryview | None = None
    if os.environ.get("CURATION_EXTRACT_SHM"):  # "fd:size"
        shm_fd, size = map(int, os.environ["CURATION_EXTRACT_SHM"].split(":"))
        shared = memoryview(mmap.mmap(shm_fd, size, prot=mmap.PROT_READ))
    limit = int(os.environ.get("CURATION_EXTRACT_MEMORY", "0") or 0)
    resource = None
    cpu_hard = -1
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a page stopped by SIGXCPU leaves no core file
        cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if limit > 0:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    cpu_limited = False
    stdin = os.fdopen(sys.stdin.fileno(), "rb", buffering=PIPE_BYTES)
    while True:
        head = stdin.read(_REQ.size)
        if len(head) < _REQ.size:
            return
        method, raw, in_shared, threshold, cpu_limit, offset, n_body, n_url, n_charset = _REQ.unpack(head)
        n_tail = n_url + n_charset + (0 if in_shared else n_body)
        data = stdin.read(n_tail)
        if len(data) < n_tail:
            return
        view = memoryview(data)
        if in_shared and shared is not None:
            page, tail = shared[offset:offset + n_body], view
        else:
            page, tail = view[:n_body], view[n_body:]
        url = str(tail[:n_url], "utf-8", "replace") or None  # a hint for trafilatura only; may be cut at 64 kB
        charset = str(tail[n_url:], "utf-8", "replace") or None
        if resource is not None and (cpu_limit > 0 or cpu_limited):
            # This page may use `cpu_limit` more CPU seconds (whole seconds: RLIMIT_CPU's unit); then the kernel
            # stops the worker with SIGXCPU, which the parent reports as extract_timeout. 0: no limit.
            soft = cpu_hard
            if cpu_limit > 0:
                used = resource.getrusage(resource.RUSAGE_SELF)
                soft = math.ceil(used.ru_utime + used.ru_stime + cpu_limit)
            try:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))
                cpu_limited = cpu_limit > 0
            except (ValueError, OSError):
                pass
        try:
            # Decoded in place from the shared page (record bytes: after charset detection).
            html: str | memoryview = page if raw else str(page, "utf-8", "surrogatepass")
            res = _result(_extract_page(html, charset, METHODS[method], url, threshold))
        except BaseException as e:  # report, keep serving
            res = _result(ExtractFailed(f"{type(e).__name__}: {str(e)[:300]}"))
        page.release()
        mv = memoryview(res)
        while mv:
            mv = mv[os.write(out_fd, mv):]


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
                 router_budget: float = 1.0, shared_bytes: int = SHARED_BYTES, wall_factor: float = WALL_FACTOR):
        if method not in METHODS:
            raise ValueError(f"unknown extractor {method!r} (known: resiliparse, trafilatura, router)")
        self.method = method
        self.timeout_s = timeout_s
        self.router_threshold = router_threshold
        self.router_budget = router_budget
        self.memory_limit = memory_limit
        self.shared_bytes = shared_bytes
        self.wall_factor = wall_factor
        """Size of the shared page area (0: every page goes inline through the pipe)."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._pipe_bytes = 1 << 16
        self._shared: tuple[int, mmap.mmap] | None = None
        self._shared_at = 0
        self.restarts = 0
        self._credit = 0.0

    def run_window(self, pages: Sequence[Page]) -> list[Extraction | ExtractTimeout | ExtractFailed]:
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
                first[i] = Extraction(r.text, "trafilatura", fast.route_score, (fast.ms or 0.0) + (r.ms or 0.0),
                                      fast.charset, fast.charset_source)
        return first

    # -- the worker process -----------------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ)
        # The worker must import `curation` the way this process did: the source tree, an installed package
        # or a zip shipped with spark-submit --py-files; so it gets this process's whole import path.
        root = str(Path(__file__).resolve().parents[4])
        paths = [root, *(p for p in sys.path if p and os.path.exists(p))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["CURATION_EXTRACT_MEMORY"] = str(self.memory_limit)
        if self._shared is None and self.shared_bytes > 0:
            self._shared = _shared_area(self.shared_bytes)
        fds: tuple[int, ...] = ()
        if self._shared is not None:
            fds = (self._shared[0],)
            env["CURATION_EXTRACT_SHM"] = f"{self._shared[0]}:{len(self._shared[1])}"
        self._proc = subprocess.Popen([sys.executable, "-m", "curation.stages.ingest.web.sandbox"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, pass_fds=fds)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._pipe_bytes = _widen(self._proc.stdin.fileno())
        _widen(self._proc.stdout.fileno())
        os.set_blocking(self._proc.stdin.fileno(), False)
        # Warm-up: the worker's imports (trafilatura ~1 s) must not count against the first page's limit.
        warm = next(self._stream([("<html><body><p>warm up</p></body></html>", None)], self.method, STARTUP_TIMEOUT_S,
                                 cpu_s=0.0))
        if not isinstance(warm, Extraction):
            self._stop()
            raise ExtractFailed(f"extractor process could not start: {warm}")

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

    def close(self) -> None:
        """Stop the worker and release the shared page area."""
        self._stop()
        shared, self._shared = self._shared, None
        if shared is not None:
            shared[1].close()
            os.close(shared[0])

    def _request(self, page: Page, method: str, idle: bool, cpu_s: float) -> list[bytes] | None:
        """The request's parts (header, [inline page], URL + charset), or None: wait for results first.

        The page goes into the shared area when it fits behind the pages in flight (`idle`: none are, so
        the area restarts at 0); a page larger than the whole area goes inline through the pipe.
        """
        html = page[0]
        raw = isinstance(html, bytes | bytearray | memoryview)
        body = bytes(html) if raw else html.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
        url, charset = _enc(page[1]), _enc(page[2] if len(page) > 2 else None, 255)  # type: ignore[misc]
        n = len(body)
        shared = self._shared
        if shared is not None and n <= len(shared[1]):
            if idle:
                self._shared_at = 0
            at = self._shared_at
            if at + n > len(shared[1]):
                return None
            shared[1][at:at + n] = body
            self._shared_at = at + n
            return [_REQ.pack(METHODS.index(method), raw, 1, self.router_threshold, cpu_s, at, n, len(url),
                              len(charset)), url + charset]
        if not idle and n > self._pipe_bytes:
            return None  # a page that only fits the pipe alone
        return [_REQ.pack(METHODS.index(method), raw, 0, self.router_threshold, cpu_s, 0, n, len(url), len(charset)),
                body, url + charset]

    def _stream(self, pages: Sequence[Page], method: str, limit: float, cpu_s: float
                ) -> Iterator[Extraction | ExtractTimeout | ExtractFailed]:
        """Send `pages` to the running worker and yield their results in order, until done or the worker is lost.

        One thread: it writes every request that has room (shared area, pipe), then sleeps until results
        arrive. Each page gets `cpu_s` seconds of the worker's CPU (enforced in the worker with RLIMIT_CPU:
        the kernel stops it with SIGXCPU) and `limit` wall-clock seconds, counted from when its
        predecessor's result arrived. A timeout or a dead worker ends the stream with an ExtractTimeout /
        ExtractFailed for the first unanswered page (the worker is stopped; the caller restarts it for the
        rest).
        """
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        fd_in, fd_out = proc.stdin.fileno(), proc.stdout.fileno()
        n, sent, done = len(pages), 0, 0
        buf = bytearray()
        deadline = time.monotonic() + limit
        while done < n:
            while sent < n:
                req = self._request(pages[sent], method, sent == done, cpu_s)
                if req is None:
                    break
                try:
                    if not self._write_all(fd_in, req, deadline):
                        self._lost()
                        yield ExtractTimeout(f"extraction took longer than {limit:g} s (wall clock)")
                        return
                except OSError:  # the worker is gone: read what it answered, then its EOF ends the stream
                    sent = n
                    break
                sent += 1
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_out], [], [], left)[0]:
                self._lost()
                yield ExtractTimeout(f"extraction took longer than {limit:g} s (wall clock)")
                return
            try:
                chunk = os.read(fd_out, READ_CHUNK)
            except OSError as e:
                yield self._failed(e)
                return
            if not chunk:
                yield self._failed(EOFError("pipe closed"))
                return
            buf += chunk
            view, at = memoryview(buf), 0
            while len(view) - at >= _RES.size:
                head = _RES.unpack_from(view, at)
                end = at + _RES.size + head[4] + head[5]
                if len(view) < end:
                    break
                out = _parse_result(head, view[at + _RES.size:end])
                at = end
                done += 1
                yield out
            view.release()
            if at:
                del buf[:at]
                deadline = time.monotonic() + limit

    @staticmethod
    def _write_all(fd: int, parts: list[bytes], deadline: float) -> bool:
        """Write all `parts` to the non-blocking pipe; False when the worker stops reading until `deadline`."""
        views = [memoryview(p) for p in parts if p]
        while views:
            try:
                k = os.writev(fd, views)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    return False
                continue
            while k:
                if k >= len(views[0]):
                    k -= len(views.pop(0))
                else:
                    views[0], k = views[0][k:], 0
        return True

    def _lost(self) -> None:
        self._stop()
        self.restarts += 1

    def _failed(self, e: BaseException) -> ExtractFailed | ExtractTimeout:
        """The worker is gone: a CPU-limit kill (SIGXCPU) is a timeout, anything else a failure."""
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(5)  # its pipe closed: it is exiting
            except subprocess.TimeoutExpired:
                pass
        self._lost()
        if code == -signal.SIGXCPU:
            return ExtractTimeout(f"extraction used more than {self.timeout_s:g} s of CPU")
        return ExtractFailed(f"extractor process failed ({type(e).__name__}: {e}; exit code {code})")

    # -- public -----------------------------------------------------------------------------------
    def __call__(self, html: str | bytes, url: str | None = None, http_charset: str | None = None) -> Extraction:
        out = next(self.map([(html, url, http_charset)]))
        if isinstance(out, Exception):
            raise out
        return out

    def map(self, pages: Iterable[Page], method: str | None = None
            ) -> Iterator[Extraction | ExtractTimeout | ExtractFailed]:
        """Results in page order, one per page: an Extraction, or the ExtractTimeout / ExtractFailed for it.

        The pages are pipelined to the worker; after a timeout or a crash the worker is replaced and the
        pages after the failed one are sent again.
        """
        todo = list(pages)
        method = method or self.method
        if self.timeout_s <= 0:
            for page in todo:
                try:
                    yield _extract_page(page[0], page[2] if len(page) > 2 else None, method,  # type: ignore[misc]
                                        page[1], self.router_threshold)
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
            sent, todo, got = todo, [], 0
            for out in self._stream(sent, method, self.timeout_s * self.wall_factor, self.timeout_s):
                got += 1
                yield out
                if isinstance(out, ExtractTimeout) or (isinstance(out, ExtractFailed) and self._proc is None):
                    todo = sent[got:]
                    break

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _serve()
