"""Untrusted PDF work for the UI (page count, page text, page image) in a resource-limited child process.

Why: the PDFs the UI shows came from the web. Rendered in the server's own process, a 436-byte page of
200 x 200 inches took 5 GB and 10 s, and a 4 kB doubly compressed content stream made PDFium abort the
whole process. So every job runs as `python -m curation.ui.sandbox [LIMITS] JOB ARG...`:

- the child sets RLIMIT_AS (address space), RLIMIT_CPU and RLIMIT_CORE on itself before it reads the PDF
  (and Tesseract, which it may start, inherits them); the parent kills its process group after `wall_s`;
- the PDF goes in on stdin; the answer comes back as plain bytes on stdout: a decimal page count, UTF-8
  text, or PNG bytes, capped in size. Never a pickle: a child subverted by a PDF can only return wrong
  bytes, not code to run in the server;
- a failure of any kind is a `PdfWorkError` whose message says what happened, for the page to show;
- at most `SLOTS` children run at once, so a burst of requests cannot start unbounded work.
"""

from __future__ import annotations

import io
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

EXIT_FAILED = 3  # the job raised: the last stderr line is "error: <message>"
EXIT_MEMORY = 4  # the job raised MemoryError (RLIMIT_AS reached inside Python)
SLOTS = max(2, min(4, os.cpu_count() or 2))
_slots = threading.BoundedSemaphore(SLOTS)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_STDERR_KEEP = 16_384


@dataclass(frozen=True)
class Limits:
    """What one PDF job may use: address space (MiB), CPU seconds, wall seconds, output bytes, image size."""

    memory_mb: int = 1024
    cpu_s: int = 20
    wall_s: float = 30.0
    max_output: int = 64 * 1024 * 1024
    max_side_px: int = 4000  # a page image is scaled down to fit this (huge pages render small, not huge)

    def argv(self) -> list[str]:
        return ["--memory-mb", str(self.memory_mb), "--cpu-s", str(self.cpu_s), "--max-output", str(self.max_output)]


class PdfWorkError(Exception):
    """A PDF job that failed or went past its limits; the message is meant for the page.

    `brief` says the same without the exception's own text (which may name the parser: the blinded A/B
    view shows only this)."""

    def __init__(self, message: str, brief: str | None = None):
        super().__init__(message)
        self.brief = brief or message


# ---------------------------------------------------------------- parent side
def page_count(data: bytes, limits: Limits) -> int:
    """Number of pages of the PDF, counted in the sandbox."""
    out = run_job(["pages"], data, limits)
    try:
        return int(out.decode("ascii").strip())
    except ValueError:
        raise PdfWorkError("the page count came back malformed") from None


def page_text(parser: str, data: bytes, page: int, limits: Limits) -> str:
    """Text of 1-based `page` by parser `parser`, extracted in the sandbox."""
    return run_job(["text", parser, str(int(page))], data, limits).decode("utf-8", "replace")


def page_png(data: bytes, page: int, limits: Limits, dpi: int = 110) -> bytes:
    """PNG of 1-based `page`, rendered in the sandbox and scaled to fit `limits.max_side_px`."""
    out = run_job(["png", str(int(page)), str(int(dpi)), str(int(limits.max_side_px))], data, limits)
    if not out.startswith(b"\x89PNG\r\n\x1a\n"):
        raise PdfWorkError("the page image came back malformed")
    return out


def run_job(job: list[str], data: bytes, limits: Limits) -> bytes:
    """Run one job in a fresh child with `limits`; its stdout, or PdfWorkError saying why there is none."""
    if not _slots.acquire(timeout=limits.wall_s):
        raise PdfWorkError("the server is busy with other PDF pages; try again")
    try:
        return _run(job, data, limits)
    finally:
        _slots.release()


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATION_UI_")}  # no secrets in the child
    env["OMP_THREAD_LIMIT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def _run(job: list[str], data: bytes, limits: Limits) -> bytes:
    cmd = [sys.executable, "-m", "curation.ui.sandbox", *limits.argv(), *job]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_child_env(), start_new_session=True, close_fds=True)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feeder = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
    feeder.start()
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + limits.wall_s
    why: str | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map() and why is None:
            left = deadline - time.monotonic()
            if left <= 0:
                why = f"took longer than {limits.wall_s:g} s and was stopped"
                break
            for key, _ in sel.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf: bytearray = key.data
                buf += chunk
                if buf is out and len(out) > limits.max_output:
                    why = f"answered with more than {limits.max_output} bytes"
                elif buf is err and len(err) > _STDERR_KEEP:
                    del err[:-_STDERR_KEEP]
    if why is not None:
        _kill(proc)
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(proc)
        code = proc.wait()
        why = why or f"took longer than {limits.wall_s:g} s and was stopped"
    feeder.join(timeout=1)
    for f in (proc.stdin, proc.stdout, proc.stderr):
        f.close()
    if why is not None:
        raise PdfWorkError(why)
    if code == 0:
        return bytes(out)
    raise _explain(code, bytes(err), limits)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write the PDF to the child's stdin (a thread: the child may answer, or die, before reading it all)."""
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and whatever it started (Tesseract): it leads its own session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _explain(code: int, err: bytes, limits: Limits) -> PdfWorkError:
    """What a child's exit status (and last stderr line) means, as the error to show."""
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    if code == EXIT_FAILED and lines and lines[-1].startswith("error: "):
        message = lines[-1][len("error: "):][:300]
        return PdfWorkError(message, message.split(":", 1)[0])
    if code == EXIT_MEMORY:
        return PdfWorkError(f"needed more than {limits.memory_mb} MiB of memory and was stopped")
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return PdfWorkError(f"used more than {limits.cpu_s} s of CPU and was stopped")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return PdfWorkError(f"crashed ({name}); usually this PDF needs more than the {limits.memory_mb} MiB "
                            "of memory the renderer may use")
    return PdfWorkError(f"failed (exit status {code})")


# ---------------------------------------------------------------- child side
def _limit_self(memory_mb: int, cpu_s: int) -> None:
    """Cap this process (and its children) before any untrusted byte is read."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = cpu_s if hard == resource.RLIM_INFINITY else min(cpu_s, hard)
    new_hard = soft + 1 if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_CPU, (soft, new_hard))


def _parse_page(name: str, data: bytes, page: int) -> str:
    """Text of 1-based `page` by parser `name` (in the child only)."""
    from curation.stages.ingest.pdf.parsers import get_parser
    from curation.ui.pdf import parser_names

    if name not in parser_names():  # only registered names: never a `module:Class` import
        raise KeyError(f"unknown parser {name!r}")
    return "\n".join(get_parser(name).parse(data, pages=[page]))


def _page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def _render_png(data: bytes, page: int, dpi: int, max_side: int) -> bytes:
    """PNG of 1-based `page` at `dpi`, or smaller so that neither side exceeds `max_side` pixels."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page <= len(pdf):
            raise ValueError(f"page {page} out of range 1..{len(pdf)}")
        width, height = pdf[page - 1].get_size()
        longest = max(width, height, 1.0)
        scale = min(dpi / 72.0, max_side / longest)
        if scale < dpi / 72.0:
            print(f"page is {width:.0f} x {height:.0f} pt: rendered at scale {scale:.4g}", file=sys.stderr)
        buf = io.BytesIO()  # PDFium directly: the scale is a float (the ingest renderer takes whole dpi)
        pdf[page - 1].render(scale=scale).to_pil().convert("RGB").save(buf, format="PNG")
        return buf.getvalue()
    finally:
        pdf.close()


def _job(argv: list[str], data: bytes) -> bytes:
    job, args = argv[0], argv[1:]
    if job == "pages" and not args:
        return str(_page_count(data)).encode()
    if job == "text" and len(args) == 2:
        return _parse_page(args[0], data, int(args[1])).encode("utf-8", "replace")
    if job == "png" and len(args) == 3:
        return _render_png(data, int(args[0]), int(args[1]), int(args[2]))
    raise ValueError(f"unknown job {argv!r}")


def main(argv: list[str]) -> int:
    """The child: limit itself, read the PDF from stdin, write the answer's bytes to stdout."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m curation.ui.sandbox")
    p.add_argument("--memory-mb", type=int, required=True)
    p.add_argument("--cpu-s", type=int, required=True)
    p.add_argument("--max-output", type=int, required=True)
    p.add_argument("job", nargs="+")
    a = p.parse_args(argv)
    _limit_self(a.memory_mb, a.cpu_s)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the answer
    try:
        data = sys.stdin.buffer.read()
        answer = _job(a.job, data)
    except MemoryError:
        return EXIT_MEMORY
    except Exception as e:  # noqa: BLE001  (any failure is reported as a message, not a traceback)
        detail = " ".join(str(e).split())[:300]
        print(f"error: {type(e).__name__}: {detail}" if detail else f"error: {type(e).__name__}", file=sys.stderr)
        return EXIT_FAILED
    if len(answer) > a.max_output:
        print(f"error: the answer is larger than {a.max_output} bytes", file=sys.stderr)
        return EXIT_FAILED
    view = memoryview(answer)
    while view:
        view = view[os.write(out_fd, view):]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
